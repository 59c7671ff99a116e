/** Whether to write a DaemonJob status now, not at all, or after a delay. */
export type StatusWrite =
  | { readonly kind: 'write' }
  | { readonly kind: 'skip' }
  | { readonly kind: 'defer'; readonly afterMs: number };

/**
 * Status writes are coalesced: at most one per `coalesceMs` per object, so a 500-node run does not
 * write its status 500 times. A phase change (Pending -> Running -> Completed...) is written at
 * once: dependents wait on it, and the final state is therefore always written without delay.
 * A deferred write is a requeue of the job's key, which by then folds everything that happened.
 */
export function decideStatusWrite(input: {
  readonly phase: string;
  readonly lastWrittenPhase: string | undefined;
  readonly changed: boolean;
  readonly nowMs: number;
  readonly lastWriteAtMs: number;
  readonly coalesceMs: number;
}): StatusWrite {
  if (!input.changed) return { kind: 'skip' };
  if (input.phase !== input.lastWrittenPhase) return { kind: 'write' };
  const elapsed = input.nowMs - input.lastWriteAtMs;
  if (elapsed >= input.coalesceMs) return { kind: 'write' };
  return { kind: 'defer', afterMs: input.coalesceMs - elapsed };
}
