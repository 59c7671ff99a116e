import { isTerminal, ReaperError } from '@reaper-flow/domain';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { z } from 'zod';
import {
  formatKey,
  type ObjectKey,
  parseKey,
  QUEUE_EVENTS_MAX_LEN,
  QueueNames,
  type ReconcileKind,
} from './names';
import type { RedisClient } from './redis';

/** What a reconcile asks for when it returns. */
export interface ReconcileResult {
  /** Reconcile this key again after this many ms even if nothing changes (e.g. a deadline). */
  readonly requeueAfterMs?: number | undefined;
}

/** How this reconcile was delivered: which try, how old its change is, and what asked for it. */
export interface ReconcileDelivery {
  /** 1 for the first try of this job, 2.. for BullMQ retries after a transient error. */
  readonly attempt: number;
  /** Epoch ms when the change that caused this reconcile was first seen (for event-lag metrics). */
  readonly seenAt: number;
  /**
   * What asked for it (`Pod MODIFIED`, `requeue`...), for metrics only: the request that made the
   * job, which absorbed the requests that came while it waited.
   */
  readonly cause: string;
}

export type Reconciler = (
  key: ObjectKey,
  delivery: ReconcileDelivery,
) => Promise<ReconcileResult | undefined>;

export interface RetentionOptions {
  /** Completed jobs kept (count) for the dashboard; older ones are removed. */
  readonly removeOnComplete: number;
  readonly removeOnFail: number;
}

export interface ReconcileQueueOptions {
  readonly prefix: string;
  readonly kind: ReconcileKind;
  readonly retention: RetentionOptions;
  /** Tries for a reconcile that fails with a transient error (exponential backoff between). */
  readonly attempts: number;
  readonly backoffMs: number;
  /** After the last attempt failed, reconcile again after this long anyway (level-triggered). */
  readonly failedRequeueMs: number;
}

export interface ReconcileWorkerOptions {
  readonly concurrency: number;
  readonly stalledIntervalMs: number;
  readonly lockDurationMs: number;
  readonly maxStalledCount: number;
  readonly onError?: (err: Error) => void;
  /**
   * A job that is not a reconcile of this queue's kind (garbage written into the queue): it is
   * failed at once, never retried nor requeued; this is called once for it, to say so.
   */
  readonly onInvalidJob?: (info: { readonly jobId: string; readonly reason: string }) => void;
}

const JobData = z.object({ key: z.string(), seenAt: z.number(), cause: z.string().optional() });

/** The cause of a request whose caller named none. */
export const UNSPECIFIED_CAUSE = 'unspecified';
/** The cause of a reconcile a timer asked for (`requeueAfterMs`, or the retry of a key that kept failing). */
export const REQUEUE_CAUSE = 'requeue';

/** A reconcile that must not be retried (the reconciler already reported it on the object). */
export class TerminalReconcileError extends ReaperError {
  readonly code = 'reconcile.Terminal';
  readonly terminal = true;
}

/**
 * A Kubernetes-style work queue on BullMQ: it carries object keys, not changes.
 *
 * Guarantees, enforced by BullMQ's deduplication with `keepLastIfActive` + `replace`, keyed by the
 * object key (one atomic Lua script per add):
 * - coalescing: while a reconcile of a key is waiting, more adds of that key are absorbed by it;
 * - no lost change: an add that arrives while the key is being reconciled is stored and enqueued
 *   when that reconcile finishes (exactly one more reconcile, whatever the number of adds);
 * - serialisation: at most one job per key exists outside that stored "next", so two reconciles
 *   of the same key never run at once, even across scheduler processes;
 * - promptness: an add replaces a job that is waiting out a retry backoff, so a new change is
 *   reconciled now, not after the backoff.
 * "Reconcile again later" requests (`requeueAfterMs`) use a separate timer job per key, so a timer
 * can never delay a real change.
 */
export class ReconcileQueue {
  readonly queue: Queue;
  readonly name: string;
  private worker: Worker | undefined;

  constructor(
    connection: RedisClient,
    private readonly opts: ReconcileQueueOptions,
  ) {
    this.name = QueueNames.reconcile(opts.kind);
    this.queue = new Queue(this.name, {
      connection,
      prefix: opts.prefix,
      streams: { events: { maxLen: QUEUE_EVENTS_MAX_LEN } },
      defaultJobOptions: {
        removeOnComplete: opts.retention.removeOnComplete,
        removeOnFail: opts.retention.removeOnFail,
      },
    });
  }

