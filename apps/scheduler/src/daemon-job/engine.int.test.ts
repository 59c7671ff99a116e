// The DaemonJob engine's middle layer: its reconcile and its node-run step against the real API
// server and real Redis, without the watcher. The test plays the watcher's part by hand: it writes
// the job and a Node into the world (this file's own prefix, so the Node exists nowhere else),
// calls the module's reconcile directly, and wakes the parked node-run after it changed the
// ReaperPod's status. The module's own flow workers run the node-run steps.
import {
  ATTEMPT_ANNOTATION,
  type DaemonJobStatusView,
  type ReaperPod,
  RUN_ID_ANNOTATION,
} from '@reaper-flow/domain';
import { EventRecorder, patchStatus, Resources } from '@reaper-flow/k8s';
import {
  createRedis,
  type DaemonJobStore,
  nodeRunJobId,
  OverlayNodeQueues,
  OverlayResetRequests,
  QueueFactory,
  RECONCILE_KINDS,
  type ReconcileKind,
  ReconcileQueue,
  type RedisClient,
  RedisHealth,
  type RunFlows,
  WorldStore,
} from '@reaper-flow/queue';
import { type Config, ConfigSchema, createLogger, createMetrics, LiveConfig } from '@reaper-flow/runtime';
import { testEnv, uniqueNodeName, useTestNamespace, waitFor } from '@reaper-flow/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KindReconciler, SchedulerContext } from '../context';
import { daemonJobModule } from './module';

const ns = useTestNamespace('djob-engine');
const logger = createLogger('djob-engine-int', process.env.LOG_LEVEL ?? 'silent');

type DaemonJob = {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; generation?: number };
  spec: Record<string, unknown>;
  status?: DaemonJobStatusView;
};

let config: Config;
let producer: RedisClient;
let ctx: SchedulerContext;
let engine: KindReconciler;
let flows: RunFlows;
let store: DaemonJobStore;

beforeAll(async () => {
  config = ConfigSchema.parse({ redis: { url: testEnv().redisUrl, prefix: ns.queuePrefix } });
  const prefix = config.redis.prefix;
  const health = new RedisHealth();
  producer = createRedis(config.redis, 'producer', health, 'producer');
  const retention = { removeOnComplete: 100, removeOnFail: 100 };
  const queues = Object.fromEntries(
    RECONCILE_KINDS.map((kind) => [
      kind,
      new ReconcileQueue(producer, {
        prefix,
        kind,
        retention,
        attempts: 3,
        backoffMs: 100,
        failedRequeueMs: 60_000,
      }),
    ]),
  ) as Record<ReconcileKind, ReconcileQueue>;
  const stores = new QueueFactory({
    producer,
    prefix,
    health,
    connect: (name) => createRedis(config.redis, 'worker', health, name),
  });
  ctx = {
    config,
    live: new LiveConfig(config),
    kube: ns.client,
    logger,
    metrics: createMetrics('scheduler'),
    world: new WorldStore(producer, prefix, 1000),
    redisHealth: health,
    stores,
    queues,
    overlayQueues: new OverlayNodeQueues(producer, { prefix, retention }),
    overlayResetRequests: new OverlayResetRequests(producer, prefix),
    recorder: new EventRecorder(ns.client, { component: 'reaper-flow-scheduler', logger }),
    now: () => new Date(),
  };
  engine = await daemonJobModule.create(ctx);
  // The test's own handle on the run flows and the job's state, as the watcher and an operator have.
  flows = stores.runFlows({ retention, stepAttempts: 3, stepBackoffMs: 100 });
  store = stores.daemonJobStore(1000);
});

afterAll(async () => {
  await engine?.close?.();
  await flows?.nodeRuns.obliterate({ force: true });
  await flows?.runs.obliterate({ force: true });
  await flows?.close();
  await Promise.all(Object.values(ctx?.queues ?? {}).map((q) => q.close(1000)));
  await ctx?.overlayQueues.close();
  await producer?.quit();
}, 60_000);

/** What the watcher would store: a Ready Node (projected) and the job as the API returned it. */
async function observe(kind: 'Node' | 'ReaperDaemonJob', object: { metadata: Record<string, unknown> }) {
  const meta = object.metadata as {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
  };
  await ctx.world.apply(
    {
      type: 'ADDED',
      kind,
      namespace: meta.namespace ?? '',
      name: meta.name,
      uid: meta.uid ?? '',
      resourceVersion: meta.resourceVersion ?? '1',
      seenAt: Date.now(),
    },
    object as { metadata: { name: string } },
    null,
    { bumpRevision: kind === 'Node' },
  );
}

