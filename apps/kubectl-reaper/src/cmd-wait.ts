import { setTimeout as sleep } from 'node:timers/promises';
import { Resources } from '@reaper-flow/k8s';
import type { Context } from './context';
import { type DaemonJobObject, RETRY_FAILED_ANNOTATION, TRIGGER_ANNOTATION } from './objects';

export interface WaitFlags {
  readonly job: string;
  readonly timeoutMs: number;
}

const POLL_MS = 500;
const BAR_WIDTH = 30;

/** `[#########.........] 3/5` of the nodes done (succeeded or failed). */
function progressBar(done: number, total: number): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
}

/**
 * `wait rdjob/NAME`: until the job's status describes its current spec (observedGeneration) and its
 * phase is Completed (exit 0) or PartiallyFailed (exit 1); 2 on the timeout. On a terminal the
 * progress bar is redrawn in place; otherwise only the final line is printed.
 */
export async function waitCommand(ctx: Context, flags: WaitFlags): Promise<number> {
  const deadline = Date.now() + flags.timeoutMs;
  const tty = ctx.out.isTTY === true;
  let last = '';
  const finish = (line: string) => ctx.out.write(`${tty && last ? '\r\u001b[2K' : ''}${line}\n`);
  while (!ctx.signal.aborted) {
    const job = await ctx.kube.get<DaemonJobObject>(Resources.reaperDaemonJobs, flags.job, {
      namespace: ctx.namespace,
    });
    if (!job) {
      ctx.err.write(`Error from server (NotFound): reaperdaemonjobs.reaper.io "${flags.job}" not found\n`);
      return 1;
    }
    const s = job.status ?? {};
    // A trigger the scheduler has not acted on yet (its value is not lastTriggerValue) means the
    // phase shown is the previous run's: `trigger` then `wait` must wait for the new run.
    // The same for `retry --failed` (reaper.io/retry-failed against status.lastRetryValue).
    const trigger = job.metadata.annotations?.[TRIGGER_ANNOTATION];
    const retry = job.metadata.annotations?.[RETRY_FAILED_ANNOTATION];
    const triggerSeen =
      (trigger === undefined || trigger === s.lastTriggerValue) &&
      (retry === undefined || retry === s.lastRetryValue);
    const current =
      triggerSeen && s.observedGeneration !== undefined && s.observedGeneration === job.metadata.generation;
    const ready = s.readyNodes ?? 0;
    const failed = s.failedNodes ?? 0;
    const total = s.totalNodes ?? 0;
    if (current && s.phase === 'Completed') {
      finish(`reaperdaemonjob.reaper.io/${flags.job} Completed: ${ready}/${total} nodes succeeded`);
      return 0;
    }
    if (current && s.phase === 'PartiallyFailed') {
      finish(`reaperdaemonjob.reaper.io/${flags.job} PartiallyFailed: ${failed}/${total} nodes failed`);
      return 1;
    }
    if (Date.now() >= deadline) {
      finish(`timed out waiting for reaperdaemonjob.reaper.io/${flags.job} (phase ${s.phase ?? 'Pending'})`);
      return 2;
    }
    if (tty) {
      const line = `${progressBar(ready + failed, total)} ${s.phase ?? 'Pending'}${failed ? ` (${failed} failed)` : ''}`;
      if (line !== last) ctx.out.write(`\r\u001b[2K${line}`);
      last = line;
    }
    await sleep(POLL_MS, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
  return 1;
}
