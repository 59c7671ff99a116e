// The Redis failover scenario, run against Sentinel (redis-sentinel.e2e.test.ts) and Redis Cluster
// (redis-cluster.e2e.test.ts) on a local cluster of the file's own: the primary serving reaper-flow's
// slot SIGKILLed in the middle of a DAG and a batch of ReaperPods, a replica promoted, the apps (real
// processes) carrying on against the new primary without a restart, nothing run twice.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import {
  addNode,
  applyCrds,
  clusterPrimaryOf,
  clusterProcessName,
  currentPrimary,
  killClusterProcess,
  type LocalCluster,
  REPO_ROOT,
  removeDir,
  startLocalCluster,
  stderrLogger,
} from '@reaper-flow/local-cluster';
import { createRedis, parseAddress, QueueNames, RECONCILE_KINDS } from '@reaper-flow/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/index';
import {
  type AppName,
  type AppProcess,
  describeOutput,
  killApp,
  logLines,
  spawnApp,
  waitForLog,
} from './app-processes';
import { ReaperPodTimeline } from './reaper-pod-timeline';

export type FailoverMode = 'sentinel' | 'cluster';

const PODS = 20;

interface Job {
  status?: { phase?: string; readyNodes?: number };
}

/** Where the primary serving `prefix`'s slot is, and which local process runs a node. */
interface Topology {
  /** `host:port` of that primary, asked of a node (sentinel) other than `dead`. */
  primary(dead?: string): Promise<string>;
  /** The local cluster's process name of the data node at `address`. */
  processOf(address: string): string;
}

function topology(mode: FailoverMode, cluster: LocalCluster, prefix: string): Topology {
  if (mode === 'sentinel') {
    const sentinelPort = parseAddress(cluster.redisSentinel?.sentinels[0] as string).port;
    return {
      primary: () => currentPrimary(sentinelPort),
      processOf: (address) => {
        // The first primary is the process `redis`; the test kills only that one.
        if (address !== new URL(cluster.redisUrl).host)
          throw new Error(`${address} is not the first primary`);
        return 'redis';
      },
    };
  }
  const nodes = cluster.redisCluster?.nodes ?? [];
  return {
    primary: (dead) => {
      const ask = nodes.find((n) => n !== dead) as string;
      return clusterPrimaryOf(parseAddress(ask).port, prefix);
    },
    processOf: (address) => {
      const i = nodes.indexOf(address);
      if (i < 0) throw new Error(`${address} is not a node of the local Redis Cluster`);
      return clusterProcessName(i);
    },
  };
}

/**
 * The failover suite for one Redis topology: a 3-stage DAG on 6 nodes plus 20 ReaperPods while
 * the primary holding reaper-flow's slot is SIGKILLed. Every job Completed, every ReaperPod
 * Succeeded, no ReaperPod created twice for one attempt (counted from a watch opened before the
 * DAG), no app restarted, each app saying once that Redis went away and once that it was back.
 * Prints the time from the loss to the promotion and to the first reconcile completed on the new
 * primary.
 */