async function createJob(name: string, spec: Record<string, unknown>): Promise<DaemonJob> {
  const job = await ns.client.create<DaemonJob>(
    Resources.reaperDaemonJobs,
    { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperDaemonJob', metadata: { name }, spec },
    { namespace: ns.namespace },
  );
  await observe('ReaperDaemonJob', job);
  return job;
}

const reconcile = (name: string) =>
  engine.reconcile({
    namespace: ns.namespace,
    name,
    delivery: { attempt: 1, seenAt: Date.now(), cause: 'test' },
    log: logger,
  });
const getJob = (name: string) =>
  ns.client.get<DaemonJob>(Resources.reaperDaemonJobs, name, { namespace: ns.namespace });

/**
 * A job on one node of its own: reconcile once, then check the run flow and the ReaperPod the
 * node-run made; end the attempt with `status`, wake the node-run and return what it returned and
 * the job's status after the next reconcile.
 */
async function runOnce(name: string, spec: Record<string, unknown>, status: ReaperPod['status']) {
  const node = uniqueNodeName('djob-engine');
  await observe('Node', {
    metadata: { name: node, labels: { 'kubernetes.io/hostname': node } },
    status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { bootID: `boot-${node}` } },
  } as { metadata: Record<string, unknown> });
  const job = await createJob(name, {
    command: ['/bin/sh', '-c', 'exit 0'],
    // Only this test's node: the world keeps the Nodes of the tests before it.
    nodeSelector: { 'kubernetes.io/hostname': node },
    ...spec,
  });

  await reconcile(name);
  // The reconcile started one run: a flow parent and one node-run child for the node, and the run
  // index gives the node to that run.
  const runId = await store.currentRun(ns.namespace, name, node);
  if (!runId) throw new Error(`the run index names no run for ${node}`);
  const parents = await flows.runs.getJobs(['waiting-children', 'waiting', 'active', 'completed']);
  expect(parents.filter((p) => p.data.job === name).map((p) => p.data)).toEqual([
    { namespace: ns.namespace, job: name, jobUid: job.metadata.uid, runId, generation: 1 },
  ]);
  const childId = nodeRunJobId(ns.namespace, name, runId, node);
  const child = await flows.nodeRuns.getJob(childId);
  expect(child?.data).toMatchObject({ node, runId, jobUid: job.metadata.uid, attempt: 1 });

  // The node-run step made the attempt's ReaperPod, then parked in its wait step.
  const rpodName = `${name}-${node}`;
  const rpod = await waitFor(
    () => ns.client.get<ReaperPod>(Resources.reaperPods, rpodName, { namespace: ns.namespace }),
    { description: `ReaperPod ${rpodName}`, timeoutMs: 20_000 },
  );
  expect(rpod.spec).toMatchObject({ nodeName: node, command: ['/bin/sh', '-c', 'exit 0'] });
  expect(rpod.metadata.annotations).toMatchObject({ [RUN_ID_ANNOTATION]: runId, [ATTEMPT_ANNOTATION]: '1' });
  expect(rpod.metadata.ownerReferences?.map((o) => o.uid)).toEqual([job.metadata.uid]);
  await waitFor(
    async () => {
      const parked = await flows.nodeRuns.getJob(childId);
      return parked?.data.step === 'wait' && (await parked.isDelayed());
    },
    { description: 'the node-run parked in its wait step', timeoutMs: 20_000 },
  );

  // The attempt ends; the watcher would wake the node-run for that change.
  await patchStatus(ns.client, Resources.reaperPods, rpod, status ?? {});
  await flows.wake(ns.namespace, name, runId, node);
  const done = await waitFor(
    async () => {
      const finished = await flows.nodeRuns.getJob(childId);
      return finished && (await finished.isCompleted()) ? finished : undefined;
    },
    { description: 'the node-run finished', timeoutMs: 20_000 },
  );

  // The next reconcile folds what the node-run reported and writes the status.
  await reconcile(name);
  const after = await getJob(name);
  return { node, returned: done.returnvalue, status: after?.status };
}

describe('the DaemonJob reconcile and node-run step, without the watcher', () => {
  it('a reconcile starts the run flow, its node-run creates the ReaperPod, and the success is recorded', {
    timeout: 90_000,
  }, async () => {
    const { node, returned, status } = await runOnce('ok', {}, { phase: 'Succeeded', exitCode: 0 });
    expect(returned).toEqual({ node, outcome: 'Succeeded', exitCode: 0, attempts: 1 });
    expect(status).toMatchObject({ phase: 'Completed', readyNodes: 1, totalNodes: 1, failedNodes: 0 });
    expect(status?.nodeStatuses).toEqual([
      expect.objectContaining({ nodeName: node, phase: 'Succeeded', exitCode: 0, retryCount: 0 }),
    ]);
  });

  it('a failed attempt with no retries left is recorded as the node failing', {
    timeout: 90_000,
  }, async () => {
    const { node, returned, status } = await runOnce(
      'fails',
      { retryLimit: 0 },
      { phase: 'Failed', exitCode: 3, message: 'exit 3' },
    );
    expect(returned).toEqual({ node, outcome: 'Failed', exitCode: 3, attempts: 1 });
    expect(status).toMatchObject({ phase: 'PartiallyFailed', totalNodes: 1, failedNodes: 1 });
    expect(status?.nodeStatuses).toEqual([
      expect.objectContaining({ nodeName: node, phase: 'Failed', exitCode: 3, message: 'exit 3' }),
    ]);
  });
});
