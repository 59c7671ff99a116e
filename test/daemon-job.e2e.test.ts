// The ReaperDaemonJob engine end to end: real API server, Redis, stand-in kubelet running the
// commands as processes on simulated nodes, and the watcher, scheduler and node agents in-process.
import { randomBytes } from 'node:crypto';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, rebootNode, removeNode, setNodeFault } from '@reaper-flow/local-cluster';
import { createRedis, QueueNames } from '@reaper-flow/queue';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestNamespace, waitFor } from './harness/index';
import { type RunningApps, startApps } from './support/apps';

const suite = randomBytes(3).toString('hex');
const GROUP_LABEL = 'reaper.io/test-group';
const nodeNames = Array.from({ length: 5 }, (_, i) => `dj-${suite}-${i + 1}`);

interface DaemonJobStatus {
  phase?: string;
  readyNodes?: number;
  totalNodes?: number;
  failedNodes?: number;
  observedGeneration?: number;
  message?: string;
  nodeStatuses?: {
    nodeName: string;
    phase: string;
    retryCount: number;
    exitCode?: number;
    reaperPodName?: string;
  }[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
}
interface DaemonJob {
  metadata: { name: string; generation?: number; uid?: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: DaemonJobStatus;
}
interface ReaperPodObj {
  metadata: {
    name: string;
    uid: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: { nodeName?: string };
  status?: { phase?: string };
}

describe('ReaperDaemonJob engine', () => {
  const ns = useTestNamespace('djob');
  let apps: RunningApps;
  let client: KubeClient;
  let redis: Redis;

  beforeAll(async () => {
    const env = testEnv();
    client = await KubeClient.create({ kubeconfigPath: env.kubeconfigPath });
    redis = createRedis({ url: env.redisUrl }, 'producer');
    for (const [i, name] of nodeNames.entries()) {
      await addNode(client, {
        name,
        labels: { [GROUP_LABEL]: suite, ...(i < 3 ? { role: 'compute' } : {}) },
      });
    }
    apps = await startApps({
      kubeconfigPath: env.kubeconfigPath,
      redisUrl: env.redisUrl,
      prefix: ns.queuePrefix,
      nodes: nodeNames,
      env: {
        REAPER_FLOW__RETRY__BASE_MS: '200',
        REAPER_FLOW__RETRY__CAP_MS: '1000',
        REAPER_FLOW__STATUS__COALESCE_MS: '200',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await apps?.stop();
    for (const name of nodeNames) await removeNode(client, name);
    client?.close();
    redis?.disconnect();
  }, 60_000);

  const selector = (extra: Record<string, string> = {}) => ({ [GROUP_LABEL]: suite, ...extra });

  async function apply(name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) {
    return client.create<DaemonJob>(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name, ...(annotations ? { annotations } : {}) },
        spec,
      },
      { namespace: ns.namespace },
    );
  }
  const getJob = (name: string) =>
    client.get<DaemonJob>(Resources.reaperDaemonJobs, name, { namespace: ns.namespace });
  const jobInPhase = (name: string, phase: string) => async () => {
    const job = await getJob(name);
    return job?.status?.phase === phase ? job : undefined;
  };
  const listReaperPods = async (job: string) =>
    (await client.list<ReaperPodObj>(Resources.reaperPods, { namespace: ns.namespace })).items.filter((p) =>
      p.metadata.name.startsWith(`${job}-`),
    );

  it('runs the seed node-info example on every matching node', { timeout: 60_000 }, async () => {
    await apply('node-info', {
      command: ['/bin/sh', '-c'],
      args: ['echo "Node: $(hostname)"\necho "Kernel: $(uname -r)"\n'],
      nodeSelector: selector(),
    });
    const job = await waitFor(jobInPhase('node-info', 'Completed'), {
      description: 'node-info Completed',
      timeoutMs: 45_000,
    });
    expect(job.status).toMatchObject({ readyNodes: 5, totalNodes: 5, failedNodes: 0, observedGeneration: 1 });
    expect(job.status?.nodeStatuses?.map((n) => [n.nodeName, n.phase, n.exitCode])).toEqual(
      nodeNames.map((n) => [n, 'Succeeded', 0]),
    );
  });

  it('install-packages waits for mount-filesystems, then completes on every compute node', {
    timeout: 60_000,
  }, async () => {
    // The dependent first: it must wait (Pending, naming the missing dependency), then follow.
    await apply('install-packages', {
      command: ['/bin/sh', '-c'],
      args: ['echo "would run: apt-get update && apt-get install -y htop"'],
      overlayName: 'node-config',
      after: ['mount-filesystems'],
      nodeSelector: selector({ role: 'compute' }),
      retryLimit: 2,
    });
    const waiting = await waitFor(
      async () => {
        const j = await getJob('install-packages');
        return j?.status?.message?.includes('mount-filesystems') ? j : undefined;
      },
      { description: 'install-packages to name its missing dependency' },
    );
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.conditions?.find((c) => c.type === 'Blocked')).toMatchObject({
      status: 'True',
      reason: 'DependencyMissing',
    });
    await client.create(
      Resources.reaperOverlays,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperOverlay',
        metadata: { name: 'node-config' },
        spec: {},
      },
      { namespace: ns.namespace },
    );
    await apply('mount-filesystems', {
      command: ['/bin/sh', '-c'],
      args: ['echo "would run: mkdir -p /mnt/shared && mount -t nfs server:/export /mnt/shared"'],
      overlayName: 'node-config',
      nodeSelector: selector({ role: 'compute' }),
    });
    const dep = await waitFor(jobInPhase('mount-filesystems', 'Completed'), {
      description: 'mount-filesystems Completed',
      timeoutMs: 45_000,
    });
    expect(dep.status).toMatchObject({ readyNodes: 3, totalNodes: 3 });
    const job = await waitFor(jobInPhase('install-packages', 'Completed'), {
      description: 'install-packages Completed',
      timeoutMs: 45_000,
    });
    expect(job.status).toMatchObject({ readyNodes: 3, totalNodes: 3 });
    // It started only after its dependency completed: every one of its pods is younger.
    const depDone = Math.max(
      ...(await listReaperPods('mount-filesystems')).map((p) =>
        Date.parse(String((p.status as { completionTime?: string })?.completionTime)),
      ),
    );
    const firstStart = Math.min(
      ...(await listReaperPods('install-packages')).map((p) =>
        Date.parse(
          String((p as unknown as { metadata: { creationTimestamp: string } }).metadata.creationTimestamp),
        ),
      ),
    );
    expect(firstStart).toBeGreaterThanOrEqual(Math.floor(depDone / 1000) * 1000);
  });

  it('a three-stage chain and a diamond run in dependency order', { timeout: 90_000 }, async () => {
    const spec = (after: string[]) => ({
      command: ['/bin/sh', '-c', 'true'],
      nodeSelector: selector({ role: 'compute' }),
      ...(after.length ? { after } : {}),
    });
    // Created in reverse order: each waits for what it names.
    await apply('chain-c', spec(['chain-b']));
    await apply('chain-b', spec(['chain-a']));
    await apply('chain-a', spec([]));
    await apply('dia-d', spec(['dia-b', 'dia-c']));
    await apply('dia-b', spec(['dia-a']));
    await apply('dia-c', spec(['dia-a']));
    await apply('dia-a', spec([]));
    for (const name of ['chain-a', 'chain-b', 'chain-c', 'dia-a', 'dia-b', 'dia-c', 'dia-d']) {
      await waitFor(jobInPhase(name, 'Completed'), { description: `${name} Completed`, timeoutMs: 60_000 });
    }
    const created = async (job: string) =>
      Math.min(
        ...(await listReaperPods(job)).map((p) =>
          Date.parse(
            (p as unknown as { metadata: { creationTimestamp: string } }).metadata.creationTimestamp,
          ),
        ),
      );
    expect(await created('chain-b')).toBeGreaterThanOrEqual(await created('chain-a'));
    expect(await created('chain-c')).toBeGreaterThanOrEqual(await created('chain-b'));
    expect(await created('dia-d')).toBeGreaterThanOrEqual(
      Math.max(await created('dia-b'), await created('dia-c')),
    );
  });

  it('retries a failing node with backoff and blocks dependents of a partially failed job', {
    timeout: 90_000,
  }, async () => {
    const [flaky, broken] = nodeNames as [string, string, ...string[]];
    await setNodeFault(client, { namespace: ns.namespace, job: 'flaky-job', node: flaky, times: 2 });
    await setNodeFault(client, { namespace: ns.namespace, job: 'flaky-job', node: broken, times: 3 });
    await apply('flaky-job', { command: ['/bin/sh', '-c', 'true'], nodeSelector: selector(), retryLimit: 2 });
    await apply('after-flaky', {
      command: ['/bin/sh', '-c', 'true'],
      nodeSelector: selector(),
      after: ['flaky-job'],
    });
    const job = await waitFor(jobInPhase('flaky-job', 'PartiallyFailed'), {
      description: 'flaky-job PartiallyFailed',
      timeoutMs: 60_000,
    });
    const byNode = new Map(job.status?.nodeStatuses?.map((n) => [n.nodeName, n]));
    expect(byNode.get(flaky)).toMatchObject({ phase: 'Succeeded', retryCount: 2, exitCode: 0 });
    expect(byNode.get(broken)).toMatchObject({ phase: 'Failed', retryCount: 2, exitCode: 1 });
    expect(job.status).toMatchObject({ readyNodes: 4, failedNodes: 1, totalNodes: 5 });
    const dependent = await waitFor(
      async () => {
        const j = await getJob('after-flaky');
        return j?.status?.conditions?.some((c) => c.type === 'Blocked' && c.reason === 'DependencyFailed')
          ? j
          : undefined;
      },
      { description: 'after-flaky blocked with DependencyFailed' },
    );
    expect(dependent.status?.phase).toBe('Pending');
    expect(await listReaperPods('after-flaky')).toEqual([]);
  });

  it('reports a cycle and a self-dependency instead of deadlocking silently', {
    timeout: 30_000,
  }, async () => {
    await apply('cyc-a', { command: ['true'], nodeSelector: selector(), after: ['cyc-b'] });
    await apply('cyc-b', { command: ['true'], nodeSelector: selector(), after: ['cyc-a'] });
    await apply('selfish', { command: ['true'], nodeSelector: selector(), after: ['selfish'] });
    for (const [name, path] of [
      ['cyc-a', 'cyc-a -> cyc-b -> cyc-a'],
      ['cyc-b', 'cyc-b -> cyc-a -> cyc-b'],
      ['selfish', 'selfish -> selfish'],
    ] as const) {
      const job = await waitFor(
        async () => {
          const j = await getJob(name);
          return j?.status?.conditions?.some((c) => c.reason === 'DependencyCycle') ? j : undefined;
        },
        { description: `${name} reports DependencyCycle` },
      );
      expect(job.status?.phase).toBe('Pending');
      expect(job.status?.conditions?.find((c) => c.reason === 'DependencyCycle')?.message).toContain(path);
    }
    const events = await client.list<{ reason: string; type: string; involvedObject: { name: string } }>(
      Resources.events,
      {
        namespace: ns.namespace,
      },
    );
    expect(events.items.some((e) => e.involvedObject.name === 'selfish' && e.type === 'Warning')).toBe(true);
  });

  it('Skip keeps the running run on a spec change; Replace kills it and re-runs', {
    timeout: 90_000,
  }, async () => {
    const [n1] = nodeNames as [string];
    const only = selector({ 'kubernetes.io/hostname': n1 });
    await apply('skipper', {
      command: ['/bin/sh', '-c', 'sleep 4'],
      nodeSelector: only,
      concurrencyPolicy: 'Skip',
    });
    await apply('replacer', {
      command: ['/bin/sh', '-c', 'sleep 60'],
      nodeSelector: only,
      concurrencyPolicy: 'Replace',
    });
    for (const name of ['skipper', 'replacer']) {
      await waitFor(async () => (await getJob(name))?.status?.nodeStatuses?.[0]?.phase === 'Running', {
        description: `${name} running on ${n1}`,
      });
    }
    const firstReplacerPod = (await listReaperPods('replacer'))[0];
    const patch = (name: string, args: string[]) =>
      client.patch(
        Resources.reaperDaemonJobs,
        name,
        'merge',
        { spec: { command: ['/bin/sh', '-c', ...args] } },
        { namespace: ns.namespace },
      );
    await patch('skipper', ['exit 0']);
    await patch('replacer', ['exit 0']);
    // Replace: the long run is deleted and the new spec completes at once.
    const replaced = await waitFor(jobInPhase('replacer', 'Completed'), {
      description: 'replacer Completed',
      timeoutMs: 30_000,
    });
    expect(replaced.status?.observedGeneration).toBe(2);
    const replacerPods = await listReaperPods('replacer');
    expect(replacerPods.map((p) => p.metadata.uid)).not.toContain(firstReplacerPod?.metadata.uid);
    // Skip: the running `sleep 4` finishes; the trigger was recorded as skipped.
    const skipped = await waitFor(jobInPhase('skipper', 'Completed'), {
      description: 'skipper Completed',
      timeoutMs: 30_000,
    });
    expect(skipped.status?.nodeStatuses?.[0]?.phase).toBe('Succeeded');
    const events = await client.list<{ reason: string; involvedObject: { name: string } }>(Resources.events, {
      namespace: ns.namespace,
    });
    const reasons = (name: string) =>
      events.items.filter((e) => e.involvedObject.name === name).map((e) => e.reason);
    expect(reasons('skipper')).toContain('TriggerSkipped');
    expect(reasons('replacer')).toContain('TriggerReplaced');
  });

  it('a Manual job re-runs on every node when its trigger annotation changes, not on node events', {
    timeout: 60_000,
  }, async () => {
    await apply('manual-job', {
      command: ['/bin/sh', '-c', 'true'],
      nodeSelector: selector({ role: 'compute' }),
      triggerOn: 'Manual',
    });
    await waitFor(jobInPhase('manual-job', 'Completed'), { description: 'manual-job Completed' });
    const before = new Map(
      (await listReaperPods('manual-job')).map((p) => [
        p.metadata.name,
        p.metadata.annotations?.['reaper.io/run-id'],
      ]),
    );
    await client.patch(
      Resources.reaperDaemonJobs,
      'manual-job',
      'merge',
      { metadata: { annotations: { 'reaper.io/trigger': 'again-1' } } },
      { namespace: ns.namespace },
    );
    await waitFor(
      async () => {
        const pods = await listReaperPods('manual-job');
        return (
          pods.length === 3 &&
          pods.every(
            (p) =>
              p.metadata.annotations?.['reaper.io/run-id'] !== before.get(p.metadata.name) &&
              p.status?.phase === 'Succeeded',
          )
        );
      },
      { description: 'manual-job re-run on all 3 compute nodes' },
    );
    const job = await waitFor(jobInPhase('manual-job', 'Completed'), {
      description: 'manual-job Completed again',
    });
    expect((job.status as { lastTriggerValue?: string }).lastTriggerValue).toBe('again-1');
  });

  it('a joining node runs alone, a reboot re-runs, a removed label deletes the node ReaperPod', {
    timeout: 90_000,
  }, async () => {
    const extra = `dj-${suite}-extra`;
    const [n1] = nodeNames as [string];
    await client.patch(Resources.nodes, n1, 'merge', { metadata: { labels: { follow: 'yes' } } });
    await apply('follow-nodes', {
      command: ['/bin/sh', '-c', 'true'],
      nodeSelector: selector({ follow: 'yes' }),
    });
    // If the job's first reconcile comes before the watcher stored the label, it completes on zero
    // nodes and then runs on n1 as a joining node: wait for the run on n1, not the first Completed.
    const first = await waitFor(
      async () => {
        const job = await jobInPhase('follow-nodes', 'Completed')();
        return job?.status?.totalNodes === 1 ? job : undefined;
      },
      { description: 'follow-nodes Completed on 1 node' },
    );
    expect(first.status?.readyNodes).toBe(1);
    const n1Run = (await listReaperPods('follow-nodes'))[0]?.metadata.annotations?.['reaper.io/run-id'];

    await addNode(client, { name: extra, labels: { [GROUP_LABEL]: suite, follow: 'yes' } });
    nodeNames.push(extra);
    await apps.addAgent?.(extra);
    const joined = await waitFor(
      async () => {
        const j = await getJob('follow-nodes');
        return j?.status?.phase === 'Completed' && j.status.totalNodes === 2 ? j : undefined;
      },
      { description: 'follow-nodes Completed on 2 nodes' },
    );
    expect(joined.status?.readyNodes).toBe(2);
    const runs = new Map(
      (await listReaperPods('follow-nodes')).map((p) => [
        p.spec.nodeName,
        p.metadata.annotations?.['reaper.io/run-id'],
      ]),
    );
    expect(runs.get(n1)).toBe(n1Run); // n1 did not run again

    await rebootNode(client, extra);
    await waitFor(
      async () => {
        const pods = await listReaperPods('follow-nodes');
        const pod = pods.find((p) => p.spec.nodeName === extra);
        return (
          pod &&
          pod.metadata.annotations?.['reaper.io/run-id'] !== runs.get(extra) &&
          pod.status?.phase === 'Succeeded'
        );
      },
      { description: `a new run on ${extra} after its reboot` },
    );

    await client.patch(Resources.nodes, extra, 'merge', { metadata: { labels: { follow: null } } });
    await waitFor(
      async () => {
        const j = await getJob('follow-nodes');
        const pods = await listReaperPods('follow-nodes');
        return j?.status?.totalNodes === 1 && !pods.some((p) => p.spec.nodeName === extra);
      },
      { description: `${extra} leaves the targets and its ReaperPod is deleted` },
    );
  });

  it('deleting a DaemonJob removes its pending work and, by garbage collection, its ReaperPods', {
    timeout: 60_000,
  }, async () => {
    await apply('doomed-job', {
      command: ['/bin/sh', '-c', 'sleep 30'],
      nodeSelector: selector({ role: 'compute' }),
    });
    await waitFor(async () => (await getJob('doomed-job'))?.status?.phase === 'Running', {
      description: 'doomed-job Running',
    });
    const nodeRuns = new Queue(QueueNames.nodeRuns, { connection: redis, prefix: ns.queuePrefix });
    const pendingOfJob = async () =>
      (await nodeRuns.getJobs(['delayed', 'waiting', 'active', 'waiting-children'])).filter(
        (j) => (j.data as { job?: string }).job === 'doomed-job',
      ).length;
    expect(await pendingOfJob()).toBe(3);
    await client.delete(Resources.reaperDaemonJobs, 'doomed-job', { namespace: ns.namespace });
    await waitFor(
      async () => (await pendingOfJob()) === 0 && (await listReaperPods('doomed-job')).length === 0,
      {
        description: 'doomed-job node-runs removed and its ReaperPods garbage-collected',
        timeoutMs: 45_000,
      },
    );
    await nodeRuns.close();
  });
});
