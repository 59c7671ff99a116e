import type { KubeClient } from '@reaper-flow/k8s';
import { createRedis, QueueNames, RedisHealth } from '@reaper-flow/queue';
import { type Config, type Logger, type Metrics, redisHealthReport } from '@reaper-flow/runtime';
import { type Job, Worker } from 'bullmq';
import { KeyedMutex } from './keyed-mutex';
import { OverlayDisk } from './overlay-disk';
import { type OverlayJobOutcome, processOverlayJob } from './overlay-processor';
import { KubeOverlayStatus } from './status-reporter';

export interface NodeAgentOptions {
  readonly config: Config;
  readonly kube: KubeClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The node this agent serves: it consumes `overlay-node-<nodeName>` and reports under that name. */
  readonly nodeName: string;
  /** Root of the Reaper runtime state on the node (default in config: /run/reaper). */
  readonly stateDir: string;
  /** Bound on waiting for active jobs when stopping (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** The process's Redis health (one log line per outage); default: one of its own. */
  readonly redisHealth?: RedisHealth | undefined;
}

export interface NodeAgent {
  /** Stops taking jobs and waits (bounded) for the active ones, then closes Redis. Idempotent. */
  stop(): Promise<void>;
  /** true when Redis is connected and the worker runs; otherwise the reason (for /readyz). */
  ready(): true | string;
}

/** Node names are DNS subdomains; the queue name and status.nodes[].nodeName are built from it. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Starts the overlay worker of one node: a BullMQ Worker on `overlay-node-<nodeName>` that applies
 * ensure / reset / delete to the Reaper runtime's overlays under `stateDir` and reports the node's
 * state into each ReaperOverlay's status. Resolves once the worker is connected and taking jobs.
 */
export async function startNodeAgent(opts: NodeAgentOptions): Promise<NodeAgent> {
  const { config, nodeName, metrics } = opts;
  if (!NODE_NAME.test(nodeName) || nodeName.length > 253) {
    throw new Error(`node name ${JSON.stringify(nodeName)} is not a valid Kubernetes node name (NODE_NAME)`);
  }
  // Every line names the node; main.ts already binds it, in-process test agents may not.
  const logger = opts.logger.bindings().nodeName === nodeName ? opts.logger : opts.logger.child({ nodeName });
  const disk = await OverlayDisk.open(opts.stateDir);
  const status = new KubeOverlayStatus(opts.kube, nodeName, () =>
    metrics.statusWrites.inc({ kind: 'ReaperOverlay' }),
  );
  const queueName = QueueNames.overlayNode(nodeName);
  const health = opts.redisHealth ?? new RedisHealth(redisHealthReport(logger, metrics));
  const redis = createRedis(config.redis, 'worker', health, 'overlay worker');

  const order = new KeyedMutex();
  // Three parameters: BullMQ passes the AbortSignal only to processors that declare it.
  const processor = async (
    job: Job,
    _token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<OverlayJobOutcome> => {
    const started = performance.now();
    let outcome: 'ok' | 'error' = 'error';
    try {
      // attemptsMade counts the attempts that already failed before this one.
      const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const result = await processOverlayJob(job.data, {
        disk,
        status,
        logger,
        signal,
        finalAttempt,
        order,
      });
      outcome = 'ok';
      return result;
    } finally {
      metrics.reconcileDuration.observe(
        { kind: 'overlay-node', outcome },
        (performance.now() - started) / 1000,
      );
    }
  };

  const worker = new Worker(queueName, processor, {
    connection: redis,
    prefix: config.redis.prefix,
    concurrency: config.queues.concurrency.overlayNode,
    stalledInterval: config.queues.stalled.intervalMs,
    maxStalledCount: config.queues.stalled.maxCount,
    lockDuration: config.queues.stalled.lockDurationMs,
    autorun: false,
  });
  health.absorb(worker, 'overlay worker');
  worker.on('failed', (job, err) => {
    if (!job) return;
    const willRetry = err.name !== 'UnrecoverableError' && job.attemptsMade < (job.opts.attempts ?? 1);
    logger[willRetry ? 'warn' : 'error'](
      { err, jobId: job.id, attemptsMade: job.attemptsMade, willRetry },
      'overlay job failed',
    );
  });
  // run() resolves only when the worker closes: keep its promise to surface a crash of the loop.
  const running = worker.run().catch((err: unknown) => {
    logger.error({ err }, 'overlay worker stopped with an error');
  });
  await worker.waitUntilReady();
  logger.info({ queue: queueName, stateDir: disk.dir.root }, 'node agent started');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const timeoutMs = opts.stopTimeoutMs ?? 10_000;
      // worker.close() waits for active jobs without a bound. Past the bound, jobs still waiting
      // for an overlay lock are aborted (they fail this attempt and are retried later with
      // backoff); if even that does not free the worker, we drop the connection: the jobs' locks
      // expire and the stalled check hands them out again. Every operation is idempotent, so a
      // job that runs again after an interruption converges.
      const closed = worker.close().then(() => 'closed' as const);
      let result = await Promise.race([closed, delay(timeoutMs)]);
      if (result === 'timeout') {
        logger.warn({ timeoutMs }, 'active overlay jobs did not finish in time; aborting them');
        worker.cancelAllJobs('node agent stopping');
        result = await Promise.race([closed, delay(2_000)]);
      }
      if (result === 'timeout') {
        logger.warn('overlay jobs still running; dropping the Redis connection');
        redis.disconnect();
      } else {
        await running;
        await redis.quit().catch(() => redis.disconnect());
      }
      logger.info('node agent stopped');
    })();
    return stopping;
  };

  return {
    stop,
    ready() {
      if (stopping) return 'stopping';
      const redisReady = health.ready();
      if (redisReady !== true) return redisReady;
      if (redis.status !== 'ready') return `redis ${redis.status}`;
      if (!worker.isRunning()) return 'overlay worker not running';
      return true;
    },
  };
}

/** Resolves with 'timeout' after `ms`, without keeping the process alive for it. */
function delay(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}
