import { setTimeout as sleep } from 'node:timers/promises';
import { ReaperError } from '@reaper-flow/domain';
import { Redis, type RedisOptions } from 'ioredis';
import { parseAddress, type RedisConnectionOptions } from './redis';
import { isRedisConnectionError } from './redis-health';

/**
 * A Redis setting that cannot work, found at start-up: `key` is the configuration key to fix
 * (`redis.sentinel.masterName`, `redis.password`, ...). The app stops instead of retrying forever
 * against a server that will never accept it.
 */
export class RedisStartupError extends ReaperError {
  readonly code = 'redis.Startup';
  readonly terminal = true;
  constructor(
    readonly key: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${key}: ${detail}`, options);
  }
}

export interface RedisCheckOptions extends RedisConnectionOptions {
  /** Sentinel and cluster mode: how long to wait for one sentinel / seed node to answer (default 30 s). */
  readonly startupTimeoutMs?: number | undefined;
}

const AUTH_ERROR = /^(WRONGPASS|NOAUTH|ERR AUTH|ERR invalid password|ERR Client sent AUTH)/;

/** Whether a reply says the credentials (or their absence) were refused. */
function isAuthError(err: unknown): boolean {
  return err instanceof Error && AUTH_ERROR.test(err.message);
}

/** One command exchange on a connection of its own that never retries. */
async function exchange(
  address: { host: string; port: number },
  tls: boolean,
  auth: { username?: string | undefined; password?: string | undefined },
  command: readonly string[],
): Promise<unknown> {
  const options: RedisOptions = {
    ...address,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
    commandTimeout: 2000,
  };
  if (tls) options.tls = {};
  const redis = new Redis(options);
  // connect() itself rejects with "Connection is closed."; the socket's own error says why.
  let socketError: Error | undefined;
  redis.on('error', (err: Error) => {
    socketError ??= err;
  });
  try {
    await redis.connect().catch((err: unknown) => {
      throw socketError ?? err;
    });
    // AUTH by hand (not ioredis' `password`), so a refusal is this call's reply, not an event.
    if (auth.password) {
      await (auth.username
        ? redis.call('AUTH', auth.username, auth.password)
        : redis.call('AUTH', auth.password));
    }
    const [name, ...args] = command as [string, ...string[]];
    return await redis.call(name, ...args);
  } finally {
    redis.disconnect();
  }
}

/** The data nodes' credentials: the explicit ones, else those of the URL. */
function dataAuth(opts: RedisConnectionOptions): { username?: string; password?: string } {
  let url: URL | undefined;
  try {
    url = opts.mode === 'sentinel' || opts.mode === 'cluster' ? undefined : new URL(opts.url);
  } catch {
    url = undefined;
  }
  const password = opts.password ?? (url?.password ? decodeURIComponent(url.password) : undefined);
  const username = opts.username ?? (url?.username ? decodeURIComponent(url.username) : undefined);
  return { ...(password ? { password } : {}), ...(username ? { username } : {}) };
}

/** PINGs a data node: a refused password is fatal, an unreachable node is an outage (not checked). */
async function checkDataNode(
  opts: RedisConnectionOptions,
  address: { host: string; port: number },
  tls: boolean,
): Promise<void> {
  try {
    await exchange(address, tls, dataAuth(opts), ['PING']);
  } catch (err) {
    if (isAuthError(err)) {
      const key = opts.password || opts.mode === 'sentinel' ? 'redis.password' : 'redis.url';
      throw new RedisStartupError(
        key,
        `Redis at ${address.host}:${address.port} refused the credentials (${(err as Error).message})`,
        { cause: err },
      );
    }
    if (!isRedisConnectionError(err)) throw err;
  }
}

/**
 * Checks at start-up that the Redis configuration can work at all, and says which key is wrong
 * when it cannot:
 * - standalone: a password the server refuses (`redis.password`, or `redis.url` for one in the URL).
 *   A server that does not answer is an outage, not a mistake: the app starts and waits for it.
 * - sentinel: no sentinel answering within `startupTimeoutMs` (`redis.sentinel.sentinels`),
 *   sentinels refusing their password (`redis.sentinel.password`), no sentinel knowing the master
 *   name (`redis.sentinel.masterName`), and the primary they name refusing the data password
 *   (`redis.password`). A primary that does not answer is an outage (a failover under way).
 * - cluster: see checkCluster.
 */
export async function checkRedis(opts: RedisCheckOptions): Promise<void> {
  if (opts.mode === 'cluster') return checkCluster(opts);
  if (opts.mode !== 'sentinel') {
    const url = new URL(opts.url);
    await checkDataNode(
      opts,
      { host: url.hostname, port: Number(url.port || 6379) },
      url.protocol === 'rediss:' || !!opts.tls,
    );
    return;
  }
  const sentinel = opts.sentinel;
  if (!sentinel || sentinel.sentinels.length === 0)
    throw new RedisStartupError(
      'redis.sentinel.sentinels',
      'at least one sentinel is required in sentinel mode',
    );
  const deadline = Date.now() + (opts.startupTimeoutMs ?? 30_000);
  const auth = { password: sentinel.password };
  for (;;) {
    const unreachable: string[] = [];
    const refused: string[] = [];
    let unknownMaster = 0;
    for (const address of sentinel.sentinels) {
      let reply: unknown;
      try {
        reply = await exchange(parseAddress(address), !!sentinel.tls, auth, [
          'SENTINEL',
          'get-master-addr-by-name',
          sentinel.masterName,
        ]);
      } catch (err) {
        if (isAuthError(err)) refused.push(`${address} (${(err as Error).message})`);
        else if (isRedisConnectionError(err)) unreachable.push(`${address} (${describe(err)})`);
        else throw err;
        continue;
      }
      if (Array.isArray(reply) && reply.length === 2) {
        const [host, port] = reply as [string, string];
        await checkDataNode(opts, { host, port: Number(port) }, !!opts.tls);
        return;
      }
      unknownMaster += 1;
    }
    if (refused.length > 0)
      throw new RedisStartupError(
        'redis.sentinel.password',
        `sentinels refused the credentials: ${refused.join(', ')}`,
      );
    if (unknownMaster > 0)
      throw new RedisStartupError(
        'redis.sentinel.masterName',
        `${unknownMaster} sentinel(s) answered but monitor no master named "${sentinel.masterName}"`,
      );
    if (Date.now() >= deadline)
      throw new RedisStartupError(
        'redis.sentinel.sentinels',
        `no sentinel answered within ${opts.startupTimeoutMs ?? 30_000} ms: ${unreachable.join(', ')}`,
      );
    await sleep(500);
  }
}

/**
 * Cluster mode: asks the seed nodes, one after another, for CLUSTER SLOTS until one answers. No seed
 * node answering within `startupTimeoutMs` is `redis.cluster.nodes`; a refused password is
 * `redis.password` (every node of a cluster has the same); a seed that is a server without cluster
 * support is `redis.mode`. Which primary serves the prefix's slot, and whether it answers, is left
 * to the connection (a failover may be under way).
 */
async function checkCluster(opts: RedisCheckOptions): Promise<void> {
  const seeds = opts.cluster?.nodes ?? [];
  if (seeds.length === 0)
    throw new RedisStartupError('redis.cluster.nodes', 'at least one seed node is required in cluster mode');
  const timeoutMs = opts.startupTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const unreachable: string[] = [];
    for (const address of seeds) {
      try {
        await exchange(parseAddress(address), !!opts.tls, dataAuth(opts), ['CLUSTER', 'SLOTS']);
        return;
      } catch (err) {
        const message = (err as Error).message;
        if (isAuthError(err))
          throw new RedisStartupError(
            'redis.password',
            `cluster node ${address} refused the credentials (${message})`,
            { cause: err },
          );
        if (/cluster support disabled/i.test(message))
          throw new RedisStartupError(
            'redis.mode',
            `${address} is not a Redis Cluster node (${message}): use mode standalone or sentinel for it`,
            { cause: err },
          );
        if (!isRedisConnectionError(err)) throw err;
        unreachable.push(`${address} (${describe(err)})`);
      }
    }
    if (Date.now() >= deadline)
      throw new RedisStartupError(
        'redis.cluster.nodes',
        `no seed node answered within ${timeoutMs} ms: ${unreachable.join(', ')}`,
      );
    await sleep(500);
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : (err as Error).message;
}

/**
 * For an app's entry file: runs checkRedis and, when the configuration cannot work, logs one fatal
 * line naming the key and exits 1 (a Deployment shows it in CrashLoopBackOff, not as a silent hang).
 */
export async function checkRedisOrExit(
  opts: RedisCheckOptions,
  logger: { fatal(obj: object, msg: string): void },
): Promise<void> {
  try {
    await checkRedis(opts);
  } catch (err) {
    const key = err instanceof RedisStartupError ? err.key : undefined;
    logger.fatal({ err, key }, `cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
}