export function describeRedisFailover(
  mode: FailoverMode,
  opts: {
    /**
     * Node agents started, on the first nodes (default: one per node). The scenario uses no
     * overlay: an agent is there to show it rides out the failover too, and each one is a process
     * to load on a shared machine.
     */
    readonly nodeAgents?: number;
  } = {},
): void {
  describe(`Redis ${mode}: a failover loses nothing and runs nothing twice`, () => {
    const suite = randomBytes(3).toString('hex');
    const GROUP = `reaper.io/${mode}-group`;
    let cluster: LocalCluster;
    let stateRoot: string;
    let client: KubeClient;
    const procs: AppProcess[] = [];
    const nodes = Array.from({ length: 6 }, (_, i) => `s-${suite}-${i + 1}`);
    const prefix = `{rf-${mode}-${suite}}`;

    const appEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
      KUBECONFIG: cluster.kubeconfigPath,
      ...cluster.redisEnv,
      REAPER_FLOW_PREFIX: prefix,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      REAPER_FLOW__WATCHER__LEASE_NAME: `rf-${mode}-${suite}`,
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
      const stateDir = await mkdtemp(join(tmpdir(), `reaper-flow-${mode}-`));
      stateRoot = await mkdtemp(join(tmpdir(), `reaper-flow-${mode}-agents-`));
      cluster = await startLocalCluster({
        stateDir,
        nodes: 0,
        withKubelet: true,
        redis: mode,
        log: stderrLogger(`${mode}-cluster`),
      });
      client = await KubeClient.create({ kubeconfigPath: cluster.kubeconfigPath });
      await applyCrds(client, join(REPO_ROOT, 'infra/crds'));
      for (const name of nodes) await addNode(client, { name, labels: { [GROUP]: suite } });
      const watcher = start('watcher', 'watcher');
      const scheduler = start('scheduler', 'scheduler');
      const agents = nodes.slice(0, opts.nodeAgents ?? nodes.length).map((node) =>
        start('node-agent', `node-agent/${node}`, {
          NODE_NAME: node,
          REAPER_FLOW__NODE_AGENT__STATE_DIR: join(stateRoot, node),
        }),
      );
      // Eight processes loading their modules on a shared machine: the scenario starts once all
      // are up, so the primary is lost while they work, not while they load.
      await waitForLog(watcher, 'watcher started', 150_000);
      await waitForLog(scheduler, 'scheduler running', 150_000);
      for (const agent of agents) await waitForLog(agent, 'node agent started', 150_000);
    }, 300_000);

    afterAll(async () => {
      for (const proc of procs) await killApp(proc);
      const dir = join(REPO_ROOT, 'test-artifacts', `redis-${mode}`);
      await mkdir(dir, { recursive: true });
      for (const [i, proc] of procs.entries()) {
        await writeFile(join(dir, `${i}-${proc.label.replaceAll('/', '_')}.log`), proc.output.join(''));
      }
      client?.close();
      await cluster?.stop();
      if (stateRoot) await removeDir(stateRoot);
    }, 120_000);

    it(`the primary SIGKILLed mid-DAG with ${PODS} ReaperPods: a replica is promoted, everything completes once`, {
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

      const redisNodes = topology(mode, cluster, prefix);
      const oldPrimary = await redisNodes.primary();
      await killClusterProcess(cluster.stateDir, redisNodes.processOf(oldPrimary));
      const lostAt = Date.now();
      const newPrimary = await waitFor(
        async () => {
          const now = await redisNodes.primary(oldPrimary).catch(() => undefined);
          return now && now !== oldPrimary ? now : undefined;
        },
        { description: `${mode} to promote a replica`, timeoutMs: 60_000, intervalMs: 50 },
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
          const pods = await client.list<{ status?: { phase?: string } }>(Resources.reaperPods, {
            namespace,
          });
          return pods.items.filter((p) => p.status?.phase === 'Succeeded').length === PODS + 3 * nodes.length;
        },
        { description: 'every ReaperPod Succeeded', timeoutMs: 60_000 },
      );

      // The first reconcile that completed on the new primary: BullMQ's event streams carry the
      // server's clock in their entry ids (same machine as this process).
      const redis = createRedis({ url: `redis://${newPrimary}`, mode: 'standalone' }, 'producer');
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
        `[${mode}] primary ${oldPrimary} SIGKILLed: ${newPrimary} promoted after ${promotedMs} ms, ` +
          `first reconcile completed on it ${firstReconcileMs} ms after the loss; ` +
          `duplicated attempts: ${timeline.duplicatedAttempts().length}`,
      );
      expect(Number.isFinite(firstReconcileMs)).toBe(true);
      expect(timeline.duplicatedAttempts()).toEqual([]);
      for (const name of ['a', 'b', 'c']) expect(timeline.of(name)).toHaveLength(nodes.length);
      expect([...timeline.records.values()].filter((r) => r.name.startsWith('rp-'))).toHaveLength(PODS);
      // No app restarted, and each said once that Redis went away and once that it was back.
      expect(procs.filter((p) => !alive(p)).map((p) => p.label)).toEqual([]);
      for (const app of procs) {
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
  });
}
