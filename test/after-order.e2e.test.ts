// The per-node `after` rule end to end: whatever triggers a run on a node (creation, a node joining,
// a reboot, a Manual trigger), a job's ReaperPod on that node is created only after every dependency's
// ReaperPod there has Succeeded. Order is read from one ReaperPod watch opened before anything runs,
// to the millisecond, not from second-resolution creationTimestamps.
import { randomBytes } from 'node:crypto';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, rebootNode, removeNode, setNodeFault } from '@reaper-flow/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestNamespace, waitFor } from './harness/index';
import { type RunningApps, startApps } from './support/apps';
import { ReaperPodTimeline } from './support/reaper-pod-timeline';

const suite = randomBytes(3).toString('hex');
const GROUP_LABEL = 'reaper.io/test-group';
const node = (i: number) => `ord-${suite}-${i}`;

interface DaemonJob {
  metadata: { name: string };
  status?: {
    phase?: string;
    totalNodes?: number;
    nodeStatuses?: { nodeName: string; phase: string; message?: string }[];
  };
}

/** chain: ca -> cb -> cc; diamond: da -> (db, dc) -> dd. Roots sleep so a dependent could overtake. */
const JOBS: Record<string, { after: string[]; command: string }> = {
  ca: { after: [], command: 'sleep 1' },
  cb: { after: ['ca'], command: 'sleep 0.3' },
  cc: { after: ['cb'], command: 'true' },
  da: { after: [], command: 'sleep 1' },
  db: { after: ['da'], command: 'true' },
  dc: { after: ['da'], command: 'sleep 0.5' },
  dd: { after: ['db', 'dc'], command: 'true' },
};
const EDGES = Object.entries(JOBS).flatMap(([name, job]) => job.after.map((dep) => [name, dep] as const));

