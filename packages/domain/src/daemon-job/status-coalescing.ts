import type { DaemonJobStatusView } from './views';

/** Why a status is written now (for tests and logs; the shell only reads `kind`). */
export type StatusWriteReason =
  /** The phase differs from the last written one. */
  | 'phase'
  /** A condition's status, the observed generation or an acknowledged annotation differs. */
  | 'state'
  /** No record of what was last written (a snapshot saved before the record existed). */
  | 'unrecorded'
  /** A batch of node-runs settled since the last write (any change, in a job of up to 16 nodes). */
  | 'batch'
  /** Progress only, but the written one is `STALE_AFTER_INTERVALS` intervals old. */
  | 'stale';

/** Whether to write a DaemonJob status now, not at all, or after a delay. */
export type StatusWrite =
  | { readonly kind: 'write'; readonly reason: StatusWriteReason }
  | { readonly kind: 'skip' }
  | { readonly kind: 'defer'; readonly afterMs: number };

/**
 * What coalescing remembers of the last status written (saved in the EngineState next to
 * `lastWrittenPhase`): its settled counts and its state key.
 */
export interface WrittenStatusMark {
  readonly readyNodes: number;
  readonly failedNodes: number;
  /** `statusStateKey` of that status. */
  readonly stateKey: string;
}

/** Progress that is not a batch is still written once it is this many `coalesceMs` old. */
export const STALE_AFTER_INTERVALS = 5;

/** Most node-runs one batch waits for (a 5000-node job writes its progress once per 64). */
export const MAX_PROGRESS_BATCH = 64;

/**
 * A run writes its progress about this many times at most, besides its phases and conditions: a
 * 1000-node run writes 15 batches and 3 phases, under one write per 50 node-runs.
 */
const BATCHES_PER_RUN = 16;

/**
 * How many node-runs must settle (succeed or fail for good) before progress alone is written:
 * `clamp(ceil(totalNodes / 16), 1, 64)`. A job of up to 16 nodes (a batch of one) writes any
 * change once `coalesceMs` passed, as before batches; a 1000-node job once per 63 node-runs, not
 * once per `coalesceMs`.
 */
export function progressBatch(totalNodes: number): number {
  return Math.min(MAX_PROGRESS_BATCH, Math.max(1, Math.ceil(totalNodes / BATCHES_PER_RUN)));
}

/**
 * The part of a status a user or a script acts on besides the phase: each condition's type and
 * status (`kubectl wait --for=condition=Suspended`), the observed generation (a spec change seen)
 * and the trigger and retry annotation values acknowledged. Reasons and messages are left out:
 * they restate progress, which is coalesced.
 */
export function statusStateKey(status: DaemonJobStatusView): string {
  return JSON.stringify([
    status.conditions.map((c) => `${c.type}=${c.status}`),
    status.observedGeneration ?? null,
    status.lastTriggerValue ?? null,
    status.lastRetryValue ?? null,
  ]);
}

/** The mark to record once `status` is written. */
export function statusMark(status: DaemonJobStatusView): WrittenStatusMark {
  return { readyNodes: status.readyNodes, failedNodes: status.failedNodes, stateKey: statusStateKey(status) };
}

/**
 * Status writes are coalesced, so a 1000-node run does not write its status 1000 times (every
 * write ships the whole object to etcd and to every watcher of ReaperDaemonJobs):
 * 1. nothing changed: skip;
 * 2. the phase changed (Pending -> Running -> Completed...): write at once, since dependents and
 *    users wait on it, and the final state is therefore always written without delay;
 * 3. otherwise nothing within `coalesceMs` of the last write;
 * 4. after that, a change of state (`statusStateKey`: conditions, observed generation,
 *    acknowledged annotations) is written, and so is any change when there is no record of what
 *    was last written;
 * 5. progress only (counts, nodeStatuses, message) is written once `progressBatch(totalNodes)`
 *    node-runs settled since the last write (|delta readyNodes| + |delta failedNodes|), or once
 *    the last write is `STALE_AFTER_INTERVALS * coalesceMs` old, so progress is never staler. A
 *    job of up to 16 nodes (a batch of one) writes any change: a node starting or parking shows
 *    as soon as it did before batches, at no cost at scale.
 * A deferred write is a requeue of the job's key after `afterMs`, which by then folds everything
 * that happened; a settle before that reconciles the job anyway and may write earlier.
 */
export function decideStatusWrite(input: {
  readonly phase: string;
  readonly lastWrittenPhase: string | undefined;
  readonly changed: boolean;
  /** The status to write: its counts and state key. */
  readonly mark: WrittenStatusMark;
  readonly totalNodes: number;
  /** What the last write recorded; undefined in a snapshot saved before the record existed. */
  readonly lastWritten: WrittenStatusMark | undefined;
  readonly nowMs: number;
  readonly lastWriteAtMs: number;
  readonly coalesceMs: number;
}): StatusWrite {
  if (!input.changed) return { kind: 'skip' };
  if (input.phase !== input.lastWrittenPhase) return { kind: 'write', reason: 'phase' };
  const elapsed = input.nowMs - input.lastWriteAtMs;
  if (elapsed < input.coalesceMs) return { kind: 'defer', afterMs: input.coalesceMs - elapsed };
  const last = input.lastWritten;
  if (!last) return { kind: 'write', reason: 'unrecorded' };
  if (input.mark.stateKey !== last.stateKey) return { kind: 'write', reason: 'state' };
  const settled =
    Math.abs(input.mark.readyNodes - last.readyNodes) + Math.abs(input.mark.failedNodes - last.failedNodes);
  const batch = progressBatch(input.totalNodes);
  if (batch === 1 || settled >= batch) return { kind: 'write', reason: 'batch' };
  const staleMs = STALE_AFTER_INTERVALS * input.coalesceMs;
  if (elapsed >= staleMs) return { kind: 'write', reason: 'stale' };
  return { kind: 'defer', afterMs: staleMs - elapsed };
}
