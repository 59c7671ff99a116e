/**
 * The one shape of reaper-flow's own errors (BullMQ's UnrecoverableError and temporalio's
 * ApplicationFailure are the models): a `name` (the class), a stable namespaced `code`
 * (`<area>.<Name>`: `reconcile.Terminal`, `agent.UnsafePath`...), whether it is `terminal` (no retry
 * of the same work can succeed) or transient, and the `cause`. Callers decide with `isTerminal` and
 * `errorCode`, never with `instanceof` alone: errors cross process and Redis boundaries as plain
 * objects. The API client's ApiError has the same shape; its code is the Kubernetes API's own reason
 * vocabulary (`NotFound`, `Conflict`...), checked with `isApiError`.
 */
export abstract class ReaperError extends Error {
  abstract readonly code: string;
  abstract readonly terminal: boolean;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The stable code of any error that carries one (ours, the API client's, Node's errno codes). */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Whether retrying the same work can never succeed: an error that says it is terminal, or BullMQ's
 * UnrecoverableError. Everything else is transient and retried with backoff.
 */
export function isTerminal(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { name?: unknown }).name === 'UnrecoverableError') return true;
  return (err as { terminal?: unknown }).terminal === true;
}

/** The metric label for an error: its code, or `unknown`. */
export function errorLabel(err: unknown): string {
  return errorCode(err) ?? 'unknown';
}
