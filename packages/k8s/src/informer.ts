import { setTimeout as sleep } from 'node:timers/promises';
import { ReaperError } from '@reaper-flow/domain';
import type { KubeClient, WatchEvent } from './client';
import { ApiError, isApiError } from './errors';
import {
  type Change,
  type ChangeContext,
  type ChangeHandler,
  changesFor,
  diffSnapshot,
  type KubeObject,
  objectKey,
  rvOf,
  uidOf,
} from './informer-diff';
import { apiVersionOf, type ResourceRef } from './resources';

export {
  type Change,
  type ChangeContext,
  type ChangeHandler,
  type ChangeType,
  diffSnapshot,
  type KubeObject,
  objectKey,
} from './informer-diff';

export type InformerState = 'Listing' | 'Watching' | 'Backoff' | 'Stopped';

/** The part of KubeClient an informer uses (a fake in unit tests). */
export type InformerKube = Pick<KubeClient, 'listAll' | 'watch'>;

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** Random +/- fraction applied to each delay, so many informers do not retry in step. */
  readonly jitter: number;
}

export interface InformerOptions<T extends KubeObject> {
  readonly kube: InformerKube;
  readonly resource: ResourceRef;
  readonly handler: ChangeHandler<T>;
  /** Only this namespace (default: all namespaces). */
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /**
   * Objects the caller has already processed (e.g. persisted before a restart). The first list is
   * diffed against them, so a deletion that happened while nobody watched is still emitted.
   */
  readonly initialCache?: Iterable<T> | undefined;
  /** The resourceVersion `initialCache` is at. */
  readonly resourceVersion?: string | undefined;
  /**
   * true (default): start with a list diffed against the cache. false: watch from `resourceVersion`
   * (the cache is trusted as of that version) and re-list only when the API server answers 410 Gone.
   */
  readonly listFirst?: boolean | undefined;
  /** Applied to every object before it is cached and emitted (e.g. drop managedFields); keep metadata. */
  readonly transform?: ((object: T) => T) | undefined;
  /** Emit SYNC for every cached object this often (0 or unset: never). */
  readonly resyncIntervalMs?: number | undefined;
  readonly backoff?: Partial<BackoffOptions> | undefined;
  /** Server-side watch timeout; default a random 300..600 s so that many watches do not end together. */
  readonly watchTimeoutSeconds?: number | undefined;
  /** Called after a list diff completed and on bookmarks: the version every change before it was handled. */
  readonly onCheckpoint?: ((resourceVersion: string) => Promise<void> | void) | undefined;
  readonly onStateChange?: ((state: InformerState, err?: unknown) => void) | undefined;
  /** Errors the informer recovers from (it backs off and retries); for logging. */
  readonly onError?: ((err: unknown, state: InformerState) => void) | undefined;
  readonly clock?: (() => number) | undefined;
  readonly random?: (() => number) | undefined;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** The informer's own failures, with a stable code like ApiError. */
export class InformerError extends ReaperError {
  readonly code: `informer.${InformerFailure}`;
  /** Only a stopped informer is final; an idle watch or a failed handler is retried. */
  readonly terminal: boolean;
  constructor(failure: InformerFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = `informer.${failure}`;
    this.terminal = failure === 'Stopped';
  }
}

export type InformerFailure = 'WatchIdle' | 'HandlerFailed' | 'Stopped';

/**
 * A list -> watch state machine in the style of client-go's reflector and kube-rs's watcher, with
 * an in-memory cache and a handler that is awaited for every change.
 *
 * States: Listing (list every page, diff against the cache), Watching (from the last version,
 * with bookmarks), Backoff (exponential, capped, jittered, after an error), Stopped.
 *
 * Delivery guarantee: the cache, and the version the informer resumes from, only advance after the
 * handler returned for a change. A handler that throws (or a process that dies) never acknowledges
 * that change: the informer backs off and watches again from the last acknowledged version (or
 * re-lists and diffs), so the change is delivered again. Changes are delivered one at a time.
 *
 * 410 Gone (the version was compacted away) leads to a re-list whose diff against the cache emits
 * what the informer missed, deletions included.
 */
export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly backoff: BackoffOptions;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly abort = new AbortController();
  private rv: string | undefined;
  private current: InformerState = 'Stopped';
  private started = false;
  private isSynced = false;
  private lastEvent: number;
  private failures = 0;
  /** Events (bookmarks included) the current or last watch delivered. */
  private watchReceived = 0;
  private loop: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncRunning = false;
  /** Serialises handler calls (watch events and resyncs) so the handler sees one change at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private syncWaiters: { resolve: () => void; reject: (err: unknown) => void; failOnError: boolean }[] = [];

  constructor(private readonly opts: InformerOptions<T>) {
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.clock = opts.clock ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.rv = opts.resourceVersion || undefined;
    for (const object of opts.initialCache ?? []) this.cache.set(objectKey(object), object);
    this.lastEvent = this.clock();
  }

  get state(): InformerState {
    return this.current;
  }

  /** true once the cache reflects a complete list (or, with listFirst false, the given version). */
  get synced(): boolean {
    return this.isSynced;
  }

