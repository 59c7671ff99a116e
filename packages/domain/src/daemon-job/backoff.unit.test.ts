import { describe, expect, it } from 'vitest';
import { type BackoffPolicy, DEFAULT_BACKOFF, retryDelayMs } from './backoff';

const exponential: BackoffPolicy = { type: 'exponential', baseMs: 1000, factor: 2, capMs: 10_000, jitter: 0 };

describe('retryDelayMs', () => {
  it('grows exponentially from the base', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, exponential, 0.5))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('is capped', () => {
    expect(retryDelayMs(5, exponential, 0.5)).toBe(10_000);
    expect(retryDelayMs(10_000, exponential, 0.5)).toBe(10_000);
  });

  it('is the base for a fixed policy', () => {
    const fixed: BackoffPolicy = { ...exponential, type: 'fixed', baseMs: 3000 };
    expect([1, 2, 7].map((n) => retryDelayMs(n, fixed, 0.9))).toEqual([3000, 3000, 3000]);
  });

  it('moves the delay by at most jitter * delay either way, driven by random01', () => {
    const jittered: BackoffPolicy = { ...exponential, jitter: 0.2 };
    expect(retryDelayMs(2, jittered, 0)).toBe(1600);
    expect(retryDelayMs(2, jittered, 0.5)).toBe(2000);
    expect(retryDelayMs(2, jittered, 1)).toBe(2400);
    for (let i = 0; i <= 100; i++) {
      const delay = retryDelayMs(3, jittered, i / 100);
      expect(delay).toBeGreaterThanOrEqual(3200);
      expect(delay).toBeLessThanOrEqual(4800);
    }
  });

  it('applies jitter around the cap, so capped retries of many nodes still spread out', () => {
    const jittered: BackoffPolicy = { ...exponential, jitter: 0.1 };
    expect(retryDelayMs(20, jittered, 0)).toBe(9000);
    expect(retryDelayMs(20, jittered, 1)).toBe(11_000);
  });

  it('treats retry numbers below 1 as the first retry and clamps out-of-range inputs', () => {
    expect(retryDelayMs(0, exponential, 0.5)).toBe(1000);
    expect(retryDelayMs(1, { ...exponential, jitter: 5 }, 2)).toBe(2000);
  });

  it('defaults to the Kubernetes Job backoff', () => {
    expect(retryDelayMs(1, DEFAULT_BACKOFF, 0.5)).toBe(10_000);
    expect(retryDelayMs(7, DEFAULT_BACKOFF, 0.5)).toBe(360_000);
  });
});
