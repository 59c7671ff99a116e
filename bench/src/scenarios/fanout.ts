// Fan-out makespan: one DaemonJob over N nodes, apply -> Completed (seen on the watch), with the API
// requests (the API server's apiserver_request_total and the scheduler's own counters), the Redis
// commands and the CPU of every process between the apply and the moment the engine is idle again.
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { QueueNames, RedisKeys } from '@reaper-flow/queue';
import { type ApiCount, type ApiKinds, apiCounts, apiKinds, isWrite } from '../api-counts';
import { Meter, type Snapshot } from '../meter';
import { addNodes, applyJob, type Ctx, deleteJobs, firstEvent, nodeName, quiesce } from '../ops';
import { MiB } from '../proc';
import { progress } from '../progress';
import { counterIncrease, type PromSample } from '../prom';
import { callsIncrease, commandCalls, type RedisMemory, redisMemory, settledMemory } from '../redis-stats';
import { type Summary, summarize } from '../stats';
import { apiserverCpuSeconds, apiserverMetrics, apiserverRequests, watchEvents } from './floor';

/** The objects a run consists of (leases, nodes and the faults ConfigMap are someone else's). */
const RUN_RESOURCES = new Set(['reaperpods', 'pods', 'reaperdaemonjobs', 'events']);

export interface FanoutResult {
  readonly nodes: number;
  /** Scheduler replicas that ran it (their CPU and counters are summed). */
  readonly schedulers: number;
  /** apply (create request sent) -> Completed on the watch. */
  readonly makespanMs: number;
  readonly firstPodMs: number;
  readonly lastPodMs: number;
  readonly lastSucceededMs: number;
  /** Every API request the API server counted between apply and idle, all clients. */
  readonly api: ApiCount[];
  /** The same, as reads, writes and watches per node-run. */
  readonly apiKinds: ApiKinds;
  /**
   * Watch events the API server sent between apply and idle per node-run, all watchers but the
   * bench's own four (ReaperPods, DaemonJobs, Pods, Nodes: they see `benchWatchEventsPerNodeRun`).
   */
  readonly watchEventsPerNodeRun: number;
  readonly benchWatchEventsPerNodeRun: number;
  readonly writesPerNodeRun: number;
  readonly runObjectWritesPerNodeRun: number;
  /** The scheduler's own requests (its reaper_kube_api_requests_total). */
  readonly schedulerApi: ApiCount[];
  readonly schedulerWritesPerNodeRun: number;
  /** Reads, writes and watches opened per node-run by client: scheduler, watcher, all others. */
  readonly byClient: { readonly client: string; readonly kinds: ApiKinds }[];
  /** DaemonJob status writes of this run: API server count and the scheduler's counter. */
  readonly djobStatusWrites: number;
  readonly djobStatusWritesScheduler: number;
  readonly redisCommands: { command: string; calls: number; perNodeRun: number }[];
  readonly redisCommandsPerNodeRun: number;
  /** Redis memory at idle after the run, and after its job and ReaperPods were deleted. */
  readonly redisAfter: RedisMemory;
  readonly redisAfterDelete: RedisMemory;
  readonly cpuSeconds: Record<string, number>;
  /** The watcher's and every scheduler replica's CPU between apply and idle, ms per node-run. */
  readonly engineCpuMsPerNodeRun: number;
  /** Redis used_memory at idle before the apply (the growth to `redisAfter` is the run's). */
  readonly redisBefore: RedisMemory;
  /**
   * CPU seconds of the API server between apply and idle, from its own process_cpu_seconds_total
   * (undefined when it does not expose it), per node-run.
   */
  readonly apiserverCpuMsPerNodeRun: number | undefined;
  /** ReaperPods the run created (one per node unless a node-run retried). */
  readonly reaperPods: number;
  /**
   * ReaperPod reconciles of the run (apply -> idle) and of its deletion (the job and its ReaperPods
   * deleted -> idle), in total and by cause (the scheduler's reaper_reconciles_total).
   */
  readonly rpodReconciles: ReconcileCounts;
  /** The watcher's requests for ReaperPod reconciles (before coalescing) and what it skipped, by cause. */
  readonly rpodRequests: ReconcileCounts;
  readonly rpodSkips: ReconcileCounts;
  /** The highest peak RSS of the scheduler replicas. */
  readonly schedulerPeakRssMiB: number;
  /** Each replica's peak RSS (VmHWM since it started): `scheduler`, `scheduler-2`... */
  readonly schedulerPeaksMiB: Readonly<Record<string, number>>;
  readonly watcherPeakRssMiB: number;
  readonly drained: boolean;
  /**
   * Where each node's time goes, from the bench's watches (ms): ReaperPod ADDED -> its Pod ADDED
   * (the ReaperPod reconcile), Pod ADDED -> Pod Succeeded (the stand-in kubelet: sandbox and
   * process), Pod Succeeded -> ReaperPod Succeeded (the status mirror); and the last ReaperPod
   * Succeeded -> the job Completed.
   */
  readonly stages: {
    readonly rpodToPod: Summary;
    readonly podRun: Summary;
    readonly mirror: Summary;
    readonly lastSucceededToCompletedMs: number;
  };
  /**
   * Set when the bench saw every ReaperPod Succeeded while the job was not Completed (checked every
   * 5 s): node-runs still parked as delayed jobs, and when the first of them is due.
   */
  readonly stalled: { atMs: number; parked: number; nextDueInMs: number } | undefined;
}

