import { ReaperError } from '@reaper-flow/domain';
/**
 * Stable error codes for API failures. Callers check `code` (not only `instanceof`), because errors
 * cross process and Redis boundaries as plain objects.
 */
export type ApiErrorCode =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Forbidden'
  | 'Unauthorized'
  | 'Invalid'
  | 'BadRequest'
  | 'TooManyRequests'
  | 'ServerError'
  | 'Network'
  | 'Timeout'
  | 'Unknown';

/** Transient failures are retried with backoff; the rest are terminal for the request as sent. */
export const TRANSIENT_CODES: ReadonlySet<ApiErrorCode> = new Set([
  'TooManyRequests',
  'ServerError',
  'Network',
  'Timeout',
  'Conflict',
]);

/** The API server refused the request as written: sending it again cannot succeed. */
const TERMINAL_CODES: ReadonlySet<ApiErrorCode> = new Set(['Invalid', 'BadRequest']);

/**
 * A failed API request, in the project's error shape (ReaperError). Its code is the Kubernetes API's
 * own reason vocabulary, checked with isApiError; `transient` ones are retried by the client.
 */
export class ApiError extends ReaperError {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    readonly httpStatus: number,
    message: string,
    readonly reason?: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get transient(): boolean {
    return TRANSIENT_CODES.has(this.code);
  }

  get terminal(): boolean {
    return TERMINAL_CODES.has(this.code);
  }
}

export function codeForStatus(status: number, reason?: string): ApiErrorCode {
  switch (status) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 409:
      return reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict';
    case 410:
      return 'Gone';
    case 422:
      return 'Invalid';
    case 429:
      return 'TooManyRequests';
    case 504:
      return 'Timeout';
    default:
      return status >= 500 ? 'ServerError' : 'Unknown';
  }
}

export function isApiError(err: unknown, code?: ApiErrorCode): err is ApiError {
  if (typeof err !== 'object' || err === null) return false;
  const c = (err as { code?: unknown }).code;
  if ((err as { name?: unknown }).name !== 'ApiError' || typeof c !== 'string') return false;
  return code === undefined || c === code;
}

/**
 * The API server refused a write because the object's namespace is being deleted. Expected while a
 * namespace goes away (its objects go with it): callers retry or drop quietly, they do not warn.
 */
export function isNamespaceTerminating(err: unknown): boolean {
  return isApiError(err, 'Forbidden') && /because it is being terminated/.test(err.message);
}

/**
 * A write refused because its namespace is being deleted or is already gone (a create in a deleted
 * namespace answers NotFound naming the namespace). Either way the object goes with the namespace.
 */
export function isNamespaceGone(err: unknown): boolean {
  if (isNamespaceTerminating(err)) return true;
  const details = isApiError(err, 'NotFound') ? (err.details as { kind?: unknown } | undefined) : undefined;
  return details?.kind === 'namespaces';
}
