/**
 * Error kinds of the node agent. Each has a stable `code`: BullMQ stores a failed job's error as
 * text in Redis, and the processor decides "retry or give up" from the code, not from `instanceof`.
 */

/** A namespace or overlay name that cannot be a path component in the runtime's layout. */
export class InvalidOverlayNameError extends Error {
  readonly code = 'InvalidOverlayName';
  override readonly name = 'InvalidOverlayNameError';
}

/**
 * A path that would leave the state dir, or pass through a symlink or a non-directory where a
 * directory is expected. Never retried: the same names and the same disk give the same answer,
 * and an operator has to look at the node.
 */
export class UnsafePathError extends Error {
  readonly code = 'UnsafePath';
  override readonly name = 'UnsafePathError';
}

/** Something still mounted below a path that is about to be removed; retried with backoff. */
export class OverlayBusyError extends Error {
  readonly code = 'OverlayBusy';
  override readonly name = 'OverlayBusyError';
}

/** The overlay's lock file is held by a live holder for longer than we wait; retried with backoff. */
export class OverlayLockedError extends Error {
  readonly code = 'OverlayLocked';
  override readonly name = 'OverlayLockedError';
}

/** Error codes that no retry can fix: the job fails at once (BullMQ UnrecoverableError). */
export const TERMINAL_AGENT_CODES: ReadonlySet<string> = new Set(['InvalidOverlayName', 'UnsafePath']);

/** The stable code of an agent error, if `err` is one (works on errors that crossed Redis too). */
export function agentErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
