import { FlowProducer, type Job, Queue } from 'bullmq';
import { z } from 'zod';
import { QUEUE_EVENTS_MAX_LEN, QueueNames, RedisKeys } from './names';
import type { RetentionOptions } from './reconcile-queue';
import { type RedisClient, scanKeys } from './redis';
import type { ErrorEmitter, RedisHealth } from './redis-health';

/** One node's part of a DaemonJob run: a step machine kept in job.data so a retry resumes. */
export const NodeRunDataSchema = z.object({
  namespace: z.string(),
  job: z.string(),
  jobUid: z.string(),
  runId: z.string(),
  node: z.string(),
  generation: z.number().int(),
  /** 1-based attempt of this run on this node. */
  attempt: z.number().int().min(1),
  /** create: make the attempt's ReaperPod; wait: parked until it ends; backoff: waiting to retry. */
  step: z.enum(['create', 'wait', 'backoff']),
  /** Backoff step: epoch ms before which the next attempt must not start (an early wake re-parks). */
  notBefore: z.number().optional(),
  /** The hold last reported (a dependency holds this node): reported again only when it changes. */
  held: z.string().optional(),
});
export type NodeRunData = z.infer<typeof NodeRunDataSchema>;

export const RunParentDataSchema = z.object({
  namespace: z.string(),
  job: z.string(),
  jobUid: z.string(),
  runId: z.string(),
  generation: z.number().int(),
});
export type RunParentData = z.infer<typeof RunParentDataSchema>;

/** What a node-run child returns to its parent. */
export const NodeRunResultSchema = z.object({
  node: z.string(),
  outcome: z.enum(['Succeeded', 'Failed', 'Superseded']),
  exitCode: z.number().int().optional(),
  attempts: z.number().int(),
});
export type NodeRunResult = z.infer<typeof NodeRunResultSchema>;

const sep = '|';
/** Deterministic ids: adding the same run twice (a reconcile re-run after a crash) adds nothing. */
export const runJobId = (ns: string, job: string, runId: string) => ['run', ns, job, runId].join(sep);
export const nodeRunJobId = (ns: string, job: string, runId: string, node: string) =>
  ['nr', ns, job, runId, node].join(sep);

export interface RunFlowOptions {
  readonly prefix: string;
  readonly retention: RetentionOptions;
  /** Tries of a node-run step that hits unexpected errors (API down...), not workload failures. */
  readonly stepAttempts: number;
  readonly stepBackoffMs: number;
  /** Where the errors of its BullMQ objects go (outages absorbed); default: ignored. */
  readonly health?: RedisHealth | undefined;
}

/**
 * A DaemonJob run is a BullMQ flow: a parent in `djob-runs` that settles the run once every node is
 * done, with one child per target node in `djob-node-runs`. Children use
 * `ignoreDependencyOnFailure`, so even a child that fails for good (its step kept throwing) lets the
 * parent run: a run can never hang in waiting-children. Workload failures are not job failures:
 * a child returns `{outcome: 'Failed'}` after its retries.
 */
export class RunFlows {
  private readonly flows: FlowProducer;
  readonly nodeRuns: Queue;
  readonly runs: Queue;

  constructor(
    private readonly connection: RedisClient,
    private readonly opts: RunFlowOptions,
  ) {
    this.flows = new FlowProducer({ connection, prefix: opts.prefix });
    const streams = { events: { maxLen: QUEUE_EVENTS_MAX_LEN } };
    this.nodeRuns = new Queue(QueueNames.nodeRuns, { connection, prefix: opts.prefix, streams });
    this.runs = new Queue(QueueNames.runs, { connection, prefix: opts.prefix, streams });
    // Without an 'error' listener BullMQ prints each error to the console.
    const emitters: [ErrorEmitter, string][] = [
      [this.flows, 'run flows'],
      [this.nodeRuns, QueueNames.nodeRuns],
      [this.runs, QueueNames.runs],
    ];
    for (const [emitter, source] of emitters) {
      if (opts.health) opts.health.absorb(emitter, source);
      else emitter.on('error', () => undefined);
    }
  }

