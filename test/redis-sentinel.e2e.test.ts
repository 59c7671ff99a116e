// Redis with Sentinel, kept true on a local cluster of this file's own (a primary, two replicas and
// three sentinels from Debian's packages): the primary SIGKILLed in the middle of a DAG and a batch
// of ReaperPods, Sentinel promoting a replica, the apps (real processes) carrying on against the new
// primary without a restart, nothing run twice. And the three Sentinel settings that cannot work stop
// start-up with a message naming the key.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import {
  addNode,
  applyCrds,
  currentPrimary,
  killClusterProcess,
  type LocalCluster,
  REPO_ROOT,
  removeDir,
  startLocalCluster,
  stderrLogger,
} from '@reaper-flow/local-cluster';
import { createRedis, parseAddress, QueueNames, RECONCILE_KINDS } from '@reaper-flow/queue';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './harness/index';
import {
  type AppName,
  type AppProcess,
  describeOutput,
  killApp,
  logLines,
  spawnApp,
} from './support/app-processes';
import { ReaperPodTimeline } from './support/reaper-pod-timeline';

const suite = randomBytes(3).toString('hex');
const GROUP = 'reaper.io/sentinel-group';
const PODS = 20;

interface Job {
  status?: { phase?: string; readyNodes?: number };
}

