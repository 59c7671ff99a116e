// DaemonJobStore's compare-and-set on real Redis: two reconciles that loaded the same version (a
// stalled duplicate and its replacement) race to save; exactly one wins, and the loser's events,
// run index and progress never reach Redis, so a retried reconcile folds from the winner's state.
import { randomUUID } from 'node:crypto';
import { initialEngineState } from '@reaper-flow/domain';
import { afterAll, describe, expect, it } from 'vitest';
import { DaemonJobStore } from './daemon-job-store';
import { RedisKeys } from './names';
import { createRedis } from './redis';
import { PREVIOUS_RELEASE_SNAPSHOT } from './stored-data.test-support';

const start = (node: string) => ({
  type: 'StartNodeRun' as const,
  runId: 'r1',
  node,
  attempt: 1,
  reaperPodName: `j-${node}`,
  at: '2026-01-01T00:00:00.000Z',
});

describe('DaemonJobStore on real Redis', () => {
  const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, 'producer');
  afterAll(() => redis.disconnect());
  // The saves are told apart by a field of the engine state.
  const snapshot = (tag: string) => ({
    state: { ...initialEngineState, lastWrittenPhase: tag },
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
    const loaded = await store.load('ns', 'j');
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
    const stored = await store.load('ns', 'j');
    expect(stored).toMatchObject({ version: 2, state: { lastWrittenPhase: `from-${winner}` } });
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
    const first = await store.appendInbox('ns', 'j', start('n1'));
    await store.appendInbox('ns', 'j', start('n2'));
    expect(await store.save('ns', 'j', 0, { ...snapshot('folded-one'), inboxCursor: first }, [])).toBe(true);
    const left = await store.readInbox('ns', 'j', '0-0');
    expect(left.map((e) => ('command' in e ? e.command : e.refused.message))).toEqual([start('n2')]);
  });

  it('a snapshot and an inbox entry the previous release wrote are read after an upgrade', {
    timeout: 10_000,
  }, async () => {
    const prefix = `{rf-test-${randomUUID().slice(0, 8)}}`;
    const store = new DaemonJobStore(redis, prefix, 1000);
    const keys = RedisKeys.djob(prefix, 'ns', 'j');
    // Written raw, as that release's store did: the snapshot and its version key, a command without `v`.
    await redis.set(keys.snapshot, PREVIOUS_RELEASE_SNAPSHOT);
    await redis.set(keys.version, '4');
    const entry = await redis.xadd(keys.inbox, '*', 'command', JSON.stringify(start('n1')));

    const loaded = await store.load('ns', 'j');
    expect(loaded).toEqual(JSON.parse(PREVIOUS_RELEASE_SNAPSHOT));
    expect(await store.readInbox('ns', 'j', '0-0')).toEqual([{ id: entry, command: start('n1') }]);
    // The next save continues from it and writes today's format.
    if (!loaded) throw new Error('no snapshot');
    const { version, ...rest } = loaded;
    expect(await store.save('ns', 'j', version, { ...rest, inboxCursor: entry ?? '0-0' }, [])).toBe(true);
    expect(JSON.parse((await redis.get(keys.snapshot)) ?? '{}')).toMatchObject({ v: 1, version: 5 });
    expect(await store.load('ns', 'j')).toMatchObject({ version: 5, state: loaded.state });
  });

  it('a snapshot in a newer format is refused, not misread', { timeout: 10_000 }, async () => {
    const prefix = `{rf-test-${randomUUID().slice(0, 8)}}`;
    const store = new DaemonJobStore(redis, prefix, 1000);
    const keys = RedisKeys.djob(prefix, 'ns', 'j');
    await redis.set(keys.snapshot, JSON.stringify({ ...JSON.parse(PREVIOUS_RELEASE_SNAPSHOT), v: 2 }));
    await expect(store.load('ns', 'j')).rejects.toMatchObject({
      code: 'queue.UnreadableStoredData',
      key: keys.snapshot,
      message: expect.stringContaining('format version 2, newer than this reaper-flow reads (1)'),
    });
  });

  it('a log entry that is not JSON, or has no event field, is returned as unreadable, not thrown', {
    timeout: 10_000,
  }, async () => {
    const prefix = `{rf-test-${randomUUID().slice(0, 8)}}`;
    const store = new DaemonJobStore(redis, prefix, 1000);
    const keys = RedisKeys.djob(prefix, 'ns', 'j');
    expect(await store.save('ns', 'j', 0, snapshot('one'), [{ type: 'Created' }])).toBe(true);
    // Written by hand, as anyone with Redis access could.
    const garbage = await redis.xadd(keys.log, '*', 'event', '{not json');
    const fieldless = await redis.xadd(keys.log, '*', 'other', '{}');
    expect(await store.save('ns', 'j', 1, snapshot('two'), [{ type: 'Retried' }])).toBe(true);
    expect(await store.readLog('ns', 'j')).toEqual([
      { type: 'Created' },
      { unreadable: garbage, reason: expect.stringContaining('JSON') },
      { unreadable: fieldless, reason: 'no event field' },
      { type: 'Retried' },
    ]);
  });
});
