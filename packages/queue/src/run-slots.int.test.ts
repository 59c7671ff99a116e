import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from './redis';
import { RunSlots } from './run-slots';

describe('RunSlots on real Redis', () => {
  const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, 'producer');
  afterAll(() => redis.disconnect());

  it('holds at most max slots and hands a freed slot to the oldest waiter', { timeout: 10_000 }, async () => {
    const slots = new RunSlots(redis, `{rf-test-${randomUUID().slice(0, 8)}}`);
    const got = [];
    for (const node of ['a', 'b', 'c', 'd']) got.push(await slots.acquire('ns', 'job', `r1|${node}`, 2));
    expect(got).toEqual([true, true, false, false]);
    // A redelivered step keeps its slot; a waiter asking again stays a waiter.
    expect(await slots.acquire('ns', 'job', 'r1|a', 2)).toBe(true);
    expect(await slots.acquire('ns', 'job', 'r1|c', 2)).toBe(false);
    expect(await slots.release('ns', 'job', 'r1|a')).toBe('r1|c');
    expect(await slots.acquire('ns', 'job', 'r1|c', 2)).toBe(true);
    expect(await slots.acquire('ns', 'job', 'r1|d', 2)).toBe(false);
    // Releasing twice frees nothing more and wakes nobody.
    expect(await slots.release('ns', 'job', 'r1|a')).toBeUndefined();
    expect(await slots.release('ns', 'job', 'r1|b')).toBe('r1|d');
  });

  it('a script the server has forgotten (SCRIPT FLUSH, as after a restart) is sent again', {
    timeout: 10_000,
  }, async () => {
    const slots = new RunSlots(redis, `{rf-test-${randomUUID().slice(0, 8)}}`);
    expect(await slots.acquire('ns', 'job', 'r1|a', 1)).toBe(true);
    await redis.script('FLUSH');
    expect(await slots.acquire('ns', 'job', 'r1|b', 1)).toBe(false);
    expect(await slots.release('ns', 'job', 'r1|a')).toBe('r1|b');
    expect(await slots.holders('ns', 'job')).toEqual([]);
  });
});
