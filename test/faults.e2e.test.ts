// Faults kept true: real processes killed with real signals in the middle of real work, on a local
// cluster of this file's own (so killing its kube-apiserver or Redis disturbs no other test). Each
// case counts ReaperPod creations from a watch opened before the fault and asserts that everything
// converges with no attempt created twice. Every wait is for a condition.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import {
  addNode,
  applyCrds,
  killClusterProcess,
  type LocalCluster,
  REPO_ROOT,
  removeDir,
  restartClusterProcess,
  setNodeFault,
  startLocalCluster,
  stderrLogger,
} from '@reaper-flow/local-cluster';
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
const GROUP = 'reaper.io/fault-group';
const LOAD = 'reaper.io/load-case';

interface Job {
  status?: {
    phase?: string;
    readyNodes?: number;
    totalNodes?: number;
    nodeStatuses?: { nodeName: string; phase: string; retryCount?: number }[];
  };
}
interface Overlay {
  spec?: { resetGeneration?: number };
  status?: {
    phase?: string;
    observedResetGeneration?: number;
    nodes?: { nodeName: string; resetGeneration?: number }[];
  };
}

describe('faults: nothing is lost or duplicated when a component, Redis or the API server dies', () => {
  let cluster: LocalCluster;
  let stateRoot: string;
  let client: KubeClient;
  const procs: AppProcess[] = [];
  const nodes = Array.from({ length: 6 }, (_, i) => `f-${suite}-${i + 1}`);
  const prefix = `{rf-faults-${suite}}`;

  const appEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    KUBECONFIG: cluster.kubeconfigPath,
    REDIS_URL: cluster.redisUrl,
    REAPER_FLOW_PREFIX: prefix,
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    REAPER_FLOW__WATCHER__LEASE_NAME: `rf-faults-${suite}`,
    // Long enough that the leader keeps its Lease through the kube-apiserver restart below (a loss
    // there is not what that case tests); the standby takes over this long after the leader dies.
    REAPER_FLOW__WATCHER__LEASE_DURATION_MS: '10000',
    REAPER_FLOW__WATCHER__RENEW_INTERVAL_MS: '2000',
    REAPER_FLOW__DASHBOARD__ENABLED: 'false',
    // A dead scheduler's locked jobs are taken over after the lock expires: keep it short here.
    REAPER_FLOW__QUEUES__STALLED__LOCK_DURATION_MS: '3000',
    REAPER_FLOW__QUEUES__STALLED__INTERVAL_MS: '1000',
    REAPER_FLOW__QUEUES__RECONCILE_BACKOFF_MS: '200',
    REAPER_FLOW__RETRY__BASE_MS: '200',
    REAPER_FLOW__RETRY__CAP_MS: '1000',
    REAPER_FLOW__STATUS__COALESCE_MS: '300',
    ...extra,
  });
  const start = (app: AppName, label: string, extra: Record<string, string> = {}): AppProcess => {
    const proc = spawnApp(app, label, appEnv(extra));
    procs.push(proc);
    return proc;
  };
  const agents = new Map<string, AppProcess>();
  const startAgent = (node: string) => {
    const proc = start('node-agent', `node-agent/${node}`, {
      NODE_NAME: node,
      REAPER_FLOW__NODE_AGENT__STATE_DIR: join(stateRoot, node),
    });
    agents.set(node, proc);
    return proc;
  };
  const live = (app: AppName) =>
    procs.filter((p) => p.app === app && p.child.exitCode === null && p.child.signalCode === null);

  beforeAll(async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'reaper-flow-faults-'));
    stateRoot = await mkdtemp(join(tmpdir(), 'reaper-flow-faults-agents-'));
    cluster = await startLocalCluster({
      stateDir,
      nodes: 0,
      withKubelet: true,
      log: stderrLogger('faults-cluster'),
    });
    client = await KubeClient.create({ kubeconfigPath: cluster.kubeconfigPath });
    await applyCrds(client, join(REPO_ROOT, 'infra/crds'));
    for (const name of nodes) await addNode(client, { name, labels: { [GROUP]: suite } });
    start('watcher', 'watcher#1');
    start('scheduler', 'scheduler#1');
    for (const node of nodes) startAgent(node);
  }, 180_000);

  afterAll(async () => {
    for (const proc of procs) await killApp(proc);
    // Every app's log, for reading a failure after the fact (CI keeps test-artifacts/).
    const dir = join(REPO_ROOT, 'test-artifacts', 'faults');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    for (const [i, proc] of procs.entries()) {
      await writeFile(join(dir, `${i}-${proc.label.replaceAll('/', '_')}.log`), proc.output.join(''));
    }
    client?.close();
    await cluster?.stop();
    if (stateRoot) await removeDir(stateRoot);
  }, 120_000);

  /** A namespace per case, with its ReaperPod timeline already watching. */
  async function caseNamespace(name: string): Promise<{ namespace: string; timeline: ReaperPodTimeline }> {
    const namespace = `${name}-${suite}`;
    await client.create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    });
    await waitFor(() => client.get(Resources.serviceAccounts, 'default', { namespace }), {
      description: `ServiceAccount default in ${namespace}`,
    });
    return { namespace, timeline: await new ReaperPodTimeline(client, namespace).start() };
  }

  const daemonJob = (namespace: string, name: string, spec: Record<string, unknown>) =>
    client.create(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name },
        spec: { nodeSelector: { [GROUP]: suite }, ...spec },
      },
      { namespace },
    );
  const reaperPod = (namespace: string, name: string, command: string, extra: Record<string, unknown> = {}) =>
    client.create(
      Resources.reaperPods,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperPod',
        metadata: { name },
        spec: { command: ['/bin/sh', '-c', command], nodeSelector: { [GROUP]: suite }, ...extra },
      },
      { namespace },
    );

  /** Waits for every job to be Completed; on a timeout the apps' output says why. */
  async function completed(
    namespace: string,
    jobs: readonly string[],
    timeoutMs = 120_000,
  ): Promise<Map<string, Job>> {
    const result = new Map<string, Job>();
    for (const name of jobs) {
      const job = await waitFor(
        async () => {
          const j = await client
            .get<Job>(Resources.reaperDaemonJobs, name, { namespace })
            .catch(() => undefined);
          return j?.status?.phase === 'Completed' ? j : undefined;
        },
        { description: `${namespace}/${name} Completed`, timeoutMs },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${describeOutput(procs)}`);
      });
      result.set(name, job);
    }
    return result;
  }

  /** A chain a -> b -> c on every node of the group: the DAG most cases run while something dies. */
  async function dag(namespace: string, command = 'sleep 1'): Promise<readonly string[]> {
    await daemonJob(namespace, 'c', { command: ['/bin/sh', '-c', 'true'], after: ['b'] });
    await daemonJob(namespace, 'b', { command: ['/bin/sh', '-c', command], after: ['a'] });
    await daemonJob(namespace, 'a', { command: ['/bin/sh', '-c', command] });
    return ['a', 'b', 'c'];
  }

  const ms = (since: number) => `${Math.round(performance.now() - since)} ms`;

  it('the scheduler SIGKILLed twice during a throttled rollout with retries loses no node-run and no slot', {
    timeout: 240_000,
  }, async () => {
    const { namespace, timeline } = await caseNamespace('sched');
    // The rollout throttle as in the report: at most 3 nodes in flight and one ReaperPod creation a
    // second, so node-run steps are active (waiting for a token) when the scheduler dies. Killed twice,
    // those steps stall twice, more than stalled.maxCount allows, and BullMQ fails them for good.
    const throttled = {
      REAPER_FLOW__ROLLOUT__MAX_NODES_IN_FLIGHT: '3',
      REAPER_FLOW__ROLLOUT__POD_CREATES_PER_SECOND: '1',
    };
    for (const p of live('scheduler')) await killApp(p);
    start('scheduler', 'scheduler#throttled', throttled);
    // Two nodes fail their first attempt and retry.
    await setNodeFault(client, { namespace, job: 'rollout', node: nodes[0] as string, times: 1 });
    await setNodeFault(client, { namespace, job: 'rollout', node: nodes[3] as string, times: 1 });
    await daemonJob(namespace, 'rollout', { command: ['/bin/sh', '-c', 'sleep 1'], retryLimit: 2 });
    let last: AppProcess | undefined;
    for (const round of [1, 2]) {
      // Killed once a ReaperPod exists, then again once the restarted scheduler made one more: by
      // then it has taken over the steps that stalled the first time and runs them.
      const atLeast = round === 1 ? 1 : timeline.of('rollout').length + 1;
      await waitFor(() => timeline.of('rollout').length >= atLeast, {
        description: `${atLeast} rollout ReaperPods`,
        timeoutMs: 60_000,
        intervalMs: 20,
      });
      for (const p of live('scheduler')) await killApp(p);
      last = start('scheduler', `scheduler#after-kill-${round}`, throttled);
    }
    const since = performance.now();
    const job = (await completed(namespace, ['rollout'], 180_000)).get('rollout');
    console.log(`[faults] scheduler killed twice: rollout Completed ${ms(since)} after the second restart`);
    expect(job?.status?.readyNodes).toBe(nodes.length);
    const retries = new Map(job?.status?.nodeStatuses?.map((n) => [n.nodeName, n.retryCount]));
    expect([nodes[0], nodes[3], nodes[1]].map((n) => retries.get(n as string))).toEqual([1, 1, 0]);
    expect(timeline.duplicatedAttempts()).toEqual([]);
    expect(timeline.of('rollout')).toHaveLength(nodes.length + 2);
    // The steps that stalled twice failed for good and were put back to work, not lost.
    const revived = logLines(last as AppProcess).filter(
      (l) => l.msg === 'failed node-run step handled' && l.outcome === 'revived',
    );
    // Whether a step stalls twice depends on where the second kill lands; the rollout must complete
    // either way, so the count is reported, not asserted (see the closing note of this change).
    console.log(`[faults] node-run steps failed for good and revived: ${revived.length}`);
    // Back to the unthrottled scheduler for the other cases.
    for (const p of live('scheduler')) await killApp(p);
    start('scheduler', 'scheduler#1b');
  });

  it('Redis SIGKILLed mid-DAG and restarted on its AOF: the DAG and the ReaperPods complete', {
    timeout: 180_000,
  }, async () => {
    const { namespace, timeline } = await caseNamespace('redis');
    const jobs = await dag(namespace);
    for (let i = 0; i < 5; i++) await reaperPod(namespace, `rp-${i}`, 'sleep 1');
    await waitFor(() => timeline.of('a').length >= 2, { description: 'a under way', intervalMs: 20 });
    const killed = await killClusterProcess(cluster.stateDir, 'redis');
    const down = performance.now();
    // The outage itself lasts a while (this is the fault's duration, not a wait for a condition).
    await new Promise((r) => setTimeout(r, 3000));
    await restartClusterProcess(cluster.stateDir, killed);
    console.log(`[faults] redis down ${ms(down)}`);
    const since = performance.now();
    await completed(namespace, jobs);
    await waitFor(
      async () => {
        const pods = await client.list<{ status?: { phase?: string } }>(Resources.reaperPods, { namespace });
        return pods.items.filter((p) => p.status?.phase === 'Succeeded').length === 5 + 3 * nodes.length;
      },
      { description: 'every ReaperPod Succeeded', timeoutMs: 60_000 },
    );
    console.log(`[faults] redis restarted: converged ${ms(since)} after the restart`);
    expect(timeline.duplicatedAttempts()).toEqual([]);
    expect([...timeline.records.values()].filter((r) => r.name.startsWith('rp-'))).toHaveLength(5);
    expect(live('scheduler').length + live('watcher').length).toBe(2); // no app died with Redis
  });

  it('kube-apiserver SIGKILLed mid-rollout and restarted: the rollout completes, nothing twice', {
    timeout: 180_000,
  }, async () => {
    const { namespace, timeline } = await caseNamespace('apiserver');
    const jobs = await dag(namespace);
    await waitFor(() => timeline.of('a').length >= 2, { description: 'a under way', intervalMs: 20 });
    const killed = await killClusterProcess(cluster.stateDir, 'kube-apiserver');
    const down = performance.now();
    const restarted = await restartClusterProcess(cluster.stateDir, killed);
    await waitFor(() => client.get(Resources.namespaces, namespace).catch(() => undefined), {
      description: 'kube-apiserver serving again',
      timeoutMs: 90_000,
    }).catch(async (err: Error) => {
      // Seen once (load ~10): the restarted API server never served. Its own log says why.
      const log = await readFile(restarted.log, 'utf8').catch((e: Error) => `(no log: ${e.message})`);
      throw new Error(
        `${err.message}\nlast lines of ${restarted.log}:\n${log.split('\n').slice(-40).join('\n')}`,
      );
    });
    console.log(`[faults] kube-apiserver back ${ms(down)} after its SIGKILL`);
    const since = performance.now();
    await completed(namespace, jobs);
    console.log(`[faults] kube-apiserver restarted: DAG Completed ${ms(since)} after it served again`);
    expect(timeline.duplicatedAttempts()).toEqual([]);
    for (const job of jobs) expect(timeline.of(job)).toHaveLength(nodes.length);
  });

  it('a node agent SIGKILLed in the middle of a reset: the overlay still resets on every node', {
    timeout: 120_000,
  }, async () => {
    const { namespace } = await caseNamespace('agent');
    await client.create(
      Resources.reaperOverlays,
      { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperOverlay', metadata: { name: 'o1' }, spec: {} },
      { namespace },
    );
    const overlay = () => client.get<Overlay>(Resources.reaperOverlays, 'o1', { namespace });
    await waitFor(async () => (await overlay())?.status?.phase === 'Ready', { description: 'o1 Ready' });
    await client.patch(
      Resources.reaperOverlays,
      'o1',
      'merge',
      { spec: { resetGeneration: 1 } },
      { namespace },
    );
    const victim = nodes[1] as string;
    await killApp(agents.get(victim) as AppProcess);
    const since = performance.now();
    startAgent(victim);
    let last: Overlay | undefined;
    const done = await waitFor(
      async () => {
        const o = await overlay();
        last = o;
        const entries = o?.status?.nodes ?? [];
        return o?.status?.phase === 'Ready' &&
          o.status.observedResetGeneration === 1 &&
          nodes.every((n) => entries.some((e) => e.nodeName === n && e.resetGeneration === 1))
          ? o
          : undefined;
      },
      { description: 'o1 reset on every node', timeoutMs: 90_000 },
    ).catch((err: Error) => {
      // The overlay's last status says which node or which aggregation step did not get there.
      throw new Error(`${err.message}\nlast o1: ${JSON.stringify(last)}\n${describeOutput(procs)}`);
    });
    console.log(
      `[faults] node agent killed during a reset: Ready at generation 1 ${ms(since)} after its restart`,
    );
    expect(done.status?.observedResetGeneration).toBe(1);
  });

  it('two watchers and two schedulers: the leader watcher and a scheduler die mid-DAG, the others finish it', {
    timeout: 180_000,
  }, async () => {
    const { namespace, timeline } = await caseNamespace('failover');
    start('watcher', 'watcher#2');
    start('scheduler', 'scheduler#2');
    const jobs = await dag(namespace, 'sleep 2');
    await waitFor(() => timeline.of('a').some((r) => r.phase === 'Running'), {
      description: 'a running',
      intervalMs: 20,
    });
    const lease = await client.get<{ spec?: { holderIdentity?: string } }>(
      Resources.leases,
      `rf-faults-${suite}`,
      {
        namespace: 'kube-system',
      },
    );
    const holder = lease?.spec?.holderIdentity ?? '';
    const leader = live('watcher').find((p) => holder.endsWith(`_${p.child.pid}`));
    expect(leader, `the Lease holder ${holder} is one of the watchers`).toBeDefined();
    await killApp(leader as AppProcess);
    await killApp(live('scheduler')[0] as AppProcess);
    const since = performance.now();
    await completed(namespace, jobs);
    console.log(`[faults] leader watcher + one scheduler killed: DAG Completed ${ms(since)} later`);
    expect(timeline.duplicatedAttempts()).toEqual([]);
    for (const job of jobs) expect(timeline.of(job)).toHaveLength(nodes.length);
    const standby = live('watcher')[0] as AppProcess;
    expect(logLines(standby).some((l) => l.msg === 'became leader: starting informers')).toBe(true);
  });

  it('load: 30 DaemonJobs and 100 ReaperPods applied together, each ReaperPod created once', {
    timeout: 240_000,
  }, async () => {
    const { namespace, timeline } = await caseNamespace('load');
    const jobs = Array.from({ length: 30 }, (_, i) => `load-${i}`);
    const loadNodes = nodes.slice(0, 3);
    const applies: Promise<unknown>[] = [];
    for (const name of jobs) {
      applies.push(
        daemonJob(namespace, name, {
          command: ['/bin/sh', '-c', 'true'],
          nodeSelector: { [GROUP]: suite, [LOAD]: 'yes' },
        }),
      );
    }
    for (let i = 0; i < 100; i++) applies.push(reaperPod(namespace, `lp-${i}`, 'true'));
    await Promise.all(applies);
    // Jobs target three nodes each: label them now, so every job's run starts from one Node event.
    for (const n of loadNodes) {
      await client.patch(Resources.nodes, n, 'merge', { metadata: { labels: { [LOAD]: 'yes' } } });
    }
    const since = performance.now();
    await completed(namespace, jobs, 180_000);
    await waitFor(
      async () => {
        const pods = await client.list<{ metadata: { name: string }; status?: { phase?: string } }>(
          Resources.reaperPods,
          {
            namespace,
          },
        );
        return (
          pods.items.filter((p) => p.metadata.name.startsWith('lp-') && p.status?.phase === 'Succeeded')
            .length === 100
        );
      },
      { description: '100 ReaperPods Succeeded', timeoutMs: 120_000 },
    );
    console.log(
      `[faults] load: 30 DaemonJobs x 3 nodes and 100 ReaperPods done ${ms(since)} after the nodes matched`,
    );
    expect(timeline.duplicatedAttempts()).toEqual([]);
    expect(timeline.records.size).toBe(30 * loadNodes.length + 100);
  });
});