describe('Redis with Sentinel: a failover loses nothing and runs nothing twice', () => {
  let cluster: LocalCluster;
  let stateRoot: string;
  let client: KubeClient;
  const procs: AppProcess[] = [];
  const nodes = Array.from({ length: 6 }, (_, i) => `s-${suite}-${i + 1}`);
  const prefix = `{rf-sentinel-${suite}}`;

  const appEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    KUBECONFIG: cluster.kubeconfigPath,
    ...cluster.redisEnv,
    REAPER_FLOW_PREFIX: prefix,
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    REAPER_FLOW__WATCHER__LEASE_NAME: `rf-sentinel-${suite}`,
    REAPER_FLOW__DASHBOARD__ENABLED: 'false',
    REAPER_FLOW__QUEUES__STALLED__LOCK_DURATION_MS: '3000',
    REAPER_FLOW__QUEUES__STALLED__INTERVAL_MS: '1000',
    REAPER_FLOW__QUEUES__RECONCILE_BACKOFF_MS: '200',
    REAPER_FLOW__STATUS__COALESCE_MS: '300',
    ...extra,
  });
  const start = (app: AppName, label: string, extra: Record<string, string> = {}): AppProcess => {
    const proc = spawnApp(app, label, appEnv(extra));
    procs.push(proc);
    return proc;
  };
  const alive = (p: AppProcess) => p.child.exitCode === null && p.child.signalCode === null;

  beforeAll(async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'reaper-flow-sentinel-'));
    stateRoot = await mkdtemp(join(tmpdir(), 'reaper-flow-sentinel-agents-'));
    cluster = await startLocalCluster({
      stateDir,
      nodes: 0,
      withKubelet: true,
      redis: 'sentinel',
      log: stderrLogger('sentinel-cluster'),
    });
    client = await KubeClient.create({ kubeconfigPath: cluster.kubeconfigPath });
    await applyCrds(client, join(REPO_ROOT, 'infra/crds'));
    for (const name of nodes) await addNode(client, { name, labels: { [GROUP]: suite } });
    start('watcher', 'watcher');
    start('scheduler', 'scheduler');
    for (const node of nodes) {
      start('node-agent', `node-agent/${node}`, {
        NODE_NAME: node,
        REAPER_FLOW__NODE_AGENT__STATE_DIR: join(stateRoot, node),
      });
    }
  }, 180_000);

  afterAll(async () => {
    for (const proc of procs) await killApp(proc);
    const dir = join(REPO_ROOT, 'test-artifacts', 'redis-sentinel');
    await mkdir(dir, { recursive: true });
    for (const [i, proc] of procs.entries()) {
      await writeFile(join(dir, `${i}-${proc.label.replaceAll('/', '_')}.log`), proc.output.join(''));
    }
    client?.close();
    await cluster?.stop();
    if (stateRoot) await removeDir(stateRoot);
  }, 120_000);

  it('the primary SIGKILLed mid-DAG with 20 ReaperPods: Sentinel fails over, everything completes once', {
    timeout: 240_000,
  }, async () => {
    const namespace = `failover-${suite}`;
    await client.create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    });
    await waitFor(() => client.get(Resources.serviceAccounts, 'default', { namespace }), {
      description: `ServiceAccount default in ${namespace}`,
    });
    const timeline = await new ReaperPodTimeline(client, namespace).start();
    const create = (resource: typeof Resources.reaperPods, kind: string, name: string, spec: object) =>
      client.create(
        resource,
        { apiVersion: 'reaper.io/v1alpha1', kind, metadata: { name }, spec },
        { namespace },
      );
    const job = (name: string, command: string, after?: string) =>
      create(Resources.reaperDaemonJobs, 'ReaperDaemonJob', name, {
        nodeSelector: { [GROUP]: suite },
        command: ['/bin/sh', '-c', command],
        ...(after ? { after: [after] } : {}),
      });
    await job('c', 'true', 'b');
    await job('b', 'sleep 1', 'a');
    await job('a', 'sleep 1');
    for (let i = 0; i < PODS; i++) {
      await create(Resources.reaperPods, 'ReaperPod', `rp-${i}`, {
        command: ['/bin/sh', '-c', 'sleep 1'],
        nodeSelector: { [GROUP]: suite },
      });
    }
    await waitFor(() => timeline.of('a').length >= 2, { description: 'a under way', intervalMs: 20 });

    const sentinelPort = parseAddress(cluster.redisSentinel?.sentinels[0] as string).port;
    const oldPrimary = await currentPrimary(sentinelPort);
    expect(oldPrimary).toBe(new URL(cluster.redisUrl).host);
    await killClusterProcess(cluster.stateDir, 'redis');
    const lostAt = Date.now();
    const newPrimary = await waitFor(
      async () => {
        const now = await currentPrimary(sentinelPort);
        return now !== oldPrimary ? now : undefined;
      },
      { description: 'Sentinel to promote a replica', timeoutMs: 60_000, intervalMs: 50 },
    );
    const promotedMs = Date.now() - lostAt;

    for (const name of ['a', 'b', 'c']) {
      await waitFor(
        async () => {
          const j = await client
            .get<Job>(Resources.reaperDaemonJobs, name, { namespace })
            .catch(() => undefined);
          return j?.status?.phase === 'Completed' ? j : undefined;
        },
        { description: `${namespace}/${name} Completed`, timeoutMs: 150_000 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${describeOutput(procs)}`);
      });
    }
    await waitFor(
      async () => {
        const pods = await client.list<{ status?: { phase?: string } }>(Resources.reaperPods, { namespace });
        return pods.items.filter((p) => p.status?.phase === 'Succeeded').length === PODS + 3 * nodes.length;
      },
      { description: 'every ReaperPod Succeeded', timeoutMs: 60_000 },
    );

    // The first reconcile that completed on the new primary: BullMQ's event streams carry the
    // server's clock in their entry ids (same machine as this process).
    const redis: Redis = createRedis({ url: `redis://${newPrimary}`, mode: 'standalone' }, 'producer');
    let firstReconcileMs = Number.POSITIVE_INFINITY;
    try {
      for (const kind of RECONCILE_KINDS) {
        const entries = (await redis.xrange(
          `${prefix}:${QueueNames.reconcile(kind)}:events`,
          String(lostAt),
          '+',
        )) as [string, string[]][];
        const completed = entries.find(([, fields]) => fields[1] === 'completed');
        if (completed)
          firstReconcileMs = Math.min(firstReconcileMs, Number(completed[0].split('-')[0]) - lostAt);
      }
    } finally {
      redis.disconnect();
    }
    console.log(
      `[sentinel] primary ${oldPrimary} SIGKILLed: ${newPrimary} promoted after ${promotedMs} ms, ` +
        `first reconcile completed on it ${firstReconcileMs} ms after the loss; ` +
        `duplicated attempts: ${timeline.duplicatedAttempts().length}`,
    );
    expect(Number.isFinite(firstReconcileMs)).toBe(true);
    expect(timeline.duplicatedAttempts()).toEqual([]);
    for (const name of ['a', 'b', 'c']) expect(timeline.of(name)).toHaveLength(nodes.length);
    expect([...timeline.records.values()].filter((r) => r.name.startsWith('rp-'))).toHaveLength(PODS);
    // No app restarted, and each said once that Redis went away and once that it was back.
    const apps = procs.filter((p) => !p.label.startsWith('bad-config'));
    expect(apps.filter((p) => !alive(p)).map((p) => p.label)).toEqual([]);
    for (const app of apps) {
      const said = logLines(app)
        .map((l) => l.msg)
        .filter((m) => m?.startsWith('redis unavailable') || m === 'redis available again');
      expect(said, app.label).toEqual([
        'redis unavailable: work pauses until it is back',
        'redis available again',
      ]);
    }
    await timeline.stop();
  });

  it('a wrong master name, an unreachable sentinel list and a wrong password each stop start-up naming the key', {
    // Three app processes starting at once (most of it is loading the app's modules); last in the
    // file, so they do not compete with the apps' own start-up.
    timeout: 150_000,
  }, async () => {
    const cases: [Record<string, string>, string][] = [
      [{ REDIS_MASTER_NAME: 'no-such-master' }, 'redis.sentinel.masterName'],
      [
        // Ports nothing listens on.
        { REDIS_SENTINELS: '127.0.0.1:1,127.0.0.1:2', REAPER_FLOW__REDIS__STARTUP_TIMEOUT_MS: '1500' },
        'redis.sentinel.sentinels',
      ],
      [{ REDIS_PASSWORD: 'not-the-password' }, 'redis.password'],
    ];
    const runs = cases.map(([env, key], i) => ({
      key,
      proc: spawnApp('watcher', `bad-config-${i}`, appEnv(env)),
    }));
    for (const { key, proc } of runs) {
      await proc.exited;
      const fatal = logLines(proc).filter((l) => l.msg?.startsWith('cannot start: '));
      expect(proc.child.exitCode, `${proc.label}:\n${describeOutput([proc])}`).toBe(1);
      expect(
        fatal.map((l) => l.msg),
        describeOutput([proc]),
      ).toEqual([expect.stringContaining(`cannot start: ${key}: `)]);
    }
  });
});
