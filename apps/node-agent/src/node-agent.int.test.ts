import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OverlayJob } from '@reaper-flow/domain';
import { REAPER_API_VERSION, Resources } from '@reaper-flow/k8s';
import { createRedis, OverlayNodeQueues, type RedisClient } from '@reaper-flow/queue';
import { type Config, ConfigSchema, createLogger, createMetrics } from '@reaper-flow/runtime';
import { testEnv, uniqueNodeName, useTestNamespace, waitFor } from '@reaper-flow/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NodeAgent, startNodeAgent } from './agent';
import { overlayPaths } from './overlay-layout';

interface NodeEntry {
  nodeName: string;
  ready: boolean;
  resetGeneration?: number;
  lastResetTime?: string;
  message?: string;
  cleaned?: boolean;
}
interface OverlayObject {
  metadata: { uid: string; name: string; namespace: string; deletionTimestamp?: string };
  status?: { nodes?: NodeEntry[] };
}

const HOLD_FINALIZER = 'reaper.io/test-hold';
const ns = useTestNamespace('node-agent');
const logger = createLogger('node-agent-int', process.env.LOG_LEVEL ?? 'silent');
const metrics = createMetrics('node-agent');

let base: string;
let config: Config;
let producer: RedisClient;
let queues: OverlayNodeQueues;
const running: NodeAgent[] = [];
const usedNodes: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'node-agent-int-'));
  config = ConfigSchema.parse({
    redis: { url: testEnv().redisUrl, prefix: ns.queuePrefix },
    queues: { concurrency: { overlayNode: 2 } },
  });
  producer = createRedis(config.redis, 'producer');
  queues = new OverlayNodeQueues(producer, {
    prefix: config.redis.prefix,
    retention: { removeOnComplete: 100, removeOnFail: 100 },
    attempts: 3,
    backoffMs: 200,
  });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

afterAll(async () => {
  for (const node of usedNodes) await queues.queueFor(node).obliterate({ force: true });
  await queues.close();
  await producer.quit();
  await rm(base, { recursive: true, force: true });
});

/** Starts an agent for a new node with a state dir of its own. */
async function startAgent(
  stopTimeoutMs?: number,
): Promise<{ agent: NodeAgent; nodeName: string; stateDir: string }> {
  const nodeName = uniqueNodeName('agent');
  const stateDir = join(base, nodeName);
  usedNodes.push(nodeName);
  const agent = await startNodeAgent({
    config,
    kube: ns.client,
    logger,
    metrics,
    nodeName,
    stateDir,
    stopTimeoutMs,
  });
  running.push(agent);
  return { agent, nodeName, stateDir };
}

async function createOverlay(name: string, finalizers: string[] = []): Promise<OverlayObject> {
  return ns.client.create<OverlayObject>(
    Resources.reaperOverlays,
    {
      apiVersion: REAPER_API_VERSION,
      kind: 'ReaperOverlay',
      metadata: { name, namespace: ns.namespace, finalizers },
      spec: { resetPolicy: 'Manual', resetGeneration: 0 },
    },
    { namespace: ns.namespace },
  );
}

async function nodeEntries(name: string): Promise<NodeEntry[]> {
  const obj = await ns.client.get<OverlayObject>(Resources.reaperOverlays, name, { namespace: ns.namespace });
  return obj?.status?.nodes ?? [];
}

async function entryOf(name: string, nodeName: string): Promise<NodeEntry | undefined> {
  return (await nodeEntries(name)).find((e) => e.nodeName === nodeName);
}

function job(overlay: OverlayObject, op: OverlayJob['op'], generation = 0, requestId = `gen-${generation}`) {
  return {
    op,
    namespace: overlay.metadata.namespace,
    name: overlay.metadata.name,
    uid: overlay.metadata.uid,
    generation,
    requestId,
  } satisfies OverlayJob;
}

