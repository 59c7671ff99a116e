// Operator controls of a ReaperDaemonJob end to end (real API server, Redis, stand-in kubelet,
// apps in-process): suspend / resume in the middle of a rollout throttled by maxUnavailable,
// activeDeadlineSeconds, the retry-failed annotation, and `kubectl wait` on the conditions.
import { randomBytes } from 'node:crypto';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, removeNode, setNodeFault } from '@reaper-flow/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, testEnv, useTestNamespace, waitFor } from './harness/index';
import { type RunningApps, startApps } from './support/apps';
import { ReaperPodTimeline } from './support/reaper-pod-timeline';

const suite = randomBytes(3).toString('hex');
const GROUP_LABEL = 'reaper.io/test-group';
const nodeNames = Array.from({ length: 3 }, (_, i) => `ops-${suite}-${i + 1}`);

interface DaemonJob {
  metadata: { name: string; generation?: number };
  status?: {
    phase?: string;
    observedGeneration?: number;
    lastRetryValue?: string;
    nodeStatuses?: { nodeName: string; phase: string; retryCount: number; message?: string }[];
    conditions?: { type: string; status: string; reason: string }[];
  };
}
interface KubeEvent {
  reason?: string;
  type?: string;
  message?: string;
  involvedObject?: { name?: string };
}

