import { DaemonJobStore } from './daemon-job-store';
import type { RedisClient } from './redis';
import type { RedisHealth } from './redis-health';
import { type RunFlowOptions, RunFlows } from './run-flows';
import { RunSlots } from './run-slots';
import { type RunProcessors, type RunWorkerOptions, RunWorkers } from './run-workers';

export interface QueueFactoryOptions {
  /** The process's producer connection (fails fast), shared by the stores. */
  readonly producer: RedisClient;
  readonly prefix: string;
  readonly health: RedisHealth;
  /** Opens a connection of its own for blocking workers, named for the health log. */
  readonly connect: (name: string) => RedisClient;
}

/**
 * Builds the stores, queues and workers of packages/queue on the process's connections: what an
 * app's wiring hands its reconcilers instead of a Redis client and a key prefix, so a reconciler
 * can reach Redis only through the classes that own its keys.
 */
export class QueueFactory {
  constructor(private readonly opts: QueueFactoryOptions) {}

  daemonJobStore(eventLogMaxLen: number): DaemonJobStore {
    return new DaemonJobStore(this.opts.producer, this.opts.prefix, eventLogMaxLen);
  }

  runFlows(opts: Omit<RunFlowOptions, 'prefix' | 'health'>): RunFlows {
    return new RunFlows(this.opts.producer, { ...opts, prefix: this.opts.prefix, health: this.opts.health });
  }

  runSlots(): RunSlots {
    return new RunSlots(this.opts.producer, this.opts.prefix);
  }

  /** Starts the run flows' workers on a new connection (`name` in the health log); close them to end it. */
  runWorkers(name: string, processors: RunProcessors, opts: RunWorkerOptions): RunWorkers {
    const connection = this.opts.connect(name);
    return new RunWorkers(connection, this.opts.prefix, this.opts.health, processors, opts);
  }
}
