// Kubernetes and Redis operations the scenarios share: DaemonJobs, nodes, clean-up, quiescence.
import { ApiError, type KubeClient, type ResourceRef, Resources, resourcePath } from '@reaper-flow/k8s';
import { addNode } from '@reaper-flow/local-cluster';
import { QueueNames, RECONCILE_KINDS } from '@reaper-flow/queue';
import type { Redis } from 'ioredis';
import type { Engine } from './engine';
import { progress } from './progress';
import type { DjobView, NodeView, PodView, RpodView, Watched } from './recorder';

export const LABEL_RUN = 'bench.reaper.io/run';
export const LABEL_GROUP = 'bench.reaper.io/group';
/** The command every bench pod runs: the cheapest process there is. */
export const COMMAND = ['/bin/true'];

export interface Ctx {
  readonly id: string;
  readonly ns: string;
  readonly client: KubeClient;
  readonly redis: Redis;
  readonly engine: Engine;
  readonly rpods: Watched<RpodView>;
  readonly djobs: Watched<DjobView>;
  readonly nodes: Watched<NodeView>;
  /** Pods of the namespace (same names as their ReaperPods). */
  readonly pods: Watched<PodView>;
  /** Records a failed repetition (the scenario goes on). */
  readonly warn: (message: string) => void;
}

/** Runs `fn` over `items` with at most `limit` at a time; resolves when all are done. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function nodeName(ctx: Pick<Ctx, 'id'>, group: string, i: number): string {
  return `b${ctx.id}-${group}-${String(i).padStart(4, '0')}`;
}

/**
 * Adds simulated nodes `<group>-<start>`..`<group>-<start+count-1>` (Ready), `concurrency` at a time,
 * with a progress line per 100.
 */
export async function addNodes(
  ctx: Pick<Ctx, 'id' | 'client'>,
  group: string,
  count: number,
  opts: { start?: number; labels?: (i: number) => Record<string, string>; concurrency?: number } = {},
): Promise<string[]> {
  const start = opts.start ?? 0;
  const names = Array.from({ length: count }, (_, i) => nodeName(ctx, group, start + i));
  let done = 0;
  await pool(names, opts.concurrency ?? 16, async (name, i) => {
    await addNode(ctx.client, {
      name,
      labels: { [LABEL_RUN]: ctx.id, [LABEL_GROUP]: group, ...opts.labels?.(start + i) },
    });
    done++;
    if (count >= 100 && done % 100 === 0) progress.step(`nodes ${group}: ${done}/${count} added`);
  });
  return names;
}

export interface JobSpec {
  readonly nodeSelector: Record<string, string>;
  readonly after?: readonly string[];
  readonly retryLimit?: number;
  readonly triggerOn?: 'NodeReady' | 'Manual';
}

/** Creates a ReaperDaemonJob running COMMAND in the bench namespace. */
export async function applyJob(ctx: Pick<Ctx, 'client' | 'ns'>, name: string, spec: JobSpec): Promise<void> {
  await ctx.client.create(
    Resources.reaperDaemonJobs,
    {
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperDaemonJob',
      metadata: { name },
      spec: {
        command: COMMAND,
        nodeSelector: spec.nodeSelector,
        ...(spec.after?.length ? { after: spec.after } : {}),
        ...(spec.retryLimit ? { retryLimit: spec.retryLimit } : {}),
        ...(spec.triggerOn ? { triggerOn: spec.triggerOn } : {}),
      },
    },
    { namespace: ctx.ns },
  );
}

/** DELETE on a collection (one request), e.g. all ReaperPods of some jobs. */
/**
 * DELETECOLLECTION of `ref` in `namespace`. Thousands of objects can take longer than the client's
 * request timeout: the API server deletes what it can until the client leaves, so a timed-out call
 * is sent again (up to 10 times) until one returns; callers wait for the objects to be gone.
 */
export async function deleteCollection(
  client: KubeClient,
  ref: ResourceRef,
  namespace: string,
  labelSelector: string | undefined,
  gracePeriodSeconds?: number,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.request('DELETE', resourcePath(ref, { namespace }), {
        resource: ref.plural,
        verb: 'DELETECOLLECTION',
        ...(labelSelector ? { query: { labelSelector } } : {}),
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          propagationPolicy: 'Background',
          ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
        },
      });
      return;
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'Timeout') || attempt >= 10) throw err;
      progress.step(`delete ${ref.plural} in ${namespace}: timed out (attempt ${attempt}), sending again`);
    }
  }
}

/**
 * Deletes DaemonJobs and, without waiting for the garbage collector (20 requests/s in the local
 * controller manager), their ReaperPods and Pods; resolves once the bench's watch shows no
 * ReaperPod of theirs.
 */
export async function deleteJobs(ctx: Ctx, names: readonly string[], timeoutMs = 120_000): Promise<void> {
  if (names.length === 0) return;
  for (const name of names) await ctx.client.delete(Resources.reaperDaemonJobs, name, { namespace: ctx.ns });
  const selector = `reaper.io/daemon-job in (${names.join(',')})`;
  await deleteCollection(ctx.client, Resources.reaperPods, ctx.ns, selector);
  await deleteCollection(ctx.client, Resources.pods, ctx.ns, selector, 0);
  const set = new Set(names);
  await ctx.rpods.until(
    () => !ctx.rpods.live().some((r) => r.p.job !== undefined && set.has(r.p.job)),
    `the ReaperPods of ${names.join(', ')} to be gone`,
    timeoutMs,
  );
}

/** BullMQ lists of a queue that hold work not yet done. */
async function pendingWork(redis: Redis, prefix: string): Promise<number> {
  const names = [
    ...RECONCILE_KINDS.map((k) => QueueNames.reconcile(k)),
    QueueNames.runs,
    QueueNames.nodeRuns,
  ];
  const tx = redis.multi();
  for (const q of names) {
    tx.llen(`${prefix}:${q}:wait`);
    tx.llen(`${prefix}:${q}:active`);
    tx.zcard(`${prefix}:${q}:prioritized`);
  }
  const res = (await tx.exec()) ?? [];
  return res.reduce((n, [, v]) => n + Number(v ?? 0), 0);
}

/**
 * Waits until the engine's queues hold no waiting or active work twice in a row (delayed timers and
 * parked node-runs do not count). Returns false on timeout (the caller goes on, noting it).
 */
export async function quiesce(redis: Redis, prefix: string, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let calm = 0;
  while (Date.now() < deadline) {
    calm = (await pendingWork(redis, prefix)) === 0 ? calm + 1 : 0;
    if (calm >= 3) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  progress.step(`warning: the engine's queues did not drain within ${timeoutMs} ms`);
  return false;
}

/** First recorded event matching `pred`, or undefined. */
export function firstEvent<P>(
  w: Watched<P>,
  pred: (e: Watched<P>['events'][number]) => boolean,
): Watched<P>['events'][number] | undefined {
  return w.events.find(pred);
}
