// Crash safety of the DaemonJob engine: the scheduler is killed with SIGKILL in the middle of a run
// and started again. Every node must end with exactly one successful run, and no ReaperPod may be
// created twice for the same node-run attempt (creations counted from the watcher's event log).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, builtAppArgs, REPO_ROOT, removeNode } from '@reaper-flow/local-cluster';
import { createRedis, WorldStore } from '@reaper-flow/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestNamespace, waitFor } from './harness/index';

const suite = randomBytes(3).toString('hex');
const nodes = Array.from({ length: 5 }, (_, i) => `crash-${suite}-${i + 1}`);

interface App {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: string[];
}

describe('scheduler killed with SIGKILL in the middle of a run', () => {
  const ns = useTestNamespace('crash');
  let client: KubeClient;
  const apps: App[] = [];

  function start(app: 'watcher' | 'scheduler'): App {
    const env = testEnv();
    const child = spawn(process.execPath, builtAppArgs(app), {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        KUBECONFIG: env.kubeconfigPath,
        REDIS_URL: env.redisUrl,
        REAPER_FLOW_PREFIX: ns.queuePrefix,
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
        REAPER_FLOW__WATCHER__LEASE_NAME: `rf-crash-${suite}`,
        REAPER_FLOW__DASHBOARD__ENABLED: 'false',
        // A dead scheduler's locked jobs are taken over after the lock expires: keep it short here.
        REAPER_FLOW__QUEUES__STALLED__LOCK_DURATION_MS: '3000',
        REAPER_FLOW__QUEUES__STALLED__INTERVAL_MS: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    const entry = { name: app, child, output };
    apps.push(entry);
    return entry;
  }

  beforeAll(async () => {
    client = await KubeClient.create({ kubeconfigPath: testEnv().kubeconfigPath });
    for (const name of nodes) await addNode(client, { name, labels: { 'reaper.io/test-group': suite } });
  }, 60_000);

  afterAll(async () => {
    for (const app of apps) if (app.child.exitCode === null) app.child.kill('SIGKILL');
    for (const name of nodes) await removeNode(client, name);
    client?.close();
  }, 60_000);

  it('every node ends with exactly one successful run and no attempt is created twice', {
    timeout: 120_000,
  }, async () => {
    start('watcher');
    const first = start('scheduler');
    await client.create(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name: 'steady' },
        spec: { command: ['/bin/sh', '-c', 'sleep 2'], nodeSelector: { 'reaper.io/test-group': suite } },
      },
      { namespace: ns.namespace },
    );
    // Kill the scheduler once the run is under way: some ReaperPods exist, not all have finished.
    await waitFor(
      async () => {
        const pods = await client.list<{ status?: { phase?: string } }>(Resources.reaperPods, {
          namespace: ns.namespace,
        });
        return pods.items.length >= 1 && pods.items.some((p) => p.status?.phase !== 'Succeeded');
      },
      { description: 'the run to be under way', timeoutMs: 60_000, intervalMs: 50 },
    );
    first.child.kill('SIGKILL');
    await waitFor(() => first.child.exitCode !== null || first.child.signalCode !== null, {
      description: 'the first scheduler to die',
    });
    start('scheduler');

    const job = await waitFor(
      async () => {
        const j = await client.get<{
          status?: {
            phase?: string;
            readyNodes?: number;
            nodeStatuses?: { nodeName: string; phase: string; retryCount: number }[];
          };
        }>(Resources.reaperDaemonJobs, 'steady', { namespace: ns.namespace });
        return j?.status?.phase === 'Completed' ? j : undefined;
      },
      { description: 'steady Completed after the restart', timeoutMs: 90_000 },
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}\napp output:\n${apps.map((a) => `${a.name}: ${a.output.join('')}`).join('\n')}`,
      );
    });
    expect(job.status?.readyNodes).toBe(5);
    expect(job.status?.nodeStatuses?.map((n) => [n.nodeName, n.phase, n.retryCount])).toEqual(
      [...nodes].sort().map((n) => [n, 'Succeeded', 0]),
    );

    // Creations per ReaperPod name, from the watcher's durable event log: one incarnation each.
    const redis = createRedis({ url: testEnv().redisUrl }, 'producer');
    try {
      const world = new WorldStore(redis, ns.queuePrefix, 100_000);
      const records = (await world.readEvents('ReaperPod')).filter((r) => r.namespace === ns.namespace);
      const uidsByName = new Map<string, Set<string>>();
      for (const r of records) {
        if (r.type === 'DELETED') continue;
        uidsByName.set(r.name, (uidsByName.get(r.name) ?? new Set()).add(r.uid));
      }
      expect([...uidsByName.keys()].sort()).toEqual(nodes.map((n) => `steady-${n}`).sort());
      expect([...uidsByName.values()].map((uids) => uids.size)).toEqual(nodes.map(() => 1));
    } finally {
      redis.disconnect();
    }
  });
});