describe('node agent against the API server and Redis', () => {
  it('20 agents reporting at once lose no entry', { timeout: 90_000 }, async () => {
    const overlay = await createOverlay('shared');
    const agents = await Promise.all(Array.from({ length: 20 }, () => startAgent()));
    expect(agents.every((a) => a.agent.ready() === true)).toBe(true);
    await Promise.all(agents.map((a) => queues.enqueue(a.nodeName, job(overlay, 'ensure'))));

    const entries = await waitFor(
      async () => {
        const nodes = await nodeEntries('shared');
        return nodes.length === 20 && nodes.every((n) => n.ready) ? nodes : undefined;
      },
      { description: 'status.nodes with 20 ready entries', timeoutMs: 60_000 },
    );
    expect(entries.map((e) => e.nodeName).sort()).toEqual(agents.map((a) => a.nodeName).sort());
    expect(entries.every((e) => e.resetGeneration === 0)).toBe(true);
    for (const a of agents) {
      const p = overlayPaths(a.stateDir, ns.namespace, 'shared');
      expect(existsSync(p.upperDir) && existsSync(p.workDir) && existsSync(p.mergedDir)).toBe(true);
    }
  });

  it("a reset clears the node's overlay dir and reports the generation", { timeout: 60_000 }, async () => {
    const overlay = await createOverlay('resettable');
    const { nodeName, stateDir } = await startAgent();
    await queues.enqueue(nodeName, job(overlay, 'ensure'));
    await waitFor(async () => (await entryOf('resettable', nodeName))?.ready, {
      description: 'the node entry ready after ensure',
      timeoutMs: 30_000,
    });
    const p = overlayPaths(stateDir, ns.namespace, 'resettable');
    await writeFile(join(p.upperDir, 'installed-by-a-job'), 'data');
    await mkdir(join(stateDir, 'ns'), { recursive: true });
    const helper = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(helper);
    const helperExited = once(helper, 'exit');
    await writeFile(p.helperPidFile, String(helper.pid));
    await ns.client.patch(
      Resources.reaperOverlays,
      'resettable',
      'merge',
      { spec: { resetGeneration: 1 } },
      { namespace: ns.namespace },
    );

    await queues.enqueue(nodeName, job(overlay, 'reset', 1));
    const entry = await waitFor(
      async () => {
        const e = await entryOf('resettable', nodeName);
        return e?.resetGeneration === 1 ? e : undefined;
      },
      { description: 'the node entry at resetGeneration 1', timeoutMs: 30_000 },
    );
    expect(entry.ready).toBe(true);
    expect(Date.parse(entry.lastResetTime ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(await readdir(p.upperDir)).toEqual([]);
    expect(await readdir(p.workDir)).toEqual([]);
    await helperExited;
    expect(existsSync(p.helperPidFile)).toBe(false);
  });

  it('delete cleans the state dir and reports cleaned', { timeout: 60_000 }, async () => {
    const overlay = await createOverlay('doomed', [HOLD_FINALIZER]);
    const { nodeName, stateDir } = await startAgent();
    await queues.enqueue(nodeName, job(overlay, 'ensure'));
    await waitFor(async () => (await entryOf('doomed', nodeName))?.ready, {
      description: 'the node entry ready after ensure',
      timeoutMs: 30_000,
    });
    const p = overlayPaths(stateDir, ns.namespace, 'doomed');
    await writeFile(join(p.upperDir, 'data'), 'x');
    await mkdir(join(stateDir, 'ns'), { recursive: true });
    await writeFile(p.nsFile, '');

    // As in production: the object is being deleted, held by a finalizer until every node is clean.
    await ns.client.delete(Resources.reaperOverlays, 'doomed', { namespace: ns.namespace });
    await queues.enqueue(nodeName, job(overlay, 'delete'));
    const entry = await waitFor(
      async () => {
        const e = await entryOf('doomed', nodeName);
        return e?.cleaned ? e : undefined;
      },
      { description: 'the node entry cleaned', timeoutMs: 30_000 },
    );
    expect(entry).toMatchObject({ ready: false, cleaned: true, message: 'overlay data removed' });
    for (const path of [p.overlayDir, p.mergedDir, p.nsFile, p.helperPidFile, p.lockFile]) {
      expect(existsSync(path)).toBe(false);
    }

    await ns.client.patch(
      Resources.reaperOverlays,
      'doomed',
      'merge',
      { metadata: { finalizers: null } },
      { namespace: ns.namespace },
    );
    await waitFor(
      async () =>
        (await ns.client.get(Resources.reaperOverlays, 'doomed', { namespace: ns.namespace })) === undefined,
      {
        description: 'the ReaperOverlay gone once its finalizer is removed',
        timeoutMs: 30_000,
      },
    );
  });

  it('an ensure for an overlay that no longer exists creates nothing and reports nothing', {
    timeout: 60_000,
  }, async () => {
    const overlay = await createOverlay('ephemeral');
    await ns.client.delete(Resources.reaperOverlays, 'ephemeral', { namespace: ns.namespace });
    const { nodeName, stateDir } = await startAgent();
    await queues.enqueue(nodeName, job(overlay, 'ensure'));
    const queue = queues.queueFor(nodeName);
    const state = await waitFor(
      async () => {
        const jobs = await queue.getJobs(['completed', 'failed']);
        return jobs[0] ? { state: await jobs[0].getState(), value: jobs[0].returnvalue } : undefined;
      },
      { description: 'the ensure job finished', timeoutMs: 30_000 },
    );
    expect(state).toEqual({
      state: 'completed',
      value: expect.objectContaining({ result: 'skipped', reported: false }),
    });
    expect(existsSync(overlayPaths(stateDir, ns.namespace, 'ephemeral').overlayDir)).toBe(false);
    expect(
      await ns.client.get(Resources.reaperOverlays, 'ephemeral', { namespace: ns.namespace }),
    ).toBeUndefined();
  });

  it('stopping is bounded: a job waiting for the overlay lock is aborted and retried later', {
    timeout: 60_000,
  }, async () => {
    const overlay = await createOverlay('contended');
    const { agent, nodeName, stateDir } = await startAgent(500);
    const p = overlayPaths(stateDir, ns.namespace, 'contended');
    // A live holder (a runtime starting a workload, say) keeps the lock: the reset waits for it.
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(holder);
    await writeFile(p.lockFile, JSON.stringify({ pid: holder.pid }));
    await queues.enqueue(nodeName, job(overlay, 'reset', 1));
    const queue = queues.queueFor(nodeName);
    await waitFor(async () => (await queue.getActiveCount()) === 1, {
      description: 'the reset job active',
      timeoutMs: 30_000,
    });
    const started = Date.now();
    await agent.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(agent.ready()).toBe('stopping');
    // Aborted, not abandoned: the job went back to Redis for a later attempt, the reset never ran.
    expect(await queue.getActiveCount()).toBe(0);
    expect(await queue.getDelayedCount()).toBe(1);
    expect(existsSync(join(p.upperDir))).toBe(false);
  });
});
