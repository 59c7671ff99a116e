import { type Job, Worker } from 'bullmq';
import { QueueNames } from './names';
import type { RedisClient } from './redis';
import type { RedisHealth } from './redis-health';

/** What runs a DaemonJob run's jobs: one step of a node-run child, and the run's parent. */
export interface RunProcessors {
  readonly nodeRun: (job: Job, token: string | undefined) => Promise<unknown>;
  readonly run: (job: Job) => Promise<unknown>;
}

export interface RunWorkerOptions {
  readonly concurrency: { readonly nodeRuns: number; readonly runs: number };
  readonly stalledIntervalMs: number;
  readonly lockDurationMs: number;
  readonly maxStalledCount: number;
}

/**
 * The BullMQ workers of the run flows (`djob-node-runs`, `djob-runs`; see RunFlows), on a
 * connection of their own (a worker blocks on it while it waits for jobs), which `close` ends.
 * Their errors go to the process's RedisHealth.
 */
export class RunWorkers {
  readonly nodeRuns: Worker;
  readonly runs: Worker;

  constructor(
    private readonly connection: RedisClient,
    prefix: string,
    health: RedisHealth,
    processors: RunProcessors,
    opts: RunWorkerOptions,
  ) {
    const common = {
      connection,
      prefix,
      stalledInterval: opts.stalledIntervalMs,
      lockDuration: opts.lockDurationMs,
      maxStalledCount: opts.maxStalledCount,
    };
    this.nodeRuns = new Worker(
      QueueNames.nodeRuns,
      (job: Job, token?: string) => processors.nodeRun(job, token),
      {
        ...common,
        concurrency: opts.concurrency.nodeRuns,
      },
    );
    this.runs = new Worker(QueueNames.runs, (job: Job) => processors.run(job), {
      ...common,
      concurrency: opts.concurrency.runs,
    });
    for (const w of [this.nodeRuns, this.runs]) health.absorb(w, w.name);
  }

  /** Stops both workers (waiting for running steps), then ends their connection. */
  async close(): Promise<void> {
    await Promise.all([this.nodeRuns.close(), this.runs.close()]);
    this.connection.disconnect();
  }
}
