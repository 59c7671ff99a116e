// Two watchers through kube-apiserver SIGKILLs on a local cluster of this file's own: a short outage
// (the leader's Lease survives it) and one longer than the Lease (the leader steps down, then one of
// the two leads again). After each restart exactly one watcher leads and its watches deliver a change
// made afterwards. The fault suite keeps its leader through its restart; this file is for the loss.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import {
  applyCrds,
  killClusterProcess,
  type LocalCluster,
  REPO_ROOT,
  removeDir,
  restartClusterProcess,
  startLocalCluster,
  stderrLogger,
  stopLocalCluster,
} from '@reaper-flow/local-cluster';
import { createRedis, WorldStore } from '@reaper-flow/queue';
import { ConfigSchema, createAppKubeClient, createLogger, createMetrics } from '@reaper-flow/runtime';
import { startWatcher, type Watcher } from '@reaper-flow/watcher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './harness/index';

const NS = 'watcher-apiserver';
const LEASE_MS = 3000;
const IDENTITIES = ['w1', 'w2'] as const;

describe('watchers through kube-apiserver restarts', () => {
  let cluster: LocalCluster;
  let stateDir: string;
  const logs = new Map<string, string[]>();
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'reaper-flow-watcher-apiserver-'));
    cluster = await startLocalCluster({ stateDir, nodes: 0, log: stderrLogger('watcher-apiserver') });
  }, 180_000);
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await stopLocalCluster(stateDir).catch(() => undefined);
    await removeDir(stateDir).catch(() => undefined);
  }, 60_000);

  it('one watcher leads after each restart and sees what changes next', { timeout: 150_000 }, async () => {
    const client = await KubeClient.create({ kubeconfigPath: cluster.kubeconfigPath });
    await applyCrds(client, join(REPO_ROOT, 'infra/crds'));
    await client.create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    });
    const prefix = '{rf-watcher-apiserver}';
    const config = ConfigSchema.parse({
      redis: { url: cluster.redisUrl, prefix },
      kubernetes: { kubeconfig: cluster.kubeconfigPath },
      watcher: { leaseNamespace: NS, leaseName: 'watcher', leaseDurationMs: LEASE_MS, renewIntervalMs: 1000 },
    });
    const redis = createRedis({ url: cluster.redisUrl }, 'worker');
    closers.push(() => redis.quit());
    const world = new WorldStore(redis, prefix, 1000);
    const watchers: Watcher[] = [];
    for (const identity of IDENTITIES) {
      const lines: string[] = [];
      logs.set(identity, lines);
      // Each write is one JSON log line.
      const sink = { write: (line: string) => void lines.push((JSON.parse(line) as { msg: string }).msg) };
      const metrics = createMetrics('watcher');
      const kube = await createAppKubeClient(config, metrics, identity);
      const leaseKube = await createAppKubeClient(config, createMetrics('watcher'), identity);
      const logger = createLogger(`watcher-${identity}`, 'info', sink);
      const watcher = await startWatcher({ config, kube, leaseKube, logger, metrics, identity });
      watchers.push(watcher);
      closers.push(async () => {
        await watcher.stop();
        kube.close();
        leaseKube.close();
      });
    }
    const leaders = () => watchers.filter((w) => w.isLeader());
    const overlay = (name: string) => ({
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperOverlay',
      metadata: { name },
      spec: {},
    });
    const changeIsSeen = async (name: string) => {
      // Until the restarted API server has installed the CRDs' paths, a create is refused: retry it.
      await waitFor(
        () =>
          client.create(Resources.reaperOverlays, overlay(name), { namespace: NS }).then(
            () => true,
            () => false,
          ),
        { description: `${name} created`, timeoutMs: 60_000 },
      );
      await waitFor(async () => (await world.get('ReaperOverlay', NS, name)) !== undefined, {
        description: `${name} in the leader's world`,
        timeoutMs: 30_000,
      });
      await waitFor(() => leaders().length === 1, { description: 'exactly one leader', timeoutMs: 20_000 });
    };
    await waitFor(() => leaders().length === 1 && leaders()[0]?.ready() === true, {
      description: 'one watcher leads and has synced',
      timeoutMs: 30_000,
    });
    await changeIsSeen('before');

    // The outage's length is the fault itself: 0.2 s is within the renew deadline, 4.5 s outlasts the Lease.
    for (const [name, outageMs] of [
      ['after-short-outage', 200],
      ['after-long-outage', LEASE_MS + 1500],
    ] as const) {
      const leader = leaders()[0];
      const killed = await killClusterProcess(cluster.stateDir, 'kube-apiserver');
      if (outageMs > LEASE_MS) {
        await waitFor(() => leaders().length === 0, {
          description: 'the leader stepped down',
          timeoutMs: 10_000,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, outageMs));
      await restartClusterProcess(cluster.stateDir, killed);
      await changeIsSeen(name);
      if (outageMs > LEASE_MS) {
        const oldLeader = IDENTITIES[watchers.indexOf(leader as Watcher)] as string;
        expect(logs.get(oldLeader)).toContain('lost leadership: stopping informers, back to standby');
      }
    }
  });
});
