import { EventRecorder, type KubeClient } from '@reaper-flow/k8s';
import {
  createRedis,
  OverlayNodeQueues,
  OverlayResetRequests,
  QueueFactory,
  RECONCILE_KINDS,
  type ReconcileKind,
  ReconcileQueue,
  type RedisClient,
  RedisHealth,
  redisReady,
  WorldStore,
} from '@reaper-flow/queue';
import { type Config, LiveConfig, type Logger, type Metrics, redisHealthReport } from '@reaper-flow/runtime';
import type { Worker } from 'bullmq';
import type { KindReconciler, ReconcilerModule, SchedulerContext } from './context';
import { instrument } from './instrument';
import { sampleQueueDepth } from './queue-depth';
import { defaultModules } from './reconcilers';

export interface SchedulerOptions {
  readonly config: Config;
  /** The reloadable part of `config`, which main.ts updates on a reload; default: one of its own. */
  readonly live?: LiveConfig | undefined;
  readonly kube: KubeClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Reconcilers to run; default: ReaperPod, ReaperOverlay and ReaperDaemonJob (see reconcilers.ts). */
  readonly modules?: readonly ReconcilerModule[] | undefined;
  /** Clock for status times (tests). */
  readonly now?: (() => Date) | undefined;
  /**
   * The process's Redis health (one log line per outage); default: one of its own. main.ts shares
   * one between the scheduler and the dashboard it serves.
   */
  readonly redisHealth?: RedisHealth | undefined;
}

export interface Scheduler {
  /** Stops the workers (waiting at most `timeoutMs` for running reconciles) and closes connections. */
  stop(timeoutMs?: number): Promise<void>;
  /** true while Redis is connected and every worker runs; otherwise the reason (for /readyz). */
  ready(): true | string;
  /** Samples queue depths into reaper_queue_depth (for /metrics). */
  sampleQueueDepth(): Promise<void>;
  /** The reconcile queues (tests enqueue through them). */
  readonly queues: Readonly<Record<ReconcileKind, ReconcileQueue>>;
  readonly redisHealth: RedisHealth;
}

const REDIS_READY_TIMEOUT_MS = 30_000;

