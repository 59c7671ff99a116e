import type { Metrics } from '@reaper-flow/runtime';
import type { Queue } from 'bullmq';

/** The job states reported as reaper_queue_depth{queue,state}. */
const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed'] as const;

/** Samples the depth of each queue into the gauge (called before a Prometheus scrape). */
export async function sampleQueueDepth(metrics: Metrics, queues: readonly Queue[]): Promise<void> {
  await Promise.all(
    queues.map(async (q) => {
      const counts = await q.getJobCounts(...STATES);
      for (const state of STATES) metrics.queueDepth.set({ queue: q.name, state }, counts[state] ?? 0);
    }),
  );
}
