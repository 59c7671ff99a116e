import { Cluster, type Redis } from 'ioredis';

/** What a process is told about Redis as a whole (one call per transition, never per connection). */
export interface RedisHealthListener {
  /** Redis became unavailable: the first tracked connection was lost (or never came up). */
  onDown?(info: { readonly reason: string; readonly at: number }): void;
  /** Every tracked connection is ready again after an outage of `downMs`. */
  onUp?(info: { readonly downMs: number; readonly at: number }): void;
  /**
   * An error from a tracked connection or an absorbed emitter that is not part of an outage (a
   * script error, a bad reply): the caller logs it. Outage noise never reaches this.
   */
  onError?(err: Error, source: string): void;
}

/** A BullMQ Queue, Worker or FlowProducer: anything that re-emits its connections' errors. */
export interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CLOSED',
]);

const CONNECTION_MESSAGES = [
  'Connection is closed',
  'Reached the max retries per request limit',
  "Stream isn't writeable",
  'Socket closed unexpectedly',
  'connect ETIMEDOUT',
  'LOADING',
  // Sentinel mode: no sentinel answered, or the primary's address is not reachable yet (failover).
  'All sentinels are unreachable',
  'READONLY',
];

/**
 * Whether `err` says that Redis cannot be reached (as opposed to a command that Redis refused).
 * ioredis and BullMQ surface an outage as socket errors, "Connection is closed" and, for commands
 * that gave up waiting, MaxRetriesPerRequestError; a restarting server answers LOADING.
 */
export function isRedisConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  if (CONNECTION_MESSAGES.some((m) => message.includes(m))) return true;
  return e.cause !== undefined && e.cause !== err && isRedisConnectionError(e.cause);
}

/**
 * The Redis health of one process: every connection it opens (and every BullMQ object that
 * re-emits their errors) reports here, and the process hears one "down" when Redis goes away and
 * one "up" when every connection is back, instead of one error line per connection, queue and
 * reconnect attempt.
 *
 * A connection counts as lost from ioredis' `reconnecting` (the socket closed without being asked
 * to) until its next `ready`; `end` (quit/disconnect, or retries given up) stops tracking it, so a
 * clean shutdown is not an outage. A connection that has not been ready yet counts as down once
 * it fails to connect.
 */
export class RedisHealth {
  private readonly lost = new Set<string>();
  private readonly tracked = new Set<string>();
  private downSince: number | undefined;
  private lastReason = '';
  private waiters: (() => void)[] = [];
  private seq = 0;
  /** Connection errors absorbed (seen during outages or from untracked connections). */
  absorbedErrors = 0;

  constructor(
    private readonly listener: RedisHealthListener = {},
    private readonly clock: () => number = Date.now,
  ) {}

  /** true unless a tracked connection is lost. */
  get up(): boolean {
    return this.downSince === undefined;
  }

  /** How long Redis has been unavailable (0 while up). */
  downForMs(): number {
    return this.downSince === undefined ? 0 : this.clock() - this.downSince;
  }

  /** For /readyz: true, or why not. */
  ready(): true | string {
    return this.up
      ? true
      : `redis unavailable for ${Math.round(this.downForMs() / 1000)} s (${this.lastReason})`;
  }

