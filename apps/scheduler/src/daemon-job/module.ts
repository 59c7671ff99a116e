import { isRedisConnectionError, NodeRunResultSchema, RunParentDataSchema } from '@reaper-flow/queue';
import type { Job } from 'bullmq';
import type { KindReconciler, ReconcilerModule, SchedulerContext } from '../context';
import { processNodeRun } from './node-run';
import { reconcileDaemonJob } from './reconcile';
import { reviveFailedNodeRuns, reviveNodeRun } from './revival';
import { TokenBucket } from './token-bucket';

/** How often failed node-run steps are looked for besides their own failure event. */
const REVIVAL_SWEEP_MS = 60_000;

/**
 * The ReaperDaemonJob engine as a scheduler module: the keyed reconcile of each job, plus the two
 * workers of its run flows (node-run children in `djob-node-runs`, run parents in `djob-runs`).
 */
export const daemonJobModule: ReconcilerModule = {
  kind: 'ReaperDaemonJob',
  create(ctx: SchedulerContext): KindReconciler {
    const { config } = ctx;
    const store = ctx.stores.daemonJobStore(config.queues.retention.eventLogMaxLen);
    const flows = ctx.stores.runFlows({
      retention: config.queues.retention,
      stepAttempts: config.kubernetes.attempts,
      stepBackoffMs: config.kubernetes.backoffMs,
    });
    const createLimiter = new TokenBucket(() => ctx.live.current().rollout.podCreatesPerSecond);
    const slots = ctx.stores.runSlots();
    const deps = { ctx, store, flows, createLimiter, slots };
    const workers = ctx.stores.runWorkers(
      'daemon-job workers',
      {
        nodeRun: (job, token) => processNodeRun(deps, job, token),
        run: async (job) => {
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
      },
      {
        concurrency: { nodeRuns: config.queues.concurrency.nodeRuns, runs: config.queues.concurrency.runs },
        stalledIntervalMs: config.queues.stalled.intervalMs,
        lockDurationMs: config.queues.stalled.lockDurationMs,
        maxStalledCount: config.queues.stalled.maxCount,
      },
    );
    const { nodeRuns } = workers;
    for (const w of [nodeRuns, workers.runs]) {
      w.on('failed', (job, err) => {
        if (job) ctx.logger.warn({ err, jobId: job.id, queue: w.name }, 'daemon-job step failed');
      });
    }
    const revive = async (job: Job) => {
      const outcome = await reviveNodeRun(deps, job);
      if (outcome === 'invalid') return;
      ctx.logger.info(
        { jobId: job.id, outcome, failedReason: job.failedReason },
        'failed node-run step handled',
      );
    };
    nodeRuns.on('failed', (job) => {
      // Emitted for every failed try; only a step that failed for good is revived.
      if (!job) return;
      void job
        .isFailed()
        .then((final) => (final ? revive(job) : undefined))
        .catch((err: unknown) => ctx.logger.warn({ err, jobId: job.id }, 'node-run revival failed'));
    });
    // Safety net for a scheduler that died between a step's failure and its revival, between
    // parking a node-run and serving the wake that came meanwhile, or between folding a resume and
    // waking what it releases. Runs at start and every minute.
    const sweep = async () => {
      try {
        const revived = await reviveFailedNodeRuns(deps);
        const woken = await flows.serveLeftWakes();
        if (revived + woken > 0)
          ctx.logger.info({ revived, woken }, 'node-runs a dead scheduler left behind resumed');
        // Jobs with node-runs parked on a suspension: their reconcile wakes them if the job was
        // resumed meanwhile (by a scheduler that died before it could), and does nothing otherwise.
        for (const { namespace, name } of await store.jobsWithSuspendedWaits()) {
          await ctx.queues.ReaperDaemonJob.enqueue({ kind: 'ReaperDaemonJob', namespace, name });
        }
      } catch (err) {
        // A Redis outage is reported once by the process's RedisHealth.
        const outage = !ctx.redisHealth.up || isRedisConnectionError(err);
        ctx.logger[outage ? 'debug' : 'warn']({ err }, 'node-run recovery sweep failed');
      }
    };
    void sweep();
    const sweeper = setInterval(sweep, REVIVAL_SWEEP_MS);
    sweeper.unref();
    return {
      reconcile: (req) => reconcileDaemonJob(deps, req),
      async close() {
        clearInterval(sweeper);
        await workers.close();
        await flows.close();
      },
    };
  },
};
