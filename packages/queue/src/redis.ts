import { Redis, type RedisOptions } from 'ioredis';
import type { RedisHealth } from './redis-health';

export interface RedisConnectionOptions {
  readonly url: string;
  /** Overrides the password in the URL. */
  readonly password?: string | undefined;
  /** Use TLS even for a redis:// URL (rediss:// always does). */
  readonly tls?: boolean | undefined;
}

/**
 * Opens a Redis connection with the options BullMQ needs for its role:
 * - workers and blocking readers retry forever (`maxRetriesPerRequest: null`), so a Redis restart
 *   pauses work instead of crashing it;
 * - producers fail fast: a command waits through at most two reconnect attempts, then rejects, so a
 *   caller sees an outage quickly and its own at-least-once retry takes over. (The offline queue
 *   stays on so commands issued before the first connect completes are not rejected.)
 *
 * With `health`, the connection reports to the process's RedisHealth (one log line per outage, not
 * one per connection and reconnect attempt); without, its errors are ignored (tests, tools).
 */
export function createRedis(
  opts: RedisConnectionOptions,
  role: 'worker' | 'producer',
  health?: RedisHealth,
  name: string = role,
): Redis {
  const extra: RedisOptions = {
    maxRetriesPerRequest: role === 'worker' ? null : 2,
    enableOfflineQueue: true,
    lazyConnect: false,
  };
  if (opts.password) extra.password = opts.password;
  if (opts.tls && !opts.url.startsWith('rediss://')) extra.tls = {};
  const redis = new Redis(opts.url, extra);
  // An 'error' event without a listener would crash the process.
  if (health) return health.track(redis, name);
  redis.on('error', () => undefined);
  return redis;
}
