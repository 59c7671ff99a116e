import { ReaperError } from '@reaper-flow/domain';

/**
 * Error kinds of the node agent, in the project's one error shape (ReaperError): a stable code and
 * whether retrying can help. BullMQ stores a failed job's error as text in Redis; the processor
 * decides "retry or give up" with isTerminal, not with `instanceof`.
 */

/** A namespace or overlay name that cannot be a path component in the runtime's layout. */
export class InvalidOverlayNameError extends ReaperError {
  readonly code = 'agent.InvalidOverlayName';
  readonly terminal = true;
}

/**
 * A path that would leave the state dir, or pass through a symlink or a non-directory where a
 * directory is expected. Never retried: the same names and the same disk give the same answer,
 * and an operator has to look at the node.
 */
export class UnsafePathError extends ReaperError {
  readonly code = 'agent.UnsafePath';
  readonly terminal = true;
}

/** Something still mounted below a path that is about to be removed; retried with backoff. */
export class OverlayBusyError extends ReaperError {
  readonly code = 'agent.OverlayBusy';
  readonly terminal = false;
}

/** The overlay's lock file is held by a live holder for longer than we wait; retried with backoff. */
export class OverlayLockedError extends ReaperError {
  readonly code = 'agent.OverlayLocked';
  readonly terminal = false;
}
