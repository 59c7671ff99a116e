// DaemonJobStore's compare-and-set on real Redis: two reconciles that loaded the same version (a
// stalled duplicate and its replacement) race to save; exactly one wins, and the loser's events,
// run index and progress never reach Redis, so a retried reconcile folds from the winner's state.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DaemonJobStore } from './daemon-job-store';
import { createRedis } from './redis';

describe('DaemonJobStore on real Redis', () => {
  const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, 'producer');
  afterAll(() => redis.disconnect());
  const snapshot = (state: string) => ({
    state,
    inboxCursor: '0-0',
    lastStatusWriteAt: 0,
    lastStatusHash: '',
    uid: 'uid-1',
  });

  it('of two saves from one loaded version exactly one lands, with only its own effects', {
    timeout: 10_000,
  }, async () => {
    const store = new DaemonJobStore(redis, `{rf-test-${randomUUID().slice(0, 8)}}`, 1000);
    expect(await store.save('ns', 'j', 0, snapshot('initial'), [{ type: 'Created' }])).toBe(true);
    const loaded = await store.load<string>('ns', 'j');
    expect(loaded?.version).toBe(1);

    const [a, b] = await Promise.all([
      store.save(
        'ns',
        'j',
        1,
        snapshot('from-a'),
        [{ type: 'A' }],
        { set: { n1: 'run-a' }, del: [] },
        {
          set: { n1: 'a' },
          del: [],
        },
      ),
      store.save(
        'ns',
        'j',
        1,
        snapshot('from-b'),
        [{ type: 'B' }],
        { set: { n1: 'run-b' }, del: [] },
        {
          set: { n1: 'b' },
          del: [],
        },
      ),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    const winner = a ? 'a' : 'b';
    const stored = await store.load<string>('ns', 'j');
    expect(stored).toMatchObject({ version: 2, state: `from-${winner}` });
    expect(await store.readLog('ns', 'j')).toEqual([{ type: 'Created' }, { type: winner.toUpperCase() }]);
    expect(await store.currentRun('ns', 'j', 'n1')).toBe(`run-${winner}`);
    expect((await store.progressOf('ns', 'j', 'n1', '#meta')).node).toBe(winner);

    // The loser retries from what it loads now: a save on the stale version keeps failing.
    expect(await store.save('ns', 'j', 1, snapshot('stale'), [{ type: 'Stale' }])).toBe(false);
    expect(await store.save('ns', 'j', 2, snapshot('retried'), [{ type: 'Retried' }])).toBe(true);
    expect((await store.readLog('ns', 'j')).at(-1)).toEqual({ type: 'Retried' });
  });

  it('a save trims the inbox entries it folded, and only those', { timeout: 10_000 }, async () => {
    const store = new DaemonJobStore(redis, `{rf-test-${randomUUID().slice(0, 8)}}`, 1000);
    const first = await store.appendInbox('ns', 'j', { type: 'StartNodeRun', node: 'n1' });
    await store.appendInbox('ns', 'j', { type: 'StartNodeRun', node: 'n2' });
    expect(await store.save('ns', 'j', 0, { ...snapshot('folded-one'), inboxCursor: first }, [])).toBe(true);
    const left = await store.readInbox('ns', 'j', '0-0');
    expect(left.map((e) => e.command)).toEqual([{ type: 'StartNodeRun', node: 'n2' }]);
  });
});
