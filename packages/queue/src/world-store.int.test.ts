import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from './redis';
import { type WatchRecord, WorldStore } from './world-store';

describe('WorldStore on real Redis', () => {
  const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, 'producer');
  const prefix = `{rf-test-${randomUUID().slice(0, 8)}}`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const record = (name: string, resourceVersion: string): WatchRecord => ({
    type: 'ADDED',
    kind: 'ConfigMap',
    namespace: 'ns',
    name,
    uid: `uid-${name}`,
    resourceVersion,
    seenAt: 1,
  });
  const object = (name: string) => ({ metadata: { name, namespace: 'ns', uid: `uid-${name}` } });

  it('a change of a first list stores the object but no resourceVersion a restart would resume from', {
    timeout: 10_000,
  }, async () => {
    const world = new WorldStore(redis, prefix, 100);
    // A first list's diff (nothing reached yet): a crash after this must list again, not watch from 7.
    await world.apply(record('a', '7'), object('a'), null);
    expect(await world.get('ConfigMap', 'ns', 'a')).toEqual(object('a'));
    expect(await world.loadResourceVersion('ConfigMap')).toBeUndefined();
    // A later list's diff keeps the version reached before; a watch event stores its own.
    await world.saveResourceVersion('ConfigMap', '5');
    await world.apply(record('b', '9'), object('b'), '5');
    expect(await world.loadResourceVersion('ConfigMap')).toBe('5');
    await world.apply(record('c', '11'), object('c'));
    expect(await world.loadResourceVersion('ConfigMap')).toBe('11');
  });

  it('has() says whether the world holds an object, before and after its deletion', {
    timeout: 10_000,
  }, async () => {
    const world = new WorldStore(redis, prefix, 100);
    await world.apply(record('held', '21'), object('held'));
    expect(await world.has('ConfigMap', 'ns', 'held')).toBe(true);
    expect(await world.has('ConfigMap', 'ns', 'never')).toBe(false);
    expect(await world.has('ConfigMap', 'other-ns', 'held')).toBe(false);
    await world.apply({ ...record('held', '22'), type: 'DELETED' }, undefined);
    expect(await world.has('ConfigMap', 'ns', 'held')).toBe(false);
  });
});