describe('after holds on every node at every trigger', () => {
  const ns = useTestNamespace('order');
  let client: KubeClient;
  let apps: RunningApps;
  let timeline: ReaperPodTimeline;
  const nodes = [node(1), node(2)];

  beforeAll(async () => {
    const env = testEnv();
    client = await KubeClient.create({ kubeconfigPath: env.kubeconfigPath });
    for (const name of nodes) await addNode(client, { name, labels: { [GROUP_LABEL]: suite } });
    apps = await startApps({
      kubeconfigPath: env.kubeconfigPath,
      redisUrl: env.redisUrl,
      prefix: ns.queuePrefix,
      nodes,
      env: { REAPER_FLOW__STATUS__COALESCE_MS: '200' },
    });
    timeline = await new ReaperPodTimeline(client, ns.namespace).start();
  }, 120_000);

  afterAll(async () => {
    await timeline?.stop();
    await apps?.stop();
    for (const name of nodes) await removeNode(client, name);
    client?.close();
  }, 60_000);

  const getJob = (name: string) =>
    client.get<DaemonJob>(Resources.reaperDaemonJobs, name, { namespace: ns.namespace });
  const annotate = (name: string, value: string) =>
    client.patch(
      Resources.reaperDaemonJobs,
      name,
      'merge',
      { metadata: { annotations: { 'reaper.io/trigger': value } } },
      {
        namespace: ns.namespace,
      },
    );

  /** Every job Completed, with a Succeeded ReaperPod on each of `on` newer than `since`. */
  async function settled(
    description: string,
    on: readonly string[],
    since: number,
    jobs = Object.keys(JOBS),
  ) {
    for (const job of jobs) {
      await waitFor(
        async () => {
          const status = (await getJob(job))?.status;
          if (status?.phase !== 'Completed') return false;
          return on.every((n) => {
            const last = timeline.of(job, n).at(-1);
            return last !== undefined && last.createdAt > since && last.phase === 'Succeeded';
          });
        },
        { description: `${job} ${description}`, timeoutMs: 60_000 },
      );
    }
  }

  function expectOrder(): void {
    const violations = EDGES.flatMap(([dependent, dependency]) =>
      timeline.orderViolations(dependent, dependency),
    );
    expect(violations).toEqual([]);
    expect(timeline.duplicatedAttempts()).toEqual([]);
  }

  it('created in reverse order, every job runs on each node after what it names', {
    timeout: 90_000,
  }, async () => {
    for (const name of Object.keys(JOBS).reverse()) {
      const { after, command } = JOBS[name] as { after: string[]; command: string };
      await client.create(
        Resources.reaperDaemonJobs,
        {
          apiVersion: 'reaper.io/v1alpha1',
          kind: 'ReaperDaemonJob',
          metadata: { name },
          spec: {
            command: ['/bin/sh', '-c', command],
            nodeSelector: { [GROUP_LABEL]: suite },
            ...(after.length > 0 && { after }),
          },
        },
        { namespace: ns.namespace },
      );
    }
    await settled('Completed on the first nodes', nodes, 0);
    expectOrder();
  });

  it('a joining node runs each chain in order, not every job at once', { timeout: 90_000 }, async () => {
    const joined = node(3);
    const since = performance.now();
    await addNode(client, { name: joined, labels: { [GROUP_LABEL]: suite } });
    nodes.push(joined);
    await apps.addAgent(joined);
    await settled(`Completed on ${joined}`, [joined], since);
    expectOrder();
    // The nodes already done did not run again.
    for (const job of Object.keys(JOBS)) expect(timeline.of(job, node(1))).toHaveLength(1);
  });

  it('a rebooted node re-runs each chain in order', { timeout: 90_000 }, async () => {
    const rebooted = node(3);
    const since = performance.now();
    await rebootNode(client, rebooted, { downMs: 200 });
    await settled(`re-run on ${rebooted} after its reboot`, [rebooted], since);
    expectOrder();
  });

  it('a Manual trigger of the root and its dependents: each dependent waits for the root re-run on every node', {
    timeout: 90_000,
  }, async () => {
    const since = performance.now();
    await annotate('ca', 'round-2');
    await annotate('cb', 'round-2');
    await annotate('cc', 'round-2');
    await settled('re-run after the Manual trigger', nodes, since, ['ca', 'cb', 'cc']);
    expectOrder();
    for (const n of nodes) {
      const root = timeline.of('ca', n).at(-1);
      const dependent = timeline.of('cb', n).at(-1);
      expect(root?.createdAt).toBeGreaterThan(since);
      expect(dependent?.createdAt).toBeGreaterThan(root?.finishedAt ?? Number.POSITIVE_INFINITY);
    }
  });

  it('a dependency that fails only on a new node blocks its dependents there; other nodes keep their results', {
    timeout: 90_000,
  }, async () => {
    const broken = node(4);
    await setNodeFault(client, { namespace: ns.namespace, job: 'ca', node: broken, times: 1 });
    const podsBefore = new Map(Object.keys(JOBS).map((job) => [job, timeline.of(job).length]));
    await addNode(client, { name: broken, labels: { [GROUP_LABEL]: suite } });
    nodes.push(broken);
    await apps.addAgent(broken);

    await waitFor(async () => (await getJob('ca'))?.status?.phase === 'PartiallyFailed', {
      description: `ca PartiallyFailed (failed on ${broken})`,
    });
    const cb = await waitFor(
      async () => {
        const job = await getJob('cb');
        const entry = job?.status?.nodeStatuses?.find((s) => s.nodeName === broken);
        return entry?.message?.includes('dependency ca failed here') ? job : undefined;
      },
      { description: `cb blocked on ${broken} with a reason` },
    );
    expect(cb.status?.nodeStatuses?.find((s) => s.nodeName === broken)?.phase).toBe('Pending');
    for (const other of nodes.filter((n) => n !== broken)) {
      expect(cb.status?.nodeStatuses?.find((s) => s.nodeName === other)?.phase).toBe('Succeeded');
    }
    // The diamond is independent of ca: it completes on the new node meanwhile.
    await settled(`the diamond Completed on ${broken}`, [broken], 0, ['da', 'db', 'dc', 'dd']);
    expect(timeline.of('cb', broken)).toEqual([]);
    expect(timeline.of('cc', broken)).toEqual([]);
    expect(timeline.of('cb')).toHaveLength(podsBefore.get('cb') ?? -1);

    // Re-running ca (the fault is used up) releases the chain on that node.
    const since = performance.now();
    await annotate('ca', 'round-3');
    await settled(`ca, cb and cc Completed on ${broken}`, [broken], since, ['ca']);
    await settled(`cb and cc Completed on ${broken}`, [broken], 0, ['cb', 'cc']);
    expectOrder();
  });
});
