import { errorCode, isTerminal, type OverlayJob, OverlayJobSchema } from '@reaper-flow/domain';
import type { Logger } from '@reaper-flow/runtime';
import { UnrecoverableError } from 'bullmq';
import type { KeyedMutex } from './keyed-mutex';
import type { OverlayDisk } from './overlay-disk';
import type { OverlayStatusPort } from './status-reporter';

/** What one job did; stored as the job's return value (visible in the dashboard). */
export interface OverlayJobOutcome {
  readonly op: OverlayJob['op'];
  readonly result: 'applied' | 'already-applied' | 'skipped';
  readonly detail: string;
  readonly reported: boolean;
}

export interface OverlayProcessorDeps {
  readonly disk: OverlayDisk;
  readonly status: OverlayStatusPort;
  readonly logger: Logger;
  /** Aborted when the agent stops while the job waits (see OperationOptions). */
  readonly signal?: AbortSignal | undefined;
  /** This is the job's last attempt: a failure, even a transient one, is then reported on the node entry. */
  readonly finalAttempt?: boolean | undefined;
  /**
   * One per agent, shared by all its jobs: the jobs of one overlay run one after another, the disk
   * operation and its report together, so this node's reports reach the API server in the order
   * its disk changed. Without it an ensure's report (generation 0), sent before but landing after
   * the next reset's (generation 1), left the node's entry at 0 for good.
   */
  readonly order: KeyedMutex;
}

/** The message a node reports once its overlay data is gone. */
export const CLEANED_MESSAGE = 'overlay data removed';

/**
 * Runs one overlay job: parse, check the incarnation, act on disk, report into the ReaperOverlay.
 *
 * Error classes:
 * - a payload that does not parse, an invalid name or an unsafe path is terminal: the job fails
 *   with UnrecoverableError (BullMQ does not retry) and, where the object can be named, the node's
 *   entry says why;
 * - anything else (API unavailable, lock busy, something still mounted) is thrown as is and BullMQ
 *   retries the job with its backoff; the last attempt also writes the error on the node's entry.
 *   Every step is idempotent, so a retry after a partial run converges.
 */
export async function processOverlayJob(
  data: unknown,
  deps: OverlayProcessorDeps,
): Promise<OverlayJobOutcome> {
  const parsed = OverlayJobSchema.safeParse(data);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`);
    throw new UnrecoverableError(`invalid overlay job payload: ${fields.join('; ')}`);
  }
  const job = parsed.data;
  try {
    // Names are validated before anything talks to the API or the disk.
    deps.disk.paths(job.namespace, job.name);
  } catch (err) {
    throw asUnrecoverable(err);
  }
  return deps.order.run(`${job.namespace}/${job.name}`, () => runOverlayJob(job, deps));
}

async function runOverlayJob(job: OverlayJob, deps: OverlayProcessorDeps): Promise<OverlayJobOutcome> {
  const log = deps.logger.child({
    overlay: `${job.namespace}/${job.name}`,
    op: job.op,
    requestId: job.requestId,
  });
  const uid = await deps.status.currentUid(job.namespace, job.name);
  const sameIncarnation = uid === job.uid;

  if (job.op !== 'delete' && !sameIncarnation) {
    // An ensure or reset for an overlay that is gone, or for an older incarnation of its name,
    // must not touch what the current one (if any) has on disk.
    const detail = uid === undefined ? 'the ReaperOverlay no longer exists' : `uid is now ${uid}`;
    log.info({ jobUid: job.uid }, `skipping ${job.op}: ${detail}`);
    return { op: job.op, result: 'skipped', detail, reported: false };
  }
  if (job.op !== 'delete' && (await deps.status.isDeleting?.(job.namespace, job.name))) {
    // A retried ensure or reset must not re-create data the deletion is cleaning up.
    const detail = 'the ReaperOverlay is being deleted';
    log.info(`skipping ${job.op}: ${detail}`);
    return { op: job.op, result: 'skipped', detail, reported: false };
  }

  try {
    switch (job.op) {
      case 'ensure': {
        const r = await deps.disk.ensure(job, { signal: deps.signal });
        log.info({ created: r.created, generation: r.generation }, 'overlay ensured');
        const reported = await report(deps, job, {
          ready: true,
          resetGeneration: r.generation,
          lastResetTime: r.resetAt,
        });
        return { op: job.op, result: 'applied', detail: r.created ? 'created' : 'present', reported };
      }
      case 'reset': {
        const r = await deps.disk.reset(job, { signal: deps.signal });
        log.info({ applied: r.applied, generation: r.generation, helper: r.helper }, 'overlay reset');
        // Reported also when already applied: the first delivery may have crashed before reporting.
        const reported = await report(deps, job, {
          ready: true,
          resetGeneration: r.generation,
          lastResetTime: r.resetAt,
        });
        return {
          op: job.op,
          result: r.applied ? 'applied' : 'already-applied',
          detail: `generation ${r.generation}`,
          reported,
        };
      }
      case 'delete': {
        const r = await deps.disk.remove(job, { signal: deps.signal });
        if (!r.removed) {
          log.warn(
            { jobUid: job.uid },
            'overlay data on this node belongs to another incarnation; left alone',
          );
          return {
            op: job.op,
            result: 'skipped',
            detail: 'data belongs to another incarnation',
            reported: false,
          };
        }
        log.info({ helper: r.helper }, 'overlay data removed');
        // Reported only on the incarnation that asked: a new overlay of the same name is not cleaned.
        const reported =
          sameIncarnation &&
          (await report(deps, job, {
            ready: false,
            cleaned: true,
            resetGeneration: job.generation,
            message: CLEANED_MESSAGE,
          }));
        return { op: job.op, result: 'applied', detail: 'removed', reported };
      }
      default: {
        const never: never = job.op;
        throw new UnrecoverableError(`unknown overlay op ${String(never)}`);
      }
    }
  } catch (err) {
    const terminal = isTerminal(err);
    if (!terminal && !deps.finalAttempt) throw err;
    log.error({ err }, `overlay ${job.op} failed for good`);
    // Skipped when the object is gone or another incarnation: there is no entry of ours to explain.
    if (sameIncarnation) await reportFailure(deps, job, err as Error, log);
    throw terminal ? asUnrecoverable(err) : err;
  }
}

async function report(
  deps: OverlayProcessorDeps,
  job: OverlayJob,
  entry: Parameters<OverlayStatusPort['report']>[2],
): Promise<boolean> {
  return (await deps.status.report(job.namespace, job.name, entry)) === 'written';
}

/** Best effort: the job fails whatever happens here, and a failed report must not hide the cause. */
async function reportFailure(
  deps: OverlayProcessorDeps,
  job: OverlayJob,
  err: Error,
  log: Logger,
): Promise<void> {
  try {
    const record = await deps.disk.readRecord(job.namespace, job.name).catch(() => undefined);
    await deps.status.report(job.namespace, job.name, {
      ready: false,
      resetGeneration: record?.uid === job.uid ? record.generation : job.generation,
      lastResetTime: record?.uid === job.uid ? record.resetAt : undefined,
      message: `${job.op} failed: ${err.message}`,
    });
  } catch (reportErr) {
    log.warn({ err: reportErr }, 'could not report the failure into the ReaperOverlay status');
  }
}

function asUnrecoverable(err: unknown): UnrecoverableError {
  if (err instanceof UnrecoverableError) return err;
  const code = errorCode(err);
  const e = new UnrecoverableError(`${code ? `${code}: ` : ''}${(err as Error).message}`);
  e.cause = err;
  return e;
}