  /**
   * Asks for a reconcile of `key` (idempotent, coalescing; see the class comment). `cause` labels
   * the reconcile's metrics only: it never changes what the reconcile does.
   */
  async enqueue(
    key: ObjectKey | string,
    seenAt: number = Date.now(),
    cause: string = UNSPECIFIED_CAUSE,
  ): Promise<void> {
    const text = typeof key === 'string' ? key : formatKey(key);
    await this.queue.add(
      'reconcile',
      { key: text, seenAt, cause },
      {
        attempts: this.opts.attempts,
        backoff: { type: 'exponential', delay: this.opts.backoffMs },
        deduplication: { id: text, keepLastIfActive: true, replace: true },
      },
    );
  }

  /** Asks for a reconcile of `key` after `delayMs`; a later request for the same key replaces it. */
  async requeueAfter(key: ObjectKey | string, delayMs: number): Promise<void> {
    const text = typeof key === 'string' ? key : formatKey(key);
    await this.queue.add(
      'requeue',
      { key: text, seenAt: Date.now() + delayMs },
      {
        delay: delayMs,
        removeOnComplete: true,
        removeOnFail: true,
        deduplication: { id: `t|${text}`, replace: true },
      },
    );
  }

  /** Starts a worker that runs `reconciler` for each key. */
  start(connection: RedisClient, reconciler: Reconciler, wopts: ReconcileWorkerOptions): Worker {
    if (this.worker) throw new Error(`worker for ${this.name} already started`);
    const worker = new Worker(this.name, (job: Job) => this.process(job, reconciler, wopts), {
      connection,
      prefix: this.opts.prefix,
      concurrency: wopts.concurrency,
      stalledInterval: wopts.stalledIntervalMs,
      lockDuration: wopts.lockDurationMs,
      maxStalledCount: wopts.maxStalledCount,
      autorun: true,
    });
    worker.on('error', (err) => wopts.onError?.(err));
    worker.on('failed', (job, err) => {
      // Unrecoverable: an invalid job, or a reconcile that reported its problem on the object.
      if (job?.name !== 'reconcile' || err.name === 'UnrecoverableError') return;
      const exhausted = job.attemptsMade >= (job.opts.attempts ?? 1);
      if (exhausted && !isTerminal(err)) {
        // Level-triggered safety net: an object whose reconcile kept failing is tried again later.
        const data = JobData.safeParse(job.data);
        if (data.success) {
          this.requeueAfter(data.data.key, this.opts.failedRequeueMs).catch((e: Error) => wopts.onError?.(e));
        }
      }
    });
    this.worker = worker;
    return worker;
  }

  /** The job's key, or why the job is not one of this queue's (its data is Redis data: parsed). */
  private keyOf(job: Job): { key: ObjectKey; seenAt: number; cause: string } | { reason: string } {
    if (job.name !== 'reconcile' && job.name !== 'requeue')
      return { reason: `unknown job name "${job.name}"` };
    const data = JobData.safeParse(job.data);
    if (!data.success) {
      const fields = data.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`);
      return { reason: `data is not {key, seenAt}: ${fields.join('; ')}` };
    }
    let key: ObjectKey;
    try {
      key = parseKey(data.data.key);
    } catch (err) {
      return { reason: (err as Error).message };
    }
    if (key.kind !== this.opts.kind) return { reason: `key "${data.data.key}" is not a ${this.opts.kind}` };
    return { key, seenAt: data.data.seenAt, cause: data.data.cause ?? UNSPECIFIED_CAUSE };
  }

  private async process(job: Job, reconciler: Reconciler, wopts: ReconcileWorkerOptions): Promise<unknown> {
    const parsed = this.keyOf(job);
    if ('reason' in parsed) {
      wopts.onInvalidJob?.({ jobId: job.id ?? '?', reason: parsed.reason });
      throw new UnrecoverableError(`invalid ${this.name} job ${job.id}: ${parsed.reason}`);
    }
    const { key } = parsed;
    if (job.name === 'requeue') {
      await this.enqueue(key, parsed.seenAt, REQUEUE_CAUSE);
      return { requeued: true };
    }
    const delivery: ReconcileDelivery = {
      attempt: job.attemptsMade + 1,
      seenAt: parsed.seenAt,
      cause: parsed.cause,
    };
    try {
      const result = await reconciler(key, delivery);
      if (result?.requeueAfterMs !== undefined) await this.requeueAfter(key, result.requeueAfterMs);
      return result ?? {};
    } catch (err) {
      if (isTerminal(err)) throw new UnrecoverableError((err as Error).message);
      throw err;
    }
  }

  /** Stops the worker, waiting at most `timeoutMs` for running reconciles, then closes the queue. */
  async close(timeoutMs = 10_000): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) {
      const closing = worker.close();
      const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
      await Promise.race([closing, timer]);
      if (worker.isRunning()) await worker.close(true);
    }
    await this.queue.close();
  }
}