/** A counter over the run and over its deletion, in total and by label (`cause`, `cause reason`). */
export interface ReconcileCounts {
  readonly run: number;
  readonly deletion: number;
  readonly by: readonly { readonly label: string; readonly run: number; readonly deletion: number }[];
}

/** The increase of the ReaperPod samples of `metric` by `labels`, over the run and over the deletion. */
function reaperPodCounts(
  samples: readonly (readonly PromSample[])[],
  metric: string,
  labels: readonly string[],
): ReconcileCounts {
  const [before = [], afterRun = [], afterDelete = []] = samples;
  const onlyRpod = (l: Readonly<Record<string, string>>) => l.kind === 'ReaperPod';
  const run = counterIncrease(before, afterRun, metric, labels, onlyRpod);
  const deletion = counterIncrease(afterRun, afterDelete, metric, labels, onlyRpod);
  const sum = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((n, c) => n + c, 0);
  const by = [...new Set([...run.keys(), ...deletion.keys()])]
    .map((label) => ({ label, run: run.get(label) ?? 0, deletion: deletion.get(label) ?? 0 }))
    .sort((a, b) => b.run + b.deletion - (a.run + a.deletion));
  return { run: sum(run), deletion: sum(deletion), by };
}

/** Delayed jobs of djob-node-runs: how many, and when the next one is due (BullMQ score = ms * 0x1000). */
async function parkedNodeRuns(ctx: Ctx, prefix: string): Promise<{ count: number; nextDueInMs: number }> {
  const key = `${prefix}:${QueueNames.nodeRuns}:delayed`;
  const count = await ctx.redis.zcard(key);
  const first = await ctx.redis.zrange(key, 0, 0, 'WITHSCORES');
  const due = first[1] ? Math.floor(Number(first[1]) / 0x1000) : Date.now();
  return { count, nextDueInMs: due - Date.now() };
}

/** The pool nodes a fan-out of `size` runs on: the first `size` of the pool. */
export function fanoutNodes(ctx: Pick<Ctx, 'id'>, size: number): string[] {
  return Array.from({ length: size }, (_, i) => nodeName(ctx, 'fan', i));
}

/**
 * Creates the fan-out pool once (node i gets `bench.reaper.io/fan-<size>=true` for each size > i)
 * and waits until every pool node is Ready without the not-ready taint. Before the engine starts:
 * the like-for-like floor runs its Pods on these nodes.
 */
