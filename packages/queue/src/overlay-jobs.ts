import { type OverlayJob, OverlayJobSchema } from '@reaper-flow/domain';
import { Queue } from 'bullmq';
import { QUEUE_EVENTS_MAX_LEN, QueueNames } from './names';
import type { RetentionOptions } from './reconcile-queue';
import type { RedisClient } from './redis';

/** Deterministic job id: the same intent enqueued twice (at-least-once reconciles) is one job. */
export function overlayJobId(job: OverlayJob): string {
  return ['ovl', job.op, job.namespace, job.name, job.uid.slice(0, 8), job.requestId].join('|');
}

/**
 * Producer side of the per-node overlay queues (`overlay-node-<node>`), one per node, consumed by
 * that node's agent. Jobs retry with backoff; a node whose agent is away keeps its jobs waiting.
 */
export class OverlayNodeQueues {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: RedisClient,
    private readonly opts: {
      prefix: string;
      retention: RetentionOptions;
      attempts?: number;
      backoffMs?: number;
      onError?: (err: Error) => void;
    },
  ) {}

  /** The queue of one node (created on first use). */
  queueFor(node: string): Queue {
    let q = this.queues.get(node);
    if (!q) {
      q = new Queue(QueueNames.overlayNode(node), {
        connection: this.connection,
        prefix: this.opts.prefix,
        streams: { events: { maxLen: QUEUE_EVENTS_MAX_LEN } },
      });
      // An 'error' event without a listener would crash the process; the failed add rejects anyway.
      q.on('error', (err) => this.opts.onError?.(err));
      this.queues.set(node, q);
    }
    return q;
  }

  /** Enqueues `job` for `node` unless the same intent is already queued or done (idempotent). */
  async enqueue(node: string, job: OverlayJob): Promise<void> {
    const data = OverlayJobSchema.parse(job);
    await this.queueFor(node).add(data.op, data, {
      jobId: overlayJobId(data),
      attempts: this.opts.attempts ?? 10,
      backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 1000 },
      removeOnComplete: this.opts.retention.removeOnComplete,
      removeOnFail: this.opts.retention.removeOnFail,
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
