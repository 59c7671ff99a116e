import { createHash, timingSafeEqual } from 'node:crypto';

/** The secrets the dashboard accepts; at least one of password and token is set. */
export interface DashboardCredentials {
  readonly username: string;
  readonly password?: string | undefined;
  readonly token?: string | undefined;
}

export type AuthDecision =
  | { readonly ok: true; readonly via: 'basic' | 'bearer' }
  | { readonly ok: false; readonly reason: 'missing' | 'malformed' | 'rejected' };

/** The challenge sent with every 401, so browsers show their login prompt. */
export const BASIC_CHALLENGE = 'Basic realm="reaper-flow dashboard", charset="UTF-8"';

/**
 * Compares two secrets in constant time. Both sides are hashed first so that neither the length
 * nor the position of the first differing byte of the configured secret leaks through timing.
 */
export function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Decides one request from its Authorization header: HTTP basic auth with the configured user and
 * password, or `Bearer <token>`. A scheme whose secret is not configured never matches.
 */
export function authorize(header: string | undefined, creds: DashboardCredentials): AuthDecision {
  if (!header) return { ok: false, reason: 'missing' };
  const match = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!match?.[1] || !match[2]) return { ok: false, reason: 'malformed' };
  const scheme = match[1].toLowerCase();
  const value = match[2];
  if (scheme === 'bearer') {
    if (creds.token === undefined) return { ok: false, reason: 'rejected' };
    return secretEquals(value, creds.token) ? { ok: true, via: 'bearer' } : { ok: false, reason: 'rejected' };
  }
  if (scheme !== 'basic') return { ok: false, reason: 'malformed' };
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { ok: false, reason: 'malformed' };
  if (creds.password === undefined) return { ok: false, reason: 'rejected' };
  // Both comparisons always run: which of the two was wrong must not show in the timing.
  const userOk = secretEquals(decoded.slice(0, colon), creds.username);
  const passwordOk = secretEquals(decoded.slice(colon + 1), creds.password);
  return userOk && passwordOk ? { ok: true, via: 'basic' } : { ok: false, reason: 'rejected' };
}