function concurrencyFor(config: Config, kind: ReconcileKind): number {
  const c = config.queues.concurrency;
  switch (kind) {
    case 'ReaperPod':
      return c.reconcileReaperPod;
    case 'ReaperOverlay':
      return c.reconcileOverlay;
    case 'ReaperDaemonJob':
      return c.reconcileDaemonJob;
    default: {
      const never: never = kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

/**
 * Starts the scheduler: one ReconcileQueue worker per reconciler module. Reconcilers read the
 * world from the WorldStore the watcher fills and write to the API through `kube`; they are
 * level-triggered and idempotent, because delivery is at least once (a stalled job runs again).
 */
export async function startScheduler(opts: SchedulerOptions): Promise<Scheduler> {
  const { config, kube, logger, metrics } = opts;
  const prefix = config.redis.prefix;
  const redisOpts = config.redis;
  const health = opts.redisHealth ?? new RedisHealth(redisHealthReport(logger, metrics));
  const retention = {
    removeOnComplete: config.queues.retention.removeOnComplete,
    removeOnFail: config.queues.retention.removeOnFail,
  };

  const producer = createRedis(redisOpts, 'producer', health, 'producer');
  // The producer fails fast while disconnected (reads of the world included): start once it is up.
  await redisReady(producer, REDIS_READY_TIMEOUT_MS).catch((err: unknown) => {
    producer.disconnect();
    throw err;
  });
  const queues = Object.fromEntries(
    RECONCILE_KINDS.map((kind) => [
      kind,
      new ReconcileQueue(producer, {
        prefix,
        kind,
        retention,
        attempts: config.queues.reconcileAttempts,
        backoffMs: config.queues.reconcileBackoffMs,
        failedRequeueMs: config.queues.failedRequeueMs,
      }),
    ]),
  ) as Record<ReconcileKind, ReconcileQueue>;
  // An 'error' event without a listener would crash the process; an outage is one line (health).
  for (const q of Object.values(queues)) health.absorb(q.queue, q.name);
  const overlayQueues = new OverlayNodeQueues(producer, {
    prefix,
    retention,
    onError: (err) => health.report(err, 'overlay queues'),
  });
  const ctx: SchedulerContext = {
    config,
    live: opts.live ?? new LiveConfig(config),
    kube,
    logger,
    metrics,
    world: new WorldStore(producer, prefix, config.queues.retention.eventLogMaxLen),
    redisHealth: health,
    stores: new QueueFactory({
      producer,
      prefix,
      health,
      connect: (name) => createRedis(redisOpts, 'worker', health, name),
    }),
    queues,
    overlayQueues,
    overlayResetRequests: new OverlayResetRequests(producer, prefix),
    recorder: new EventRecorder(kube, { component: 'reaper-flow-scheduler', logger }),
    now: opts.now ?? (() => new Date()),
  };

  const running: {
    kind: ReconcileKind;
    reconciler: KindReconciler;
    worker: Worker;
    connection: RedisClient;
  }[] = [];
  const connections: RedisClient[] = [producer];
  try {
    for (const module of opts.modules ?? defaultModules) {
      const reconciler = await module.create(ctx);
      // A connection per worker: BullMQ blocks on it while waiting for jobs.
      const connection = createRedis(redisOpts, 'worker', health, `worker ${module.kind}`);
      connections.push(connection);
      const worker = queues[module.kind].start(connection, instrument(module.kind, reconciler, ctx), {
        concurrency: concurrencyFor(config, module.kind),
        stalledIntervalMs: config.queues.stalled.intervalMs,
        lockDurationMs: config.queues.stalled.lockDurationMs,
        maxStalledCount: config.queues.stalled.maxCount,
        onError: (err) => health.report(err, `reconcile worker ${module.kind}`),
        onInvalidJob: ({ jobId, reason }) =>
          logger.error(
            { queue: queues[module.kind].name, jobId },
            `job ${jobId} of ${queues[module.kind].name} rejected, not retried: ${reason}`,
          ),
      });
      running.push({ kind: module.kind, reconciler, worker, connection });
      logger.info(
        { kind: module.kind, concurrency: concurrencyFor(config, module.kind) },
        'reconciler started',
      );
    }
  } catch (err) {
    await Promise.allSettled(Object.values(queues).map((q) => q.close(1000)));
    await Promise.allSettled(running.map((r) => r.reconciler.close?.()));
    for (const c of connections) c.disconnect();
    throw err;
  }

  let stopped: Promise<void> | undefined;
  const stop = (timeoutMs = 10_000): Promise<void> => {
    stopped ??= (async () => {
      // Each close is bounded: BullMQ's worker.close() waits for active jobs without a limit.
      await Promise.allSettled(Object.values(queues).map((q) => q.close(timeoutMs)));
      await Promise.allSettled(running.map((r) => r.reconciler.close?.()));
      await overlayQueues.close().catch(() => undefined);
      await Promise.allSettled(connections.map((c) => c.quit()));
      for (const c of connections) c.disconnect();
      logger.info('scheduler stopped');
    })();
    return stopped;
  };

  return {
    queues,
    redisHealth: health,
    stop,
    ready() {
      if (stopped) return 'stopping';
      const redis = health.ready();
      if (redis !== true) return redis;
      if (producer.status !== 'ready') return `redis ${producer.status}`;
      const down = running.filter((r) => r.connection.status !== 'ready' || !r.worker.isRunning());
      if (down.length > 0) return `reconcile workers not running: ${down.map((r) => r.kind).join(', ')}`;
      return true;
    },
    sampleQueueDepth: () =>
      sampleQueueDepth(
        metrics,
        Object.values(queues).map((q) => q.queue),
      ),
  };
}
