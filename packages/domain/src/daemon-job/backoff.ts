/** How long a failed node run waits before its next attempt. */
export type BackoffPolicy = Readonly<{
  type: 'exponential' | 'fixed';
  baseMs: number;
  /** Growth per retry (exponential only). */
  factor: number;
  /** Upper bound of the delay before jitter. */
  capMs: number;
  /** Fraction (0..1) of the delay added or removed at random, so nodes do not retry in lockstep. */
  jitter: number;
}>;

/** Kubernetes Job's backoff (10 s doubling, capped at 6 min) with 10 % jitter. */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  type: 'exponential',
  baseMs: 10_000,
  factor: 2,
  capMs: 360_000,
  jitter: 0.1,
};

const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));

/**
 * Delay in whole milliseconds before retry number `retryNumber` (1 for the first retry).
 * Exponential: `baseMs * factor^(retryNumber - 1)`, fixed: `baseMs`; either capped at `capMs`, then
 * moved by up to `jitter * delay` either way: `random01` (0..1, supplied by the caller so the domain
 * stays deterministic) 0 gives the lowest, 0.5 the unjittered and 1 the highest delay.
 */
export function retryDelayMs(retryNumber: number, policy: BackoffPolicy, random01: number): number {
  const n = Math.max(1, Math.floor(retryNumber));
  const raw = policy.type === 'exponential' ? policy.baseMs * policy.factor ** (n - 1) : policy.baseMs;
  const capped = Number.isFinite(raw) ? clamp(raw, 0, policy.capMs) : policy.capMs;
  const spread = clamp(policy.jitter, 0, 1) * capped;
  const offset = (clamp(random01, 0, 1) * 2 - 1) * spread;
  return Math.max(0, Math.round(capped + offset));
}