describe('ReaperDaemonJob operations', () => {
  const ns = useTestNamespace('djob-ops');
  let apps: RunningApps;
  let client: KubeClient;
  let timeline: ReaperPodTimeline;

  beforeAll(async () => {
    const env = testEnv();
    client = await KubeClient.create({ kubeconfigPath: env.kubeconfigPath });
    for (const [i, name] of nodeNames.entries()) {
      await addNode(client, { name, labels: { [GROUP_LABEL]: suite, 'ops-index': String(i + 1) } });
    }
    timeline = await new ReaperPodTimeline(client, ns.namespace).start();
    apps = await startApps({
      kubeconfigPath: env.kubeconfigPath,
      redisUrl: env.redisUrl,
      prefix: ns.queuePrefix,
      nodes: nodeNames,
      env: {
        REAPER_FLOW__RETRY__BASE_MS: '200',
        REAPER_FLOW__RETRY__CAP_MS: '500',
        REAPER_FLOW__STATUS__COALESCE_MS: '200',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await apps?.stop();
    await timeline?.stop();
    for (const name of nodeNames) await removeNode(client, name);
    client?.close();
  }, 60_000);

  const create = (name: string, spec: Record<string, unknown>) =>
    client.create(
      Resources.reaperDaemonJobs,
      { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperDaemonJob', metadata: { name }, spec },
      { namespace: ns.namespace },
    );
  const patch = (name: string, body: Record<string, unknown>) =>
    client.patch(Resources.reaperDaemonJobs, name, 'merge', body, { namespace: ns.namespace });
  const getJob = (name: string) =>
    client.get<DaemonJob>(Resources.reaperDaemonJobs, name, { namespace: ns.namespace });
  const condition = (job: DaemonJob | undefined, type: string) =>
    job?.status?.conditions?.find((c) => c.type === type);
  const jobInPhase = (name: string, phase: string) => async () => {
    const job = await getJob(name);
    return job?.status?.phase === phase ? job : undefined;
  };
  const selector = (extra: Record<string, string> = {}) => ({ [GROUP_LABEL]: suite, ...extra });

  it('the API server refuses a maxUnavailable that is neither an integer >= 1 nor a percentage', {
    timeout: 15_000,
  }, async () => {
    for (const [i, bad] of ['150%', 'half', 0].entries()) {
      const refused = await create(`bad-width-${i}`, { command: ['/bin/true'], maxUnavailable: bad }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(String(refused)).toMatch(/maxUnavailable/);
    }
    await create('good-width', {
      command: ['/bin/true'],
      nodeSelector: selector({ none: 'x' }),
      maxUnavailable: '50%',
    });
  });

  it('suspend in the middle of a maxUnavailable: 1 rollout starts no new ReaperPod until resume, and is no spec change', {
    timeout: 45_000,
  }, async () => {
    await create('rollout', {
      command: ['/bin/sh', '-c'],
      args: ['sleep 2'],
      nodeSelector: selector(),
      maxUnavailable: 1,
    });
    // The first node runs alone (maxUnavailable 1); suspend while it does.
    await waitFor(() => timeline.of('rollout').length === 1, {
      description: 'the first ReaperPod of the rollout',
      timeoutMs: 15_000,
    });
    await patch('rollout', { spec: { suspend: true } });
    const suspended = await waitFor(
      async () => {
        const job = await getJob('rollout');
        return condition(job, 'Suspended')?.status === 'True' ? job : undefined;
      },
      { description: 'the Suspended condition', timeoutMs: 10_000 },
    );
    expect(condition(suspended, 'Suspended')?.reason).toBe('Suspended');
    const [first] = timeline.of('rollout');
    // The running attempt finishes; the slot it frees wakes the next node-run, which must wait.
    await waitFor(() => first?.phase === 'Succeeded', {
      description: 'the running attempt to finish while suspended',
      timeoutMs: 15_000,
    });
    // The freed slot wakes the next node-run, which would create its ReaperPod now: instead it
    // parks on the suspension and says so in the status. Once every node that has not run says
    // that, each has decided not to start (only a wake after the resume moves it on): none may have.
    const afterFinish = await waitFor(
      async () => {
        const job = await getJob('rollout');
        const statuses = job?.status?.nodeStatuses ?? [];
        const waiting = statuses.filter((n) => n.message === 'waiting: the job is suspended');
        return statuses.filter((n) => n.phase === 'Succeeded').length === 1 &&
          waiting.length === nodeNames.length - 1
          ? job
          : undefined;
      },
      { description: 'the other nodes parked on the suspension', timeoutMs: 15_000 },
    );
    expect(afterFinish.status?.phase).toBe('Running');
    expect(timeline.of('rollout')).toHaveLength(1);

    await patch('rollout', { spec: { suspend: false } });
    const done = await waitFor(jobInPhase('rollout', 'Completed'), {
      description: 'rollout Completed after resume',
      timeoutMs: 25_000,
    });
    // Each node ran once: toggling suspend (two generations) started no SpecChanged run.
    for (const node of nodeNames) expect(timeline.of('rollout', node)).toHaveLength(1);
    expect(done.status?.observedGeneration).toBe(done.metadata.generation);
    expect(done.metadata.generation).toBe(3);
    expect(condition(done, 'Suspended')?.status).toBe('False');
    // maxUnavailable 1: no two ReaperPods of the job overlapped.
    const pods = timeline.of('rollout');
    for (let i = 1; i < pods.length; i++) {
      expect(pods[i - 1]?.finishedAt).toBeDefined();
      expect(pods[i]?.createdAt).toBeGreaterThan(pods[i - 1]?.finishedAt ?? Infinity);
    }
    const wait = await kubectl([
      'wait',
      '--for=condition=Complete',
      'rdjob/rollout',
      '-n',
      ns.namespace,
      '--timeout=20s',
    ]);
    expect(wait).toMatchObject({ code: 0 });
    expect(wait.stdout).toContain('condition met');
  });

  it('activeDeadlineSeconds stops an attempt that runs too long: DeadlineExceeded, retried, then PartiallyFailed', {
    timeout: 45_000,
  }, async () => {
    await create('deadline', {
      command: ['/bin/sh', '-c'],
      args: ['sleep 30'],
      nodeSelector: selector({ 'ops-index': '1' }),
      activeDeadlineSeconds: 2,
      retryLimit: 1,
    });
    const wait = await kubectl([
      'wait',
      '--for=condition=Failed',
      'rdjob/deadline',
      '-n',
      ns.namespace,
      '--timeout=30s',
    ]);
    expect(wait).toMatchObject({ code: 0 });
    const job = await getJob('deadline');
    expect(job?.status?.phase).toBe('PartiallyFailed');
    expect(condition(job, 'Complete')?.status).toBe('False');
    const [node] = job?.status?.nodeStatuses ?? [];
    expect(node).toMatchObject({ phase: 'Failed', retryCount: 1 });
    expect(node?.message).toMatch(/^DeadlineExceeded/);
    const pods = timeline.of('deadline');
    expect(pods.map((p) => p.attempt)).toEqual(['1', '2']);
    const events = await waitFor(
      async () => {
        const list = await client.list<KubeEvent>(Resources.events, { namespace: ns.namespace });
        const found = list.items.filter(
          (e) => e.involvedObject?.name === 'deadline' && e.reason === 'DeadlineExceeded',
        );
        return found.length >= 2 ? found : undefined;
      },
      { description: 'two DeadlineExceeded Events', timeoutMs: 10_000 },
    );
    expect(events.every((e) => e.type === 'Warning')).toBe(true);
    // Stopping an attempt deletes its ReaperPod (and so its Pod and process).
    await waitFor(
      async () =>
        (await client.get(Resources.reaperPods, 'deadline-'.concat(nodeNames[0] ?? ''), {
          namespace: ns.namespace,
        })) === undefined,
      { description: 'the last overdue ReaperPod to be gone', timeoutMs: 15_000 },
    );
  });

  it('retry-failed re-runs only the exhausted node with fresh retries; the job ends Completed and its dependent then runs there', {
    timeout: 45_000,
  }, async () => {
    const [good, bad] = nodeNames as [string, string];
    // Two failures: the first attempt and its one retry; the retry-failed run then succeeds.
    await setNodeFault(client, { namespace: ns.namespace, job: 'base', node: bad, times: 2 });
    const spec = (args: string) => ({
      command: ['/bin/sh', '-c'],
      args: [args],
      nodeSelector: selector(),
    });
    await create('base', { ...spec('true'), retryLimit: 1 });
    // A percentage maxUnavailable: 1% of 3 nodes rounds up to 1 node at a time.
    await create('follow', { ...spec('sleep 0.5'), after: ['base'], maxUnavailable: '1%' });
    const failed = await waitFor(jobInPhase('base', 'PartiallyFailed'), {
      description: 'base PartiallyFailed on the faulty node',
      timeoutMs: 20_000,
    });
    expect(failed.status?.nodeStatuses?.find((n) => n.nodeName === bad)).toMatchObject({
      phase: 'Failed',
      retryCount: 1,
    });
    expect(timeline.of('follow')).toHaveLength(0);

    await patch('base', { metadata: { annotations: { 'reaper.io/retry-failed': 'r1' } } });
    const done = await waitFor(jobInPhase('base', 'Completed'), {
      description: 'base Completed after retry-failed',
      timeoutMs: 20_000,
    });
    expect(done.status?.lastRetryValue).toBe('r1');
    expect(done.status?.nodeStatuses?.find((n) => n.nodeName === bad)).toMatchObject({
      phase: 'Succeeded',
      retryCount: 0,
    });
    // Only the failed node ran again; the others kept their result.
    expect(timeline.of('base', bad).map((p) => p.attempt)).toEqual(['1', '2', '1']);
    expect(timeline.of('base', good)).toHaveLength(1);
    expect(timeline.of('base', nodeNames[2])).toHaveLength(1);

    await waitFor(jobInPhase('follow', 'Completed'), {
      description: 'the dependent Completed',
      timeoutMs: 20_000,
    });
    expect(timeline.orderViolations('follow', 'base')).toEqual([]);
    expect(timeline.of('follow', bad)).toHaveLength(1);
    const follow = timeline.of('follow');
    expect(follow).toHaveLength(3);
    for (let i = 1; i < follow.length; i++) {
      expect(follow[i]?.createdAt).toBeGreaterThan(follow[i - 1]?.finishedAt ?? Infinity);
    }
    expect(timeline.duplicatedAttempts()).toEqual([]);
  });
});