  /** Adds the flow of one run (idempotent by run id). */
  async addRun(parent: RunParentData, nodes: readonly string[]): Promise<void> {
    const { namespace, job, runId } = parent;
    await this.flows.add({
      name: 'run',
      queueName: QueueNames.runs,
      data: RunParentDataSchema.parse(parent),
      opts: {
        jobId: runJobId(namespace, job, runId),
        removeOnComplete: this.opts.retention.removeOnComplete,
        removeOnFail: this.opts.retention.removeOnFail,
      },
      children: nodes.map((node) => ({
        name: 'node-run',
        queueName: QueueNames.nodeRuns,
        data: {
          namespace,
          job,
          jobUid: parent.jobUid,
          runId,
          node,
          generation: parent.generation,
          attempt: 1,
          step: 'create',
        } satisfies NodeRunData,
        opts: {
          jobId: nodeRunJobId(namespace, job, runId, node),
          ignoreDependencyOnFailure: true,
          attempts: this.opts.stepAttempts,
          backoff: { type: 'exponential', delay: this.opts.stepBackoffMs },
          removeOnComplete: this.opts.retention.removeOnComplete,
          removeOnFail: this.opts.retention.removeOnFail,
        },
      })),
    });
  }

  private wakeKey(namespace: string, job: string, runId: string, node: string): string {
    return RedisKeys.nodeRunWake(this.opts.prefix, nodeRunJobId(namespace, job, runId, node));
  }

  /**
   * Wakes a parked node-run (its ReaperPod changed). Only a delayed job can be promoted, so the
   * wake is also left as a flag: a node-run that was still running when its pod changed (a fast
   * command) finds the flag right after it parks and promotes itself. No wake-up is ever lost to
   * that race, and no watchdog delay is paid for it.
   */
  async wake(namespace: string, job: string, runId: string, node: string): Promise<boolean> {
    const found: Job | undefined = await this.nodeRuns.getJob(nodeRunJobId(namespace, job, runId, node));
    if (!found || found.finishedOn) return false;
    // The flag first, then the promote: a node-run that parks between the two still finds the flag.
    await this.connection.set(this.wakeKey(namespace, job, runId, node), '1', 'EX', 600);
    try {
      await found.promote();
      return true;
    } catch {
      return false; // not delayed: it is running and reads the flag when it parks
    }
  }

  /** Clears a pending wake flag; true if there was one. Called when a node-run wakes or parks. */
  async consumeWake(namespace: string, job: string, runId: string, node: string): Promise<boolean> {
    const connection = this.connection;
    return (await connection.del(this.wakeKey(namespace, job, runId, node))) > 0;
  }

  /**
   * Promotes parked node-runs that a wake flag is still waiting for. A scheduler that died between
   * parking a node-run and reading its flag (see `wake`) leaves one behind; without this the
   * node-run would sleep until its watchdog. Flags live at most 10 minutes, so the scan is short.
   */
  async serveLeftWakes(): Promise<number> {
    const wakes = RedisKeys.nodeRunWakes(this.opts.prefix);
    let promoted = 0;
    for (const key of await scanKeys(this.connection, wakes.pattern)) {
      const found = await this.nodeRuns.getJob(wakes.jobIdOf(key));
      if (!found || !(await found.isDelayed())) continue;
      try {
        await found.promote();
        promoted += 1;
      } catch {
        // Promoted or picked up meanwhile: it reads the flag itself.
      }
    }
    return promoted;
  }

  /** Node-run steps that failed for good (their step kept throwing, or they stalled too often). */
  async failedNodeRuns(limit = 1000): Promise<Job[]> {
    return this.nodeRuns.getFailed(0, limit - 1);
  }

  /**
   * Puts a node-run step that failed for good back to work, where its data says it was (the step is
   * kept in job.data), with fresh step attempts. BullMQ moves it back under its run's parent too.
   * False when it is no longer failed (revived by another scheduler meanwhile).
   */
  async revive(job: Job): Promise<boolean> {
    try {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    } catch {
      return false;
    }
  }

  /** Removes a run's pending work (the job was deleted); active steps notice the job is gone. */
  async removeRun(namespace: string, job: string, runId: string): Promise<void> {
    const parent = await this.runs.getJob(runJobId(namespace, job, runId));
    if (!parent) return;
    try {
      await parent.remove({ removeChildren: true });
    } catch {
      // A child is active (locked): it will see the job gone and finish as superseded.
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.flows.close(), this.nodeRuns.close(), this.runs.close()]);
  }
}