export async function addFanoutNodes(
  ctx: Pick<Ctx, 'id' | 'client'>,
  sizes: readonly number[],
): Promise<void> {
  const max = Math.max(...sizes);
  progress.begin('fan-out', `adding ${max} nodes (16 at a time)`);
  const t0 = performance.now();
  await addNodes(ctx, 'fan', max, {
    labels: (i) =>
      Object.fromEntries(sizes.filter((s) => i < s).map((s) => [`bench.reaper.io/fan-${s}`, 'true'])),
  });
  await nodesReady(ctx.client, `bench.reaper.io/fan-${max}=true`, max);
  progress.step(`${max} nodes added and Ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function nodesReady(client: KubeClient, labelSelector: string, count: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const list = await client.listAll<{
      spec?: { taints?: { key: string }[] };
      status?: { conditions?: { type: string; status: string }[] };
    }>(Resources.nodes, { labelSelector });
    const ready = list.items.filter(
      (n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
        !n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready'),
    ).length;
    if (ready >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${ready}/${count} pool nodes Ready after 180 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits until the watcher's world holds every pool node, Ready and untainted. */
export async function fanoutNodesInWorld(ctx: Ctx, sizes: readonly number[]): Promise<void> {
  const max = Math.max(...sizes);
  progress.begin('fan-out', `waiting for the ${max} pool nodes in the world`);
  // The engine reads nodes from the watcher's world: every pool node must be there, Ready, untainted.
  const key = RedisKeys.world(ctx.engine.config.redis.prefix, 'Node').namespace('');
  const deadline = Date.now() + 180_000;
  for (;;) {
    const all = await ctx.redis.hgetall(key);
    const ready = Object.entries(all).filter(([name, json]) => {
      if (!name.startsWith(`b${ctx.id}-fan-`)) return false;
      const n = JSON.parse(json) as {
        spec?: { taints?: { key: string }[] };
        status?: { conditions?: { type: string; status: string }[] };
      };
      return (
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
        !n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready')
      );
    }).length;
    if (ready >= max) break;
    if (Date.now() > deadline) throw new Error(`only ${ready}/${max} pool nodes in the world after 180 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await quiesce(ctx.redis, ctx.engine.config.redis.prefix, 120_000);
}

/** A scheduler replica's process name: `scheduler`, `scheduler-2`, ... (Engine.addScheduler). */
export const isSchedulerProcess = (name: string): boolean =>
  name === 'scheduler' || name.startsWith('scheduler-');

/** The CPU seconds of the watcher and every scheduler replica. */
export function engineCpuSeconds(cpu: Readonly<Record<string, number>>): number {
  return Object.entries(cpu)
    .filter(([name]) => name === 'watcher' || isSchedulerProcess(name))
    .reduce((n, [, c]) => n + c, 0);
}

export async function runFanout(
  ctx: Ctx,
  meter: Meter,
  size: number,
  run: { readonly schedulers: number; readonly job: string } = { schedulers: 1, job: `fan-${size}` },
): Promise<FanoutResult> {
  progress.begin('fan-out', `${size} nodes, ${run.schedulers} scheduler${run.schedulers > 1 ? 's' : ''}`);
  const prefix = ctx.engine.config.redis.prefix;
  await quiesce(ctx.redis, prefix, 120_000);
  const redisBefore = await redisMemory(ctx.redis);
  const job = run.job;
  const snap = async () => ({
    api: await apiserverMetrics(ctx.client),
    scheduler: await ctx.engine.scrape('scheduler'),
    watcher: await ctx.engine.scrape('watcher'),
    redis: await commandCalls(ctx.redis),
    procs: meter.snapshot() as Snapshot,
  });
  const before = await snap();
  const mark = ctx.rpods.events.length;
  const podMark = ctx.pods.events.length;
  const watchedMarks = [ctx.rpods, ctx.djobs, ctx.pods, ctx.nodes].map((w) => w.events.length);
  const t0 = performance.now();
  await applyJob(ctx, job, { nodeSelector: { [`bench.reaper.io/fan-${size}`]: 'true' } });
  let stalled: FanoutResult['stalled'];
  const ticker = setInterval(() => {
    void (async () => {
      const pods = ctx.rpods.live().filter((r) => r.p.job === job);
      const ok = pods.filter((r) => r.p.phase === 'Succeeded').length;
      let parked = '';
      if (pods.length === size && ok === size) {
        // Every pod is done but the job is not Completed: which node-runs still sleep, until when?
        const p = await parkedNodeRuns(ctx, prefix);
        stalled ??= { atMs: performance.now() - t0, parked: p.count, nextDueInMs: p.nextDueInMs };
        parked = `; all Succeeded, ${p.count} node-run(s) still parked, next due in ${(p.nextDueInMs / 1000).toFixed(1)} s`;
      }
      progress.step(`${size} nodes: ${pods.length} ReaperPods, ${ok} Succeeded${parked}`);
    })();
  }, 5000);
  let done: { t: number };
  try {
    done = await ctx.djobs.until(
      () =>
        firstEvent(ctx.djobs, (e) => e.name === job && e.p.phase === 'Completed' && e.p.readyNodes === size),
      `${job} Completed on ${size} nodes`,
      Math.max(180_000, size * 600),
    );
  } finally {
    clearInterval(ticker);
  }
  const makespanMs = done.t - t0;
  const events = ctx.rpods.events.slice(mark).filter((e) => e.p.job === job);
  const added = events.filter((e) => e.type === 'ADDED').map((e) => e.t - t0);
  const succeeded = events.filter((e) => e.p.phase === 'Succeeded').map((e) => e.t - t0);
  const firstT = <P>(list: readonly { t: number; name: string; p: P }[], pred: (p: P) => boolean) => {
    const m = new Map<string, number>();
    for (const e of list) if (!m.has(e.name) && pred(e.p)) m.set(e.name, e.t);
    return m;
  };
  const rpAdded = firstT(
    events.filter((e) => e.type === 'ADDED'),
    () => true,
  );
  const rpDone = firstT(events, (p) => p.phase === 'Succeeded');
  const podEvents = ctx.pods.events.slice(podMark).filter((e) => rpAdded.has(e.name));
  const podAdded = firstT(
    podEvents.filter((e) => e.type === 'ADDED'),
    () => true,
  );
  const podDone = firstT(podEvents, (p) => p.phase === 'Succeeded');
  const diffs = (from: Map<string, number>, to: Map<string, number>) =>
    [...from].flatMap(([name, t]) => {
      const u = to.get(name);
      return u === undefined ? [] : [u - t];
    });
  const stages = {
    rpodToPod: summarize(diffs(rpAdded, podAdded)),
    podRun: summarize(diffs(podAdded, podDone)),
    mirror: summarize(diffs(podDone, rpDone)),
    lastSucceededToCompletedMs: done.t - Math.max(...rpDone.values()),
  };
  progress.step(`${size} nodes Completed in ${makespanMs.toFixed(0)} ms; waiting for the engine to go idle`);
  // Trailing work (status mirrors, the run parent, the last coalesced write) belongs to the run.
  const drained = await quiesce(ctx.redis, prefix, 120_000);
  const after = await snap();
  const benchWatchEvents = [ctx.rpods, ctx.djobs, ctx.pods, ctx.nodes].reduce(
    (n, w, i) => n + w.events.length - (watchedMarks[i] ?? 0),
    0,
  );

  const perRun = (n: number) => n / size;
  const apiInc = apiserverRequests(before.api, after.api);
  const api = apiCounts(apiInc, size);
  const writes = [...apiInc].filter(([k]) => isWrite(k)).reduce((n, [, c]) => n + c, 0);
  const runWrites = [...apiInc]
    .filter(([k]) => isWrite(k) && RUN_RESOURCES.has(k.split(' ')[1] ?? ''))
    .reduce((n, [, c]) => n + c, 0);
  const djobStatusWrites = [...apiInc]
    .filter(([k]) => isWrite(k) && k.split(' ')[1] === 'reaperdaemonjobs' && k.split(' ')[2] === 'status')
    .reduce((n, [, c]) => n + c, 0);
  const schedInc = counterIncrease(before.scheduler, after.scheduler, 'reaper_kube_api_requests_total', [
    'verb',
    'resource',
  ]);
  const schedulerApi = apiCounts(schedInc, size);
  const watcherApi = apiCounts(
    counterIncrease(before.watcher, after.watcher, 'reaper_kube_api_requests_total', ['verb', 'resource']),
    size,
  );
  const total = apiKinds(api);
  const sched = apiKinds(schedulerApi);
  const watch = apiKinds(watcherApi);
  const byClient = [
    { client: 'scheduler', kinds: sched },
    { client: 'watcher', kinds: watch },
    {
      // The API server counts a watch when it ends, the apps when it opens: others' watches are
      // left out rather than guessed.
      client: 'others (kubelet, controller manager, kube-scheduler, bench)',
      kinds: {
        reads: total.reads - sched.reads - watch.reads,
        writes: total.writes - sched.writes - watch.writes,
        watches: Number.NaN,
      },
    },
  ];
  const schedWrites = [...schedInc].filter(([k]) => isWrite(k)).reduce((n, [, c]) => n + c, 0);
  const statusInc = counterIncrease(before.scheduler, after.scheduler, 'reaper_status_writes_total', [
    'kind',
  ]);
  const redisInc = callsIncrease(before.redis, after.redis);
  const redisTotal = [...redisInc].reduce((n, [, c]) => n + c, 0);
  const procs = after.procs;
  const redisAfter = await redisMemory(ctx.redis);
  await deleteJobs(ctx, [job], Math.max(300_000, size * 120));
  // The deletion ends when the Pods are gone too: their last changes reach the watcher after the
  // ReaperPods', and a queue with nothing to do is idle before they come.
  await ctx.pods.until(
    () => !ctx.pods.live().some((p) => rpAdded.has(p.name)),
    `the Pods of ${job} to be gone`,
    300_000,
  );
  await quiesce(ctx.redis, prefix, 120_000);
  const afterDelete = {
    scheduler: await ctx.engine.scrape('scheduler'),
    watcher: await ctx.engine.scrape('watcher'),
  };
  const schedulerScrapes = [before.scheduler, after.scheduler, afterDelete.scheduler];
  const watcherScrapes = [before.watcher, after.watcher, afterDelete.watcher];
  const apiCpu = [apiserverCpuSeconds(before.api), apiserverCpuSeconds(after.api)];
  const redisAfterDelete = await settledMemory(ctx.redis, 15_000);
  ctx.rpods.forgetEvents();
  ctx.djobs.forgetEvents();
  ctx.pods.forgetEvents();
  const cpuSeconds = Meter.cpu(before.procs, after.procs);
  const peak = (name: string) => (procs.get(name)?.peakRssBytes ?? 0) / MiB;
  const schedulerNames = [...procs.keys()].filter(isSchedulerProcess);
  const result: FanoutResult = {
    nodes: size,
    schedulers: run.schedulers,
    makespanMs,
    firstPodMs: Math.min(...added),
    lastPodMs: Math.max(...added),
    lastSucceededMs: Math.max(...succeeded),
    api,
    apiKinds: total,
    watchEventsPerNodeRun: (watchEvents(before.api, after.api) - benchWatchEvents) / size,
    benchWatchEventsPerNodeRun: benchWatchEvents / size,
    writesPerNodeRun: perRun(writes),
    runObjectWritesPerNodeRun: perRun(runWrites),
    schedulerApi,
    schedulerWritesPerNodeRun: perRun(schedWrites),
    byClient,
    djobStatusWrites,
    djobStatusWritesScheduler: statusInc.get('ReaperDaemonJob') ?? 0,
    redisCommands: [...redisInc].map(([command, calls]) => ({ command, calls, perNodeRun: perRun(calls) })),
    redisCommandsPerNodeRun: perRun(redisTotal),
    redisAfter,
    redisAfterDelete,
    cpuSeconds,
    engineCpuMsPerNodeRun: (engineCpuSeconds(cpuSeconds) * 1000) / size,
    redisBefore,
    apiserverCpuMsPerNodeRun:
      apiCpu[0] === undefined || apiCpu[1] === undefined
        ? undefined
        : ((apiCpu[1] - apiCpu[0]) * 1000) / size,
    reaperPods: rpAdded.size,
    rpodReconciles: reaperPodCounts(schedulerScrapes, 'reaper_reconciles_total', ['cause']),
    rpodRequests: reaperPodCounts(watcherScrapes, 'reaper_reconcile_requests_total', ['cause']),
    rpodSkips: reaperPodCounts(watcherScrapes, 'reaper_reconcile_skips_total', ['cause', 'reason']),
    schedulerPeakRssMiB: Math.max(0, ...schedulerNames.map(peak)),
    schedulerPeaksMiB: Object.fromEntries(schedulerNames.map((n) => [n, peak(n)])),
    watcherPeakRssMiB: peak('watcher'),
    drained,
    stages,
    stalled,
  };
  progress.step(
    `${size} nodes: makespan ${makespanMs.toFixed(0)} ms, ${result.runObjectWritesPerNodeRun.toFixed(2)} run-object writes/node-run, ` +
      `${djobStatusWrites} DaemonJob status writes, scheduler peak RSS ${result.schedulerPeakRssMiB.toFixed(0)} MiB`,
  );
  return result;
}
