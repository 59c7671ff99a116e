// The like-for-like floor of a fan-out: the unavoidable work of a DaemonJob run over N nodes, done
// directly by one client (KubeClient, the scheduler's pool size and node-run concurrency) against
// the same cluster, the same stand-in kubelet and the same pool nodes as the engine's fan-out, with
// no Redis and no queues: the DaemonJob create (as the user's apply), then per node create the
// ReaperPod -> create its Pod (pinned by nodeName, runtimeClassName reaper-v2, as the engine builds
// it) -> wait on one Pod watch until the kubelet has run it -> write the ReaperPod's status (the
// engine's own mirroredStatus and patchStatus), then one DaemonJob status write. It runs before the
// engine starts (so nothing of reaper-flow reacts to these objects) and is cleaned up before then.
import {
  desiredPod,
  desiredReaperPodForNode,
  formatTime,
  isPersisted,
  mirroredStatus,
  type ObservedPod,
  parseReaperDaemonJob,
  type ReaperPod,
} from '@reaper-flow/domain';
import { KubeClient, patchStatus, Resources } from '@reaper-flow/k8s';
import { type ApiCount, type ApiKinds, apiCounts, apiKinds, RequestTally } from '../api-counts';
import { COMMAND, deleteCollection, pool } from '../ops';
import { progress } from '../progress';
import { counterIncrease, type PromSample, parseProm } from '../prom';
import { Watched } from '../recorder';

export interface FloorResult {
  readonly nodes: number;
  readonly ms: number;
  readonly concurrency: number;
  readonly maxSockets: number;
  /** The floor client's own requests (its watch included), per node-run. */
  readonly client: ApiCount[];
  readonly clientKinds: ApiKinds;
  /** Every request the API server counted over the round, all clients (the kubelet's included). */
  readonly api: ApiCount[];
  readonly apiKinds: ApiKinds;
  /** Watch events the API server sent over the round, all watchers, per node-run. */
  readonly watchEventsPerNodeRun: number;
  /** The API server's CPU over the round (process_cpu_seconds_total), ms per node-run. */
  readonly apiserverCpuMsPerNodeRun: number | undefined;
}

export interface FloorOptions {
  readonly kubeconfigPath: string;
  /** Admin client of the bench: reads the API server's /metrics. */
  readonly admin: KubeClient;
  readonly namespace: string;
  readonly sizes: readonly number[];
  /** The pool nodes a fan-out of `size` runs on (the stand-in kubelet serves them). */
  readonly nodesFor: (size: number) => readonly string[];
  readonly concurrency: number;
  readonly maxSockets: number;
}

const FLOOR_JOB_LABEL = 'bench.reaper.io/floor';

export async function apiserverMetrics(client: KubeClient): Promise<PromSample[]> {
  return parseProm(await client.request<string>('GET', '/metrics', { raw: true }));
}

/**
 * The API server's CPU seconds so far (its process_cpu_seconds_total), or undefined when its
 * /metrics has none: the same reading on both sides of the engine / floor ratio.
 */
export function apiserverCpuSeconds(samples: readonly PromSample[]): number | undefined {
  const s = samples.find((x) => x.name === 'process_cpu_seconds_total');
  return s?.value;
}

/** Per-request increase of apiserver_request_total (resource requests only). */
export function apiserverRequests(before: readonly PromSample[], after: readonly PromSample[]) {
  return counterIncrease(
    before,
    after,
    'apiserver_request_total',
    ['verb', 'resource', 'subresource'],
    (l) => (l.resource ?? '') !== '',
  );
}

/** Watch events the API server sent between two scrapes, all resources. */
export function watchEvents(before: readonly PromSample[], after: readonly PromSample[]): number {
  const inc = counterIncrease(before, after, 'apiserver_watch_events_total', ['resource']);
  return [...inc.values()].reduce((n, c) => n + c, 0);
}

export async function runFloor(opts: FloorOptions): Promise<FloorResult[]> {
  progress.begin('api-floor', `sizes ${opts.sizes.join(', ')}; ${opts.concurrency} in flight`);
  const tally = new RequestTally();
  const client = await KubeClient.create({
    kubeconfigPath: opts.kubeconfigPath,
    maxSockets: opts.maxSockets,
    userAgent: 'reaper-flow-bench-floor',
    onRequest: tally.onRequest,
  });
  const ns = opts.namespace;
  const out: FloorResult[] = [];
  try {
    // A warm-up round, not recorded: the first writes after the cluster started are slower (new
    // resource storage, caches, connections), and would be charged to the smallest size.
    for (const [round, size] of [
      [0, Math.min(20, ...opts.sizes)],
      ...opts.sizes.map((s, i) => [i + 1, s] as const),
    ] as const) {
      const warmUp = round === 0;
      const before = await apiserverMetrics(opts.admin);
      tally.take();
      const ms = await floorRound(client, opts, ns, warmUp ? 'floor-warm-up' : `floor-${size}`, round, size);
      const after = await apiserverMetrics(opts.admin);
      const own = apiCounts(tally.take(), size);
      await cleanFloor(client, ns, size);
      if (warmUp) continue;
      const api = apiCounts(apiserverRequests(before, after), size);
      const r: FloorResult = {
        nodes: size,
        ms,
        concurrency: opts.concurrency,
        maxSockets: opts.maxSockets,
        client: own,
        clientKinds: apiKinds(own),
        api,
        apiKinds: apiKinds(api),
        watchEventsPerNodeRun: watchEvents(before, after) / size,
        apiserverCpuMsPerNodeRun: cpuMsPerNodeRun(before, after, size),
      };
      out.push(r);
      const k = r.apiKinds;
      progress.step(
        `floor ${size} nodes: ${ms.toFixed(0)} ms; API server per node-run: ${k.reads.toFixed(2)} reads, ${k.writes.toFixed(2)} writes, ${r.watchEventsPerNodeRun.toFixed(1)} watch events`,
      );
    }
  } finally {
    client.close();
  }
  return out;
}

