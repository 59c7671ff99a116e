import { Redis, type RedisOptions } from 'ioredis';
import type { RedisHealth } from './redis-health';

/** Where the primary is found when `mode` is `sentinel`. */
export interface SentinelConnectionOptions {
  /** `host:port` of each sentinel. */
  readonly sentinels: readonly string[];
  /** The name the sentinels monitor the primary under. */
  readonly masterName: string;
  readonly password?: string | undefined;
  readonly tls?: boolean | undefined;
}

/** The `redis` section of the configuration, as far as a connection needs it. */
export interface RedisConnectionOptions {
  /** `standalone` (default): `url`; `sentinel`: the primary the sentinels name. */
  readonly mode?: 'standalone' | 'sentinel' | undefined;
  readonly url: string;
  /** Overrides the password in the URL; in sentinel mode, the data nodes' password. */
  readonly password?: string | undefined;
  readonly username?: string | undefined;
  /** Use TLS to the data nodes even for a redis:// URL (rediss:// always does). */
  readonly tls?: boolean | undefined;
  readonly sentinel?: SentinelConnectionOptions | undefined;
}

/** `host:port` -> `{host, port}` (the config schema has checked the form). */
export function parseAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/**
 * The ioredis options of a connection to `opts`' primary, without the role-specific ones. In
 * sentinel mode ioredis asks the sentinels for the primary on every (re)connect and checks with ROLE
 * that the node it reached is the primary. ioredis' `failoverDetector` stays off: it drops every
 * connection again on +switch-master, which Sentinel publishes about a second after the new primary
 * is already named and reached (a second outage per failover), and it holds three more sentinel
 * connections per connection. A primary that dies closes its sockets; one that Sentinel demotes
 * kills its clients' connections (CLIENT KILL) and answers READONLY, and both send a connection
 * back through the sentinels.
 */
export function connectionOptions(opts: RedisConnectionOptions): RedisOptions {
  const options: RedisOptions = {};
  if (opts.password) options.password = opts.password;
  if (opts.username) options.username = opts.username;
  if (opts.mode === 'sentinel') {
    const sentinel = opts.sentinel;
    if (!sentinel || sentinel.sentinels.length === 0)
      throw new Error('redis.sentinel.sentinels: at least one sentinel is required in sentinel mode');
    options.sentinels = sentinel.sentinels.map(parseAddress);
    options.name = sentinel.masterName;
    options.role = 'master';
    if (sentinel.password) options.sentinelPassword = sentinel.password;
    if (opts.tls) {
      options.tls = {};
      options.enableTLSForSentinelMode = true;
    }
    if (sentinel.tls) options.sentinelTLS = {};
    // A write that reaches a node demoted under our feet: reconnect (through the sentinels) and resend.
    options.reconnectOnError = (err) => (err.message.startsWith('READONLY') ? 2 : false);
    return options;
  }
  if (opts.tls && !opts.url.startsWith('rediss://')) options.tls = {};
  return options;
}

/**
 * Opens a Redis connection with the options BullMQ needs for its role:
 * - workers and blocking readers retry forever (`maxRetriesPerRequest: null`), so a Redis restart
 *   or a Sentinel failover pauses work instead of crashing it;
 * - producers fail fast: a command waits through at most two reconnect attempts, then rejects, so a
 *   caller sees an outage quickly and its own at-least-once retry takes over. (The offline queue
 *   stays on so commands issued before the first connect completes are not rejected.)
 *
 * Every Redis connection of every app is made here, so standalone and Sentinel configurations
 * reach every queue, store and worker alike.
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
  const options: RedisOptions = {
    ...connectionOptions(opts),
    maxRetriesPerRequest: role === 'worker' ? null : 2,
    enableOfflineQueue: true,
    lazyConnect: false,
  };
  const redis = opts.mode === 'sentinel' ? new Redis(options) : new Redis(opts.url, options);
  // An 'error' event without a listener would crash the process.
  if (health) return health.track(redis, name);
  redis.on('error', () => undefined);
  return redis;
}
