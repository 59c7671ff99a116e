import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger';

/** One thing an app closes when it stops, in the order given. */
export interface StopStep {
  /** Named in the log line when the step fails or is given up on. */
  readonly name: string;
  readonly run: () => unknown;
  /** Go on with the next step after this long even if this one has not finished (default: wait). */
  readonly timeoutMs?: number;
}

export interface StopOnSignalsOptions {
  readonly logger: Logger;
  /** Past this, the process exits even if a step is still running. */
  readonly deadlineMs: number;
  /** Default SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Default `process.exit` (tests pass their own). */
  readonly exit?: (code: number) => void;
}

export interface Shutdown {
  /** What a signal does; a second call (or signal) is a no-op and returns the same promise. */
  stop(reason: string): Promise<void>;
}

/**
 * Every app's stop sequence: on the first SIGTERM or SIGINT, log `stopping`, run the steps one after
 * the other (a step that throws is logged and the next still runs, so one stuck resource does not
 * keep the others open), then exit 0. A stop that does not finish within `deadlineMs` logs an error
 * and exits 0 anyway: Kubernetes would SIGKILL it at the end of the grace period, and every piece
 * of work it left behind is picked up again (jobs stall back into their queues; reconciles and
 * node-agent operations are idempotent). Later signals are ignored while it stops.
 */
export function stopOnSignals(steps: readonly StopStep[], opts: StopOnSignalsOptions): Shutdown {
  const { logger, deadlineMs } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ signal: reason }, 'stopping');
      const deadline = setTimeout(() => {
        logger.error({ deadlineMs }, `did not stop within ${deadlineMs / 1000} s; exiting anyway`);
        exit(0);
      }, deadlineMs);
      deadline.unref();
      for (const step of steps) await runStep(step, logger);
      clearTimeout(deadline);
      exit(0);
    })();
    return stopping;
  };
  for (const signal of opts.signals ?? ['SIGTERM', 'SIGINT']) process.on(signal, () => void stop(signal));
  return { stop };
}

async function runStep(step: StopStep, logger: Logger): Promise<void> {
  const done = Promise.resolve()
    .then(step.run)
    .then(
      () => 'done' as const,
      (err: unknown) => {
        logger.error({ err, step: step.name }, 'error while stopping');
        return 'failed' as const;
      },
    );
  if (step.timeoutMs === undefined) {
    await done;
    return;
  }
  const timer = new AbortController();
  const timeout = sleep(step.timeoutMs, 'timeout' as const, { signal: timer.signal, ref: false }).catch(
    () => 'cancelled' as const,
  );
  const result = await Promise.race([done, timeout]);
  timer.abort();
  if (result === 'timeout') {
    logger.warn(
      { step: step.name, timeoutMs: step.timeoutMs },
      'a stop step did not finish in time; going on',
    );
  }
}
