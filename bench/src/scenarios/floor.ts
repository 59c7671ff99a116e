// The API floor of a fan-out: the unavoidable writes of a DaemonJob run over N nodes, issued
// directly by the same client (KubeClient) with the scheduler's concurrency: the DaemonJob create
// (as the user's apply), then per node create ReaperPod -> create Pod -> Pod status -> ReaperPod
// status, then one DaemonJob status write. Runs in its own namespace before the engine starts (so
// nothing reacts to these objects), and is cleaned up before the engine starts.
import {
  desiredPod,
  desiredReaperPodForNode,
  isPersisted,
  parseReaperDaemonJob,
  type ReaperPod,
} from '@reaper-flow/domain';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import { COMMAND, deleteCollection, pool } from '../ops';
import { progress } from '../progress';

export interface FloorResult {
  readonly nodes: number;
  readonly ms: number;
  readonly writes: number;
  readonly concurrency: number;
  readonly maxSockets: number;
}

const ts = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export async function runFloor(opts: {
  kubeconfigPath: string;
  namespace: string;
  id: string;
  sizes: readonly number[];
  concurrency: number;
  maxSockets: number;
}): Promise<FloorResult[]> {
  progress.begin('api-floor', `sizes ${opts.sizes.join(', ')}; ${opts.concurrency} in flight`);
  // The same client class and pool size as the scheduler's (kubernetes.maxSockets).
  const client = await KubeClient.create({
    kubeconfigPath: opts.kubeconfigPath,
    maxSockets: opts.maxSockets,
    userAgent: 'reaper-flow-bench-floor',
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
      const name = warmUp ? 'floor-warm-up' : `floor-${size}`;
      // Node names need not exist: nothing schedules or runs these Pods (and nothing watches them).
      const nodes = Array.from({ length: size }, (_, i) => `b${opts.id}-floor-${String(i).padStart(4, '0')}`);
      const t0 = performance.now();
      const created = await client.create<unknown>(
        Resources.reaperDaemonJobs,
        {
          apiVersion: 'reaper.io/v1alpha1',
          kind: 'ReaperDaemonJob',
          metadata: { name },
          spec: { command: COMMAND, nodeSelector: { 'bench.reaper.io/floor': 'true' } },
        },
        { namespace: ns },
      );
      const parsed = parseReaperDaemonJob(created);
      if (!parsed.ok || !isPersisted(parsed.value)) throw new Error(`floor job: ${JSON.stringify(parsed)}`);
      const job = parsed.value;
      const runId = `floor${round}`;
      await pool(nodes, opts.concurrency, async (node) => {
        const rpod = await client.create<ReaperPod>(
          Resources.reaperPods,
          desiredReaperPodForNode(job, node, { runId, attempt: 1 }),
          { namespace: ns },
        );
        if (!rpod.metadata.uid) throw new Error('created ReaperPod has no uid');
        const pod = desiredPod({
          ...rpod,
          metadata: { ...rpod.metadata, uid: rpod.metadata.uid, namespace: ns },
        });
        await client.create(Resources.pods, pod, { namespace: ns });
        const at = ts();
        await client.patch(
          Resources.pods,
          rpod.metadata.name,
          'merge',
          {
            status: {
              phase: 'Succeeded',
              startTime: at,
              containerStatuses: [
                {
                  name: 'main',
                  ready: false,
                  started: false,
                  restartCount: 0,
                  image: 'reaper',
                  imageID: '',
                  state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: at, finishedAt: at } },
                },
              ],
            },
          },
          { namespace: ns, subresource: 'status' },
        );
        await client.patch(
          Resources.reaperPods,
          rpod.metadata.name,
          'merge',
          {
            status: {
              phase: 'Succeeded',
              podName: rpod.metadata.name,
              nodeName: node,
              exitCode: 0,
              startTime: at,
              completionTime: at,
            },
          },
          { namespace: ns, subresource: 'status' },
        );
      });
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
      const ms = performance.now() - t0;
      if (warmUp) {
        await cleanFloor(client, ns);
        continue;
      }
      out.push({
        nodes: size,
        ms,
        writes: 2 + 4 * size,
        concurrency: opts.concurrency,
        maxSockets: opts.maxSockets,
      });
      progress.step(`floor ${size} nodes: ${ms.toFixed(0)} ms for ${2 + 4 * size} writes`);
      await cleanFloor(client, ns);
    }
  } finally {
    client.close();
  }
  return out;
}

/** Removes every floor object (grace 0) and waits until the namespace holds none. */
async function cleanFloor(client: KubeClient, ns: string): Promise<void> {
  await deleteCollection(client, Resources.reaperDaemonJobs, ns, undefined);
  await deleteCollection(client, Resources.reaperPods, ns, undefined);
  await deleteCollection(client, Resources.pods, ns, undefined, 0);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const counts = await Promise.all(
      [Resources.reaperDaemonJobs, Resources.reaperPods, Resources.pods].map(
        async (r) => (await client.list(r, { namespace: ns, limit: 1 })).items.length,
      ),
    );
    if (counts.every((c) => c === 0)) return;
    if (Date.now() > deadline) throw new Error(`floor objects in ${ns} not gone after 120 s: ${counts}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
