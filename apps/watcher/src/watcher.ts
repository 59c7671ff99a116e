import { setTimeout as sleep } from 'node:timers/promises';
import { type KubeClient, LeaderElector } from '@reaper-flow/k8s';
import {
  createRedis,
  OverlayResetRequests,
  RECONCILE_KINDS,
  type ReconcileKind,
  ReconcileQueue,
  type RedisClient,
  RedisHealth,
  RunFlows,
  redisReady,
  WorldStore,
} from '@reaper-flow/queue';
import { type Config, type Logger, type Metrics, redisHealthReport } from '@reaper-flow/runtime';
import { type Pipeline, startPipeline } from './pipeline';

export interface WatcherOptions {
  readonly config: Config;
  readonly kube: KubeClient;
  /**
   * A client of its own (its own connection pool) for the leader Lease, so a renewal never waits
   * behind the watches or other requests; default `kube`. Not closed by stop().
   */
  readonly leaseKube?: KubeClient | undefined;
  /** A producer connection to use (not closed by stop()); default: one is opened from config.redis. */
  readonly redis?: RedisClient | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** This process's name on the leader Lease; unique per process. */
  readonly identity: string;
  /** Liveness fails when a watch has shown no sign of life for this long (default 11 min). */
  readonly staleAfterMs?: number | undefined;
  /** The process's Redis health (one log line per outage); default: one of its own. */
  readonly redisHealth?: RedisHealth | undefined;
}

export interface Watcher {
  /**
   * Stops watching, then stops campaigning. With `release` (default) the Lease is emptied so a standby
   * takes over at once; `release: false` leaves it to expire, as a crash would.
   */
  stop(opts?: { release?: boolean }): Promise<void>;
  isLeader(): boolean;
  /** The oldest last-event time of the leader's watches (events and bookmarks); undefined on a standby. */
  lastEventAt(): number | undefined;
  /** Readiness: false while Redis is unavailable; else true on a standby, and on the leader once every informer has listed. */
  ready(): true | string;
  /** Liveness: the leader's watches are running and none went silent. */
  live(): true | string;
}

/** A watch ends by the server's timeout (at most 10 min), so a live one shows life more often. */
const DEFAULT_STALE_AFTER_MS = 11 * 60_000;

/**
 * Starts the watcher: campaigns for the leader Lease, and while leading runs the informers that turn
 * changes into world-store entries and reconcile keys (see pipeline.ts). Only the leader watches.
 *
 * Losing the lease stops the informers and the process goes back to standby (it keeps campaigning);
 * a later term resumes each watch from the resourceVersion stored with the world, the same path as a
 * restart: nothing that changed in between is missed, and nothing is listed again unless the API
 * server has compacted that version away (410 Gone: list, diffed against the stored world). A renewal
 * that is merely slow pauses writes until it lands and does not end the term (see LeaderElector).
 */
export async function startWatcher(opts: WatcherOptions): Promise<Watcher> {
  const { config, logger } = opts;
  const ownsRedis = !opts.redis;
  const health = opts.redisHealth ?? new RedisHealth(redisHealthReport(logger, opts.metrics));
  const redis = opts.redis ?? createRedis(config.redis, 'producer', health, 'watcher');
  await redisReady(redis, 30_000);
  const prefix = config.redis.prefix;
  const world = new WorldStore(redis, prefix, config.queues.retention.eventLogMaxLen);
  const resetRequests = new OverlayResetRequests(redis, prefix);
  const queues = new Map<ReconcileKind, ReconcileQueue>(
    RECONCILE_KINDS.map((kind) => [
      kind,
      new ReconcileQueue(redis, {
        prefix,
        kind,
        retention: config.queues.retention,
        attempts: config.queues.reconcileAttempts,
        backoffMs: config.queues.reconcileBackoffMs,
        failedRequeueMs: config.queues.failedRequeueMs,
      }),
    ]),
  );
  for (const q of queues.values()) health.absorb(q.queue, q.name);
  const flows = new RunFlows(redis, {
    prefix,
    retention: config.queues.retention,
    stepAttempts: config.kubernetes.attempts,
    stepBackoffMs: config.kubernetes.backoffMs,
    health,
  });

  const stopping = new AbortController();
  let pipeline: Pipeline | undefined;
  // Leadership transitions run one after the other: a term's informers are stopped before the next starts.
  let chain: Promise<void> = Promise.resolve();
  const serial = (fn: () => Promise<void>): Promise<void> => {
    chain = chain.then(fn).catch((err: unknown) => logger.error({ err }, 'leadership transition failed'));
    return chain;
  };

  const stopPipeline = async () => {
    const p = pipeline;
    pipeline = undefined;
    await p?.stop();
  };

  const elector: LeaderElector = new LeaderElector({
    kube: opts.leaseKube ?? opts.kube,
    namespace: config.watcher.leaseNamespace,
    name: config.watcher.leaseName,
    identity: opts.identity,
    leaseDurationMs: config.watcher.leaseDurationMs,
    renewIntervalMs: config.watcher.renewIntervalMs,
    onStartedLeading: () =>
      void serial(async () => {
        logger.info({ identity: opts.identity }, 'became leader: starting informers');
        for (let attempt = 0; elector.isLeader() && !stopping.signal.aborted && !pipeline; attempt++) {
          try {
            pipeline = await startPipeline({
              kube: opts.kube,
              world,
              overlayResetRequests: resetRequests,
              queues,
              redisHealth: health,
              logger,
              metrics: opts.metrics,
              resyncIntervalMs: config.watcher.resyncIntervalMs,
              isLeader: () => elector.isLeader() && !stopping.signal.aborted,
              leadershipConfirmed: (signal) => elector.whenConfirmed(signal),
              wakeNodeRun: (ns, job, runId, node) => flows.wake(ns, job, runId, node),
            });
          } catch (err) {
            logger.error({ err, attempt }, 'could not start the informers; retrying');
            await sleep(Math.min(30_000, 500 * 2 ** attempt), undefined, { signal: stopping.signal }).catch(
              () => undefined,
            );
          }
        }
      }),
    onStoppedLeading: (reason) =>
      void serial(async () => {
        if (reason === 'lost') logger.warn('lost leadership: stopping informers, back to standby');
        await stopPipeline();
      }),
    onNewLeader: (holder) => logger.info({ holder }, 'leader observed'),
    onError: (err) => logger.warn({ err }, 'leader election error'),
  });
  elector.start();

  const staleAfterMs = opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  return {
    async stop({ release = true } = {}) {
      stopping.abort();
      await serial(stopPipeline);
      await elector.stop({ release });
      await chain;
      await Promise.all([...queues.values()].map((q) => q.close()));
      await flows.close();
      if (ownsRedis) await redis.quit().catch(() => redis.disconnect());
    },
    isLeader: () => elector.isLeader(),
    lastEventAt: () => pipeline?.lastEventAt(),
    ready() {
      const redisState = health.ready();
      if (redisState !== true) return redisState;
      if (!elector.isLeader()) return true;
      if (!pipeline) return 'leader: informers starting';
      return pipeline.synced() ? true : 'leader: informers not synced yet';
    },
    live() {
      if (!elector.isLeader() || !pipeline) return true;
      const stopped = Object.entries(pipeline.states()).filter(([, s]) => s === 'Stopped');
      if (stopped.length > 0) return `informers stopped: ${stopped.map(([k]) => k).join(', ')}`;
      const silentMs = Date.now() - pipeline.lastEventAt();
      return silentMs < staleAfterMs ? true : `a watch has been silent for ${Math.round(silentMs / 1000)} s`;
    },
  };
}