function cpuMsPerNodeRun(
  before: readonly PromSample[],
  after: readonly PromSample[],
  nodeRuns: number,
): number | undefined {
  const a = apiserverCpuSeconds(before);
  const b = apiserverCpuSeconds(after);
  return a === undefined || b === undefined ? undefined : ((b - a) * 1000) / nodeRuns;
}

/** One DaemonJob run over `size` nodes, done by hand; resolves with its makespan (ms). */
async function floorRound(
  client: KubeClient,
  opts: FloorOptions,
  ns: string,
  name: string,
  round: number,
  size: number,
): Promise<number> {
  const nodes = opts.nodesFor(size);
  // One watch on the round's Pods (opened before the clock starts, as an engine's watches are
  // already open when a DaemonJob is applied): the kubelet's status writes arrive here.
  const pods = new Watched<ObservedPod>(client, Resources.pods, (o) => o as ObservedPod, {
    namespace: ns,
    labelSelector: 'app.kubernetes.io/managed-by=reaper-flow',
    log: (m) => progress.step(m),
  });
  await pods.start();
  try {
    const t0 = performance.now();
    const created = await client.create<unknown>(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name },
        spec: { command: COMMAND, nodeSelector: { [FLOOR_JOB_LABEL]: 'true' } },
      },
      { namespace: ns },
    );
    const parsed = parseReaperDaemonJob(created);
    if (!parsed.ok || !isPersisted(parsed.value)) throw new Error(`floor job: ${JSON.stringify(parsed)}`);
    const job = parsed.value;
    const runId = `floor${round}`;
    let done = 0;
    const ticker = setInterval(() => progress.step(`${name}: ${done}/${size} node-runs done`), 5000);
    await pool(nodes, opts.concurrency, async (node) => {
      const rpod = await client.create<ReaperPod>(
        Resources.reaperPods,
        desiredReaperPodForNode(job, node, { runId, attempt: 1 }),
        { namespace: ns },
      );
      const uid = rpod.metadata.uid;
      if (!uid) throw new Error('created ReaperPod has no uid');
      await client.create(
        Resources.pods,
        desiredPod({ ...rpod, metadata: { ...rpod.metadata, uid, namespace: ns } }),
        {
          namespace: ns,
        },
      );
      const podName = rpod.metadata.name;
      const ended = await pods.until(
        () => {
          const p = pods.latest.get(podName)?.p;
          const phase = p?.status?.phase;
          return phase === 'Succeeded' || phase === 'Failed' ? p : undefined;
        },
        `floor Pod ${podName} to end`,
        Math.max(120_000, size * 300),
      );
      await patchStatus(
        client,
        Resources.reaperPods,
        { metadata: { name: podName, namespace: ns } },
        mirroredStatus(rpod, ended, undefined, formatTime(new Date())),
      );
      done += 1;
    }).finally(() => clearInterval(ticker));
    await client.patch(
      Resources.reaperDaemonJobs,
      name,
      'merge',
      {
        status: {
          phase: 'Completed',
          readyNodes: size,
          totalNodes: size,
          failedNodes: 0,
          observedGeneration: 1,
          nodeStatuses: nodes.slice(0, 100).map((n) => ({
            nodeName: n,
            phase: 'Succeeded',
            reaperPodName: `${name}-${n}`,
            exitCode: 0,
            retryCount: 0,
          })),
        },
      },
      { namespace: ns, subresource: 'status' },
    );
    return performance.now() - t0;
  } finally {
    await pods.stop();
  }
}

/** Removes every floor object (grace 0) and waits until the namespace holds none. */
async function cleanFloor(client: KubeClient, ns: string, size: number): Promise<void> {
  await deleteCollection(client, Resources.reaperDaemonJobs, ns, undefined);
  await deleteCollection(client, Resources.reaperPods, ns, undefined);
  await deleteCollection(client, Resources.pods, ns, undefined, 0);
  const waitMs = Math.max(120_000, size * 100);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const counts = await Promise.all(
      [Resources.reaperDaemonJobs, Resources.reaperPods, Resources.pods].map(
        async (r) => (await client.list(r, { namespace: ns, limit: 1 })).items.length,
      ),
    );
    if (counts.every((c) => c === 0)) return;
    if (Date.now() > deadline)
      throw new Error(`floor objects in ${ns} not gone after ${waitMs / 1000} s: ${counts}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