  /** Epoch ms of the last sign of life of the API server: event, bookmark, list, or clean stream end. */
  get lastEventAt(): number {
    return this.lastEvent;
  }

  /** The version the informer resumes from: the last one whose changes were all handled. */
  get resourceVersion(): string | undefined {
    return this.rv;
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  /** A snapshot of the cached objects. */
  list(): T[] {
    return [...this.cache.values()];
  }

  /** Starts the list/watch loop in the background. */
  start(): void {
    if (this.started)
      throw new InformerError('Stopped', `informer for ${this.opts.resource.plural} already started`);
    this.started = true;
    if (this.opts.listFirst === false && this.rv !== undefined) this.markSynced();
    this.loop = this.run();
    const every = this.opts.resyncIntervalMs ?? 0;
    if (every > 0) {
      this.resyncTimer = setInterval(() => {
        this.resync().catch((err: unknown) => this.opts.onError?.(err, this.current));
      }, every);
      this.resyncTimer.unref();
    }
  }

  /**
   * Resolves once synced; rejects if the informer stops first. With `failOnError`, also rejects with
   * the first error the informer meets before it has synced (it goes on retrying: stop it if the
   * caller gives up), for a tool that should fail at start rather than wait for the API server.
   */
  whenSynced(opts: { readonly failOnError?: boolean } = {}): Promise<void> {
    if (this.isSynced) return Promise.resolve();
    if (this.abort.signal.aborted) return Promise.reject(new InformerError('Stopped', 'informer stopped'));
    const failOnError = opts.failOnError === true;
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject, failOnError }));
  }

  /**
   * Emits SYNC for every cached object (the level-triggered safety net). Each object is its own turn
   * of the handler queue, so a long resync does not hold back watch events. Skipped before the first
   * sync and while another resync runs.
   */
  async resync(): Promise<void> {
    if (!this.isSynced || this.resyncRunning || this.abort.signal.aborted) return;
    this.resyncRunning = true;
    try {
      for (const key of [...this.cache.keys()]) {
        if (this.abort.signal.aborted) return;
        await this.exclusive(async () => {
          const object = this.cache.get(key);
          if (!object || this.abort.signal.aborted) return;
          await this.opts.handler({ type: 'SYNC', object }, { source: 'resync', resourceVersion: this.rv });
        });
      }
    } finally {
      this.resyncRunning = false;
    }
  }

  /** Stops watching (aborts the open request) and waits for the handler call in progress. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.loop;
    await this.tail.catch(() => undefined);
    this.setState('Stopped');
    for (const w of this.syncWaiters.splice(0)) w.reject(new InformerError('Stopped', 'informer stopped'));
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let needsList = this.opts.listFirst !== false || this.rv === undefined;
    let goneStreak = 0;
    while (!signal.aborted) {
      try {
        if (needsList) {
          this.setState('Listing');
          await this.listAndDiff();
          needsList = false;
          this.failures = 0;
        }
        this.setState('Watching');
        await this.watchOnce();
      } catch (err) {
        if (signal.aborted) break;
        this.opts.onError?.(err, this.current);
        if (!this.isSynced) this.failSyncWaiters(err);
        if (isApiError(err, 'Gone') || isTooLargeResourceVersion(err)) {
          // The version was compacted away (or is newer than this server has, e.g. a stored version
          // from a restored or replaced etcd): only a fresh list can tell what changed meanwhile.
          // Re-list at once, unless the watch right after a re-list fails so again (then back off).
          needsList = true;
          goneStreak = this.watchReceived > 0 ? 1 : goneStreak + 1;
          if (goneStreak === 1) continue;
        }
        this.failures += 1;
        this.setState('Backoff', err);
        await sleep(this.backoffDelay(), undefined, { signal }).catch(() => undefined);
      }
    }
  }

  private backoffDelay(): number {
    const { initialMs, maxMs, factor, jitter } = this.backoff;
    const base = Math.min(maxMs, initialMs * factor ** Math.max(0, this.failures - 1));
    return Math.max(0, Math.round(base * (1 + jitter * (2 * this.random() - 1))));
  }

  private transform(object: T): T {
    const { resource } = this.opts;
    // List items of built-in kinds come without apiVersion/kind; watch events carry them.
    const typed =
      object.apiVersion && object.kind
        ? object
        : { ...object, apiVersion: apiVersionOf(resource), kind: resource.kind };
    return this.opts.transform ? this.opts.transform(typed) : typed;
  }

  private async listAndDiff(): Promise<void> {
    const { kube, resource, namespace, labelSelector, fieldSelector } = this.opts;
    // No resourceVersion: a consistent (quorum) read, never older than what the cache has seen.
    const list = await kube.listAll<T>(resource, { namespace, labelSelector, fieldSelector });
    const listed = list.items.map((o) => this.transform(o));
    const changes = diffSnapshot(this.cache, listed);
    for (const change of changes) {
      if (this.abort.signal.aborted) throw new InformerError('Stopped', 'informer stopped during a list');
      await this.exclusive(() => this.deliver(change, 'list', this.rv));
    }
    const rv = list.metadata.resourceVersion;
    if (!rv) throw new ApiError('Invalid', 0, `list of ${resource.plural} returned no resourceVersion`);
    this.rv = rv;
    this.lastEvent = this.clock();
    this.markSynced();
    await this.opts.onCheckpoint?.(rv);
  }

  /** Hands one change to the handler, then (only then) updates the cache. */
  private async deliver(
    change: Change<T>,
    source: ChangeContext['source'],
    rv: string | undefined,
  ): Promise<void> {
    try {
      await this.opts.handler(change, { source, resourceVersion: rv });
    } catch (err) {
      throw new InformerError(
        'HandlerFailed',
        `handler failed for ${change.type} ${this.opts.resource.kind} ${objectKey(change.object)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const key = objectKey(change.object);
    if (change.type === 'DELETED') {
      // A recreated object's DELETED carries the old uid: only remove the entry if it is still that one.
      const cached = this.cache.get(key);
      if (!cached || uidOf(cached) === uidOf(change.object) || !uidOf(change.object)) this.cache.delete(key);
    } else {
      this.cache.set(key, change.object);
    }
  }

  private async watchOnce(): Promise<void> {
    const { kube, resource, namespace, labelSelector, fieldSelector } = this.opts;
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? Math.round(300 + 300 * this.random());
    // A half-open connection delivers nothing forever; the server must have ended the stream by then.
    const idleMs = timeoutSeconds * 1000 + 30_000;
    if (this.abort.signal.aborted) return;
    const local = new AbortController();
    const onStop = () => local.abort();
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    let idle = false;
    let timer = setTimeout(() => {
      idle = true;
      local.abort();
    }, idleMs);
    const touch = () => {
      this.lastEvent = this.clock();
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        local.abort();
      }, idleMs);
    };
    const openedAt = this.clock();
    this.watchReceived = 0;
    try {
      const events = kube.watch<T>(resource, {
        namespace,
        labelSelector,
        fieldSelector,
        resourceVersion: this.rv,
        allowWatchBookmarks: true,
        timeoutSeconds,
        signal: local.signal,
      });
      for await (const event of events) {
        this.watchReceived += 1;
        touch();
        await this.onWatchEvent(event);
        this.failures = 0;
      }
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onStop);
    }
    if (this.abort.signal.aborted) return;
    if (idle) throw new InformerError('WatchIdle', `watch of ${resource.plural} silent for ${idleMs} ms`);
    // A stream the server ends at once, again and again, must not become a busy loop.
    if (this.watchReceived === 0 && this.clock() - openedAt < 1000) {
      throw new InformerError('WatchIdle', `watch of ${resource.plural} ended at once without events`);
    }
    this.lastEvent = this.clock();
  }

  private async onWatchEvent(event: WatchEvent<T>): Promise<void> {
    if (event.type === 'BOOKMARK') {
      const rv = rvOf(event.object);
      if (!rv) return;
      this.rv = rv;
      try {
        await this.opts.onCheckpoint?.(rv);
      } catch (err) {
        // Persisting a bookmark only shortens a later resume; losing one is harmless.
        this.opts.onError?.(err, this.current);
      }
      return;
    }
    if (event.type === 'ERROR') return; // the client throws ERROR events as ApiError
    const object = this.transform(event.object);
    const rv = rvOf(object);
    await this.exclusive(async () => {
      const old = this.cache.get(objectKey(object));
      const changes: Change<T>[] =
        event.type === 'DELETED'
          ? [old ? { type: 'DELETED', object, oldObject: old } : { type: 'DELETED', object }]
          : changesFor(old, object);
      for (const change of changes) await this.deliver(change, 'watch', rv ?? this.rv);
    });
    if (rv) this.rv = rv;
  }

  private exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private failSyncWaiters(err: unknown): void {
    const failing = this.syncWaiters.filter((w) => w.failOnError);
    if (failing.length === 0) return;
    this.syncWaiters = this.syncWaiters.filter((w) => !w.failOnError);
    for (const w of failing) w.reject(err);
  }

  private markSynced(): void {
    if (this.isSynced) return;
    this.isSynced = true;
    for (const w of this.syncWaiters.splice(0)) w.resolve();
  }

  private setState(state: InformerState, err?: unknown): void {
    if (this.current === state) return;
    this.current = state;
    this.opts.onStateChange?.(state, err);
  }
}

/**
 * The API server's answer to a watch from a resourceVersion it has not reached ("Too large resource
 * version", a 504 with cause ResourceVersionTooLarge): client-go's reflector re-lists on it too.
 */
function isTooLargeResourceVersion(err: unknown): boolean {
  if (!isApiError(err)) return false;
  const causes = (err.details as { causes?: { reason?: unknown }[] } | undefined)?.causes ?? [];
  return (
    causes.some((c) => c.reason === 'ResourceVersionTooLarge') ||
    /too large resource version/i.test(err.message)
  );
}
