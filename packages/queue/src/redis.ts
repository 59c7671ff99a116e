import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisHealth } from './redis-health';

/**
 * A connection as the stores and queues take it: one server (standalone, or the primary Sentinel
 * names) or a Redis Cluster. BullMQ takes either as `connection`.
 */
export type RedisClient = Redis | Cluster;

/** Where a Redis Cluster is found when `mode` is `cluster`. */
export interface ClusterConnectionOptions {
  /** `host:port` of the seed nodes; ioredis discovers the rest with CLUSTER SLOTS. */
  readonly nodes: readonly string[];
}

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
  /** `standalone` (default): `url`; `sentinel`: the primary the sentinels name; `cluster`: `cluster.nodes`. */
  readonly mode?: 'standalone' | 'sentinel' | 'cluster' | undefined;
  readonly url: string;
  /** Overrides the password in the URL; in sentinel and cluster mode, the data nodes' password. */
  readonly password?: string | undefined;
  readonly username?: string | undefined;
  /** Use TLS to the data nodes even for a redis:// URL (rediss:// always does). */
  readonly tls?: boolean | undefined;
  readonly sentinel?: SentinelConnectionOptions | undefined;
  readonly cluster?: ClusterConnectionOptions | undefined;
}

/**
 * Resolves once `redis` is connected (at once if it already is); rejects after `timeoutMs`. A
 * producer connection fails fast while disconnected, so an app waits for this before its first read.
 */
export async function redisReady(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`redis not ready after ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    redis.once('ready', onReady);
  });
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
  if (opts.mode === 'cluster') {
    if (opts.tls) options.tls = {};
    return options;
  }
  if (opts.tls && !opts.url.startsWith('rediss://')) options.tls = {};
  return options;
}

/**
 * The ioredis Cluster options around `redisOptions` (those of each node's connection). A primary
 * that dies makes its slots' commands fail with "Connection is closed" until the cluster promotes
 * its replica (cluster-node-timeout plus an election): ioredis retries such a command after
 * `retryDelayOnFailover`, refreshing the slot map each time, up to `maxRedirections` times. 200 ms x
 * 100 covers a failover of up to 20 s; a command still failing after that surfaces as an outage
 * error and the caller's own retry (BullMQ's, a reconcile's backoff) takes over. The slot map is
 * also refreshed every 5 s, so a promotion is seen even by a connection that sent nothing.
 */
function clusterOptions(redisOptions: RedisOptions): ClusterOptions {
  return {
    redisOptions,
    enableOfflineQueue: true,
    enableReadyCheck: true,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    maxRedirections: 100,
    slotsRefreshInterval: 5000,
    // Reached only when no node at all answers (the whole cluster away): keep trying, like a
    // standalone connection does.
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  };
}

/**
 * Opens a Redis connection with the options BullMQ needs for its role:
 * - workers and blocking readers retry forever (`maxRetriesPerRequest: null`), so a Redis restart
 *   or a Sentinel failover pauses work instead of crashing it;
 * - producers fail fast: a command waits through at most two reconnect attempts, then rejects, so a
 *   caller sees an outage quickly and its own at-least-once retry takes over. (The offline queue
 *   stays on so commands issued before the first connect completes are not rejected.)
 *
 * Every Redis connection of every app is made here, so standalone, Sentinel and Cluster
 * configurations reach every queue, store and worker alike. On a Cluster every key of an
 * installation carries the prefix's hash tag, so each script, MULTI and multi-key command stays in
 * one slot (one primary).
 *
 * With `health`, the connection reports to the process's RedisHealth (one log line per outage, not
 * one per connection and reconnect attempt); without, its errors are ignored (tests, tools).
 */
export function createRedis(
  opts: RedisConnectionOptions & { readonly mode?: 'standalone' | 'sentinel' | undefined },
  role: 'worker' | 'producer',
  health?: RedisHealth,
  name?: string,
): Redis;
export function createRedis(
  opts: RedisConnectionOptions,
  role: 'worker' | 'producer',
  health?: RedisHealth,
  name?: string,
): RedisClient;
export function createRedis(
  opts: RedisConnectionOptions,
  role: 'worker' | 'producer',
  health?: RedisHealth,
  name: string = role,
): RedisClient {
  const options: RedisOptions = {
    ...connectionOptions(opts),
    maxRetriesPerRequest: role === 'worker' ? null : 2,
    enableOfflineQueue: true,
    lazyConnect: false,
  };
  let redis: RedisClient;
  if (opts.mode === 'cluster') {
    const nodes = opts.cluster?.nodes ?? [];
    if (nodes.length === 0)
      throw new Error('redis.cluster.nodes: at least one seed node is required in cluster mode');
    const { lazyConnect: _, ...nodeOptions } = options;
    redis = new Cluster(nodes.map(parseAddress), clusterOptions(nodeOptions));
  } else redis = opts.mode === 'sentinel' ? new Redis(options) : new Redis(opts.url, options);
  // An 'error' event without a listener would crash the process.
  if (health) return health.track(redis, name);
  redis.on('error', () => undefined);
  return redis;
}

/**
 * Every key matching `pattern`, SCANned on one server or, on a Cluster, on every primary (SCAN on a
 * Cluster connection would reach one random node). SCAN, not KEYS: it never blocks Redis. With the
 * hash-tagged prefix all keys live on one primary, but which one is the cluster's business.
 */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  if (redis instanceof Cluster && redis.status !== 'ready')
    await new Promise((resolve) => redis.once('ready', resolve));
  const servers: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const found = new Set<string>();
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) found.add(key);
    } while (cursor !== '0');
  }
  return [...found];
}
