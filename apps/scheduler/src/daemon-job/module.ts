import {
  createRedis,
  DaemonJobStore,
  NodeRunResultSchema,
  QueueNames,
  RunFlows,
  RunParentDataSchema,
  RunSlots,
} from '@reaper-flow/queue';
import { type Job, Worker } from 'bullmq';
import type { KindReconciler, ReconcilerModule, SchedulerContext } from '../context';
import { processNodeRun } from './node-run';
import { reconcileDaemonJob } from './reconcile';
import { TokenBucket } from './token-bucket';

/**
 * The ReaperDaemonJob engine as a scheduler module: the keyed reconcile of each job, plus the two
 * workers of its run flows (node-run children in `djob-node-runs`, run parents in `djob-runs`).
 */
export const daemonJobModule: ReconcilerModule = {
  kind: 'ReaperDaemonJob',
  create(ctx: SchedulerContext): KindReconciler {
    const { config } = ctx;
    const store = new DaemonJobStore(ctx.redis, ctx.prefix, config.queues.retention.eventLogMaxLen);
    const flows = new RunFlows(ctx.redis, {
      prefix: ctx.prefix,
      retention: config.queues.retention,
      stepAttempts: config.kubernetes.attempts,
      stepBackoffMs: config.kubernetes.backoffMs,
      health: ctx.redisHealth,
    });
    const createLimiter = new TokenBucket(() => config.rollout.podCreatesPerSecond);
    const slots = new RunSlots(ctx.redis, ctx.prefix);
    const deps = { ctx, store, flows, createLimiter, slots };
    const connection = createRedis(
      { url: config.redis.url, password: config.redis.password, tls: config.redis.tls },
      'worker',
      ctx.redisHealth,
      'daemon-job workers',
    );
    const workerOpts = {
      connection,
      prefix: ctx.prefix,
      stalledInterval: config.queues.stalled.intervalMs,
      lockDuration: config.queues.stalled.lockDurationMs,
      maxStalledCount: config.queues.stalled.maxCount,
    };
    const nodeRuns = new Worker(
      QueueNames.nodeRuns,
      (job: Job, token?: string) => processNodeRun(deps, job, token),
      {
        ...workerOpts,
        concurrency: config.queues.concurrency.nodeRuns,
      },
    );
    const runs = new Worker(
      QueueNames.runs,
      async (job: Job) => {
        // Every node of the run is done (children use ignoreDependencyOnFailure, so a child that
        // failed for good does not hold the parent). The job's state already folded each node's
        // outcome from its inbox; the parent summarises the run and asks for a final reconcile.
        const data = RunParentDataSchema.parse(job.data);
        const values = Object.values(await job.getChildrenValues()).map((v) =>
          NodeRunResultSchema.safeParse(v),
        );
        const failedSteps = Object.keys(await job.getIgnoredChildrenFailures()).length;
        const count = (o: string) => values.filter((v) => v.success && v.data.outcome === o).length;
        await ctx.queues.ReaperDaemonJob.enqueue({
          kind: 'ReaperDaemonJob',
          namespace: data.namespace,
          name: data.job,
        });
        return {
          runId: data.runId,
          succeeded: count('Succeeded'),
          failed: count('Failed'),
          superseded: count('Superseded'),
          failedSteps,
        };
      },
      { ...workerOpts, concurrency: config.queues.concurrency.runs },
    );
    for (const w of [nodeRuns, runs]) {
      ctx.redisHealth.absorb(w, w.name);
      w.on('failed', (job, err) => {
        if (job) ctx.logger.warn({ err, jobId: job.id, queue: w.name }, 'daemon-job step failed');
      });
    }
    return {
      reconcile: (req) => reconcileDaemonJob(deps, req),
      async close() {
        await Promise.all([nodeRuns.close(), runs.close()]);
        await flows.close();
        connection.disconnect();
      },
    };
  },
};