  /** Resolves once Redis is up (at once if it is), or when `signal` aborts. */
  whenUp(signal?: AbortSignal): Promise<void> {
    if (this.up || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Tracks one connection: its errors are absorbed here and its state counts toward up/down. */
  track<T extends Redis | Cluster>(redis: T, name = 'redis'): T {
    const id = `${name}#${++this.seq}`;
    this.tracked.add(id);
    if (redis instanceof Cluster) this.trackClusterPrimaries(redis, id);
    redis.on('error', (err: Error) => {
      if (isRedisConnectionError(err)) {
        this.absorbedErrors += 1;
        // Failing to connect before the first ready is an outage too (nothing else says so).
        if (redis.status !== 'ready') this.markLost(id, describe(err));
      } else this.listener.onError?.(err, name);
    });
    redis.on('reconnecting', () => this.markLost(id, this.lastReason || 'connection lost'));
    redis.on('ready', () => this.markReady(id));
    redis.on('end', () => {
      this.tracked.delete(id);
      this.markReady(id);
    });
    return redis;
  }

  /**
   * A Cluster connection stays `ready` while one primary is gone (the others answer), so its own
   * events do not show an outage of the slots that primary served, ours included. It counts as lost
   * once a primary named in its slot map drops its connection or fails to connect, and ready again
   * after a slot-map refresh that no longer names that node as a primary (its replica promoted).
   * Nodes that only serve other slots, or replicas, going away are no outage. While a primary is
   * lost the slot map is refreshed every 250 ms: a connection whose work waits for Redis to be back
   * (the watcher's pipeline) sends nothing that would refresh it, and ioredis' own timer runs only
   * every 5 s.
   */
  private trackClusterPrimaries(cluster: Cluster, id: string): void {
    const lostPrimaries = new Set<string>();
    let refresher: NodeJS.Timeout | undefined;
    const primaries = () => new Set(cluster.slots.map((owners) => owners?.[0]).filter(Boolean));
    const lose = (key: string, reason: string) => {
      if (cluster.status !== 'ready' || !primaries().has(key)) return;
      lostPrimaries.add(key);
      this.markLost(id, `${key}: ${reason}`);
      refresher ??= setInterval(() => cluster.refreshSlotsCache(), 250).unref();
    };
    const stopRefreshing = () => {
      clearInterval(refresher);
      refresher = undefined;
    };
    cluster.on('end', stopRefreshing);
    cluster.on('node error', (err: Error, key: string) => {
      if (!isRedisConnectionError(err)) return;
      this.absorbedErrors += 1;
      lose(key, describe(err));
    });
    cluster.on('-node', (node: Redis) =>
      lose(`${node.options.host}:${node.options.port}`, 'connection lost'),
    );
    cluster.on('refresh', () => {
      if (lostPrimaries.size === 0) return;
      const now = primaries();
      for (const key of lostPrimaries) if (!now.has(key)) lostPrimaries.delete(key);
      if (lostPrimaries.size > 0) return;
      stopRefreshing();
      this.markReady(id);
    });
  }

  /**
   * Takes over the `error` events of a BullMQ object (they repeat its connections' errors, once per
   * queue): outage errors are absorbed, anything else goes to `onError`. An object without an
   * `error` listener would crash the process on the first one, so this is also that listener.
   */
  absorb<T extends ErrorEmitter>(emitter: T, source: string): T {
    emitter.on('error', (err: Error) => this.report(err, source));
    return emitter;
  }

  /**
   * An error from Redis work (a queue's `error` event, a failed add in the background): absorbed
   * when it is the outage speaking, passed to `onError` otherwise.
   */
  report(err: Error, source: string): void {
    // While Redis is away every queue repeats the same outage in its own words: all absorbed.
    if (isRedisConnectionError(err) || !this.up) {
      this.absorbedErrors += 1;
      return;
    }
    this.listener.onError?.(err, source);
  }

  private markLost(id: string, reason: string): void {
    if (!this.tracked.has(id)) return;
    this.lost.add(id);
    if (reason) this.lastReason = reason;
    if (this.downSince !== undefined) return;
    this.downSince = this.clock();
    this.listener.onDown?.({ reason: this.lastReason, at: this.downSince });
  }

  private markReady(id: string): void {
    this.lost.delete(id);
    if (this.downSince === undefined || this.lost.size > 0) return;
    const at = this.clock();
    const downMs = at - this.downSince;
    this.downSince = undefined;
    this.lastReason = '';
    this.listener.onUp?.({ downMs, at });
    for (const w of [...this.waiters]) w();
  }
}

function describe(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
}
