import { RedisKeys } from './names';
import type { RedisClient } from './redis';
import { defineScript, type LuaScript, type ScriptCommand } from './scripts';

// KEYS: holders (zset), waiters (zset). ARGV: member, max, now.
// Holds a slot if one is free (or already held); otherwise joins the waiters, oldest first.
const ACQUIRE: LuaScript = {
  name: 'reaperSlotAcquire',
  numberOfKeys: 2,
  lua: `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
return 0
`,
};

// KEYS: holders, waiters. ARGV: member. Frees the slot and returns the oldest waiter to wake.
const RELEASE: LuaScript = {
  name: 'reaperSlotRelease',
  numberOfKeys: 2,
  lua: `
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if removed == 0 then return false end
local next = redis.call('ZRANGE', KEYS[2], 0, 0)
return next[1] or false
`,
};

/**
 * "Max nodes in flight per job" (rollout throttle): a counting semaphore per DaemonJob in Redis.
 * Members are `<runId>|<node>`. A node-run that finds no free slot parks; a node-run that finishes
 * frees its slot and names the oldest waiter, which the caller wakes: event-driven, no polling.
 * Acquire is idempotent (a redelivered step keeps its slot), release too.
 */
export class RunSlots {
  private readonly acquireScript: ScriptCommand;
  private readonly releaseScript: ScriptCommand;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.acquireScript = defineScript(redis, ACQUIRE);
    this.releaseScript = defineScript(redis, RELEASE);
  }

  private keys(namespace: string, job: string): [string, string] {
    const keys = RedisKeys.djob(this.prefix, namespace, job);
    return [keys.slotHolders, keys.slotWaiters];
  }

  /** True when `member` holds a slot (now or already); false: it was queued as a waiter. */
  async acquire(namespace: string, job: string, member: string, max: number): Promise<boolean> {
    const [holders, waiters] = this.keys(namespace, job);
    const got = await this.acquireScript(holders, waiters, member, String(max), String(Date.now()));
    return got === 1;
  }

  /** Frees `member`'s slot; returns the waiter to wake, if any. */
  async release(namespace: string, job: string, member: string): Promise<string | undefined> {
    const [holders, waiters] = this.keys(namespace, job);
    const next = await this.releaseScript(holders, waiters, member);
    return typeof next === 'string' ? next : undefined;
  }

  /** The members holding a slot now (at most the job's maxNodesInFlight). */
  async holders(namespace: string, job: string): Promise<string[]> {
    const [holders] = this.keys(namespace, job);
    return this.redis.zrange(holders, 0, -1);
  }

  /** The oldest waiters that would get a slot now if they asked (at most `max` minus the holders). */
  async wakeable(namespace: string, job: string, max: number): Promise<string[]> {
    const [holders, waiters] = this.keys(namespace, job);
    const free = max - (await this.redis.zcard(holders));
    return free > 0 ? this.redis.zrange(waiters, 0, free - 1) : [];
  }
}
