import { describe, expect, it } from 'vitest';
import type { ListOpts, ObjectList, WatchEvent, WatchOpts } from './client';
import { ApiError } from './errors';
import {
  type Change,
  type ChangeContext,
  diffSnapshot,
  Informer,
  type InformerKube,
  type InformerState,
  type KubeObject,
  objectKey,
} from './informer';
import { Resources } from './resources';

interface Obj extends KubeObject {
  readonly metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
  readonly data?: string;
}

const obj = (name: string, rv: number, uid = `uid-${name}`, data?: string): Obj => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', uid, resourceVersion: String(rv) },
  ...(data === undefined ? {} : { data }),
});

interface Subscriber {
  readonly events: WatchEvent<Obj>[];
  ended: boolean;
  error: Error | undefined;
  wake: () => void;
}

/**
 * A tiny in-memory API server: objects with resourceVersions, an event history that can be
 * compacted (watches from before it answer 410 Gone), and watches that can be ended or broken.
 */
class FakeApi implements InformerKube {
  rv = 1;
  private readonly objects = new Map<string, Obj>();
  private readonly history: { rv: number; event: WatchEvent<Obj> }[] = [];
  private compactedTo = 0;
  private readonly subs = new Set<Subscriber>();
  readonly watchedFrom: (string | undefined)[] = [];
  lists = 0;
  /** While true, every request fails as if the API server were unreachable. */
  down = false;

  put(name: string, data?: string): Obj {
    const existing = this.objects.get(name);
    this.rv += 1;
    const o = obj(name, this.rv, existing?.metadata.uid ?? `uid-${name}-${this.rv}`, data);
    this.objects.set(name, o);
    this.emit({ type: existing ? 'MODIFIED' : 'ADDED', object: o });
    return o;
  }

  remove(name: string): void {
    const existing = this.objects.get(name);
    if (!existing) throw new Error(`no ${name}`);
    this.objects.delete(name);
    this.rv += 1;
    this.emit({
      type: 'DELETED',
      object: { ...existing, metadata: { ...existing.metadata, resourceVersion: String(this.rv) } },
    });
  }

  /** Forgets history: a watch from an older version gets 410 Gone. */
  compact(): void {
    this.compactedTo = this.rv;
    this.history.length = 0;
  }

  bookmark(): void {
    this.rv += 1;
    const event: WatchEvent<Obj> = {
      type: 'BOOKMARK',
      object: { metadata: { resourceVersion: String(this.rv) } } as Obj,
    };
    for (const s of this.subs) {
      s.events.push(event);
      s.wake();
    }
  }

  endWatches(): void {
    for (const s of this.subs) {
      s.ended = true;
      s.wake();
    }
  }

  failWatches(err: Error): void {
    for (const s of this.subs) {
      s.error = err;
      s.wake();
    }
  }

  get watching(): number {
    return this.subs.size;
  }

  private emit(event: WatchEvent<Obj>): void {
    this.history.push({ rv: this.rv, event });
    for (const s of this.subs) {
      s.events.push(event);
      s.wake();
    }
  }

  listAll = async <T>(_ref: unknown, _opts?: ListOpts): Promise<ObjectList<T>> => {
    if (this.down) throw new ApiError('Network', 0, 'connection refused');
    this.lists += 1;
    return {
      items: [...this.objects.values()] as unknown as T[],
      metadata: { resourceVersion: String(this.rv) },
    };
  };

  watch = <T>(_ref: unknown, opts: WatchOpts = {}): AsyncGenerator<WatchEvent<T>> =>
    this.stream(opts) as unknown as AsyncGenerator<WatchEvent<T>>;

  private async *stream(opts: WatchOpts): AsyncGenerator<WatchEvent<Obj>> {
    if (this.down) throw new ApiError('Network', 0, 'connection refused');
    this.watchedFrom.push(opts.resourceVersion);
    const from = Number(opts.resourceVersion ?? this.rv);
    if (from < this.compactedTo) throw new ApiError('Gone', 410, `too old resource version: ${from}`);
    if (from > this.rv) {
      throw new ApiError(
        'Timeout',
        504,
        `Too large resource version: ${from}, current: ${this.rv}`,
        'Timeout',
        {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        },
      );
    }
    const sub: Subscriber = {
      events: this.history.filter((h) => h.rv > from).map((h) => h.event),
      ended: false,
      error: undefined,
      wake: () => undefined,
    };
    this.subs.add(sub);
    try {
      for (;;) {
        if (opts.signal?.aborted) return;
        const next = sub.events.shift();
        if (next) {
          yield next;
          continue;
        }
        if (sub.error) throw sub.error;
        if (sub.ended) return;
        await new Promise<void>((resolve) => {
          sub.wake = resolve;
          opts.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    } finally {
      this.subs.delete(sub);
    }
  }
}

async function waitFor<T>(fn: () => T, what: string, timeoutMs = 5_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type Seen = { type: Change<Obj>['type']; name: string; rv: string; source: ChangeContext['source'] };

function recorder() {
  const seen: Seen[] = [];
  const handler = async (change: Change<Obj>, ctx: ChangeContext) => {
    seen.push({
      type: change.type,
      name: change.object.metadata.name,
      rv: change.object.metadata.resourceVersion,
      source: ctx.source,
    });
  };
  return { seen, handler };
}

const fastBackoff = { initialMs: 5, maxMs: 20, factor: 2, jitter: 0 };

describe('diffSnapshot', () => {
  const cache = (...objects: Obj[]) => new Map(objects.map((o) => [objectKey(o), o]));

  it('emits ADDED, MODIFIED and DELETED, and nothing for unchanged objects', () => {
    const a = obj('a', 2);
    const b = obj('b', 3);
    const c = obj('c', 4);
    const changes = diffSnapshot(cache(a, b, c), [a, obj('b', 7), obj('d', 8)]);
    expect(
      changes.map((ch) => [ch.type, ch.object.metadata?.name, ch.oldObject?.metadata?.resourceVersion]),
    ).toEqual([
      ['MODIFIED', 'b', '3'],
      ['ADDED', 'd', undefined],
      ['DELETED', 'c', '4'],
    ]);
  });

  it('an object recreated under the same name is a DELETED of the old uid and an ADDED of the new', () => {
    const changes = diffSnapshot(cache(obj('a', 2, 'old')), [obj('a', 9, 'new')]);
    expect(changes.map((ch) => [ch.type, ch.object.metadata?.uid])).toEqual([
      ['DELETED', 'old'],
      ['ADDED', 'new'],
    ]);
  });
});

describe('Informer', () => {
  it('lists, then watches from the list version; bookmarks advance it', { timeout: 10_000 }, async () => {
    const api = new FakeApi();
    api.put('a');
    const { seen, handler } = recorder();
    const checkpoints: string[] = [];
    const informer = new Informer<Obj>({
      kube: api,
      resource: Resources.configMaps,
      handler,
      onCheckpoint: (rv) => {
        checkpoints.push(rv);
      },
    });
    informer.start();
    await informer.whenSynced();
    await waitFor(() => api.watching === 1, 'the watch');
    expect(api.watchedFrom).toEqual([String(api.rv)]);
    api.put('b');
    api.put('a', 'changed');
    api.remove('b');
    await waitFor(() => seen.length === 4, 'four changes');
    expect(seen.map((s) => [s.type, s.name, s.source])).toEqual([
      ['ADDED', 'a', 'list'],
      ['ADDED', 'b', 'watch'],
      ['MODIFIED', 'a', 'watch'],
      ['DELETED', 'b', 'watch'],
    ]);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a']);
    api.bookmark();
    await waitFor(() => informer.resourceVersion === String(api.rv), 'the bookmark version');
    expect(checkpoints.at(-1)).toBe(String(api.rv));
    await informer.stop();
    expect(informer.state).toBe('Stopped');
  });

  it('a watch that ends is resumed from the last version, without a re-list', {
    timeout: 10_000,
  }, async () => {
    const api = new FakeApi();
    const { seen, handler } = recorder();
    const informer = new Informer<Obj>({ kube: api, resource: Resources.configMaps, handler });
    informer.start();
    await waitFor(() => api.watching === 1, 'the watch');
    api.put('a');
    await waitFor(() => seen.length === 1, 'ADDED a');
    api.endWatches();
    await waitFor(() => api.watchedFrom.length === 2 && api.watching === 1, 'the second watch');
    expect(api.watchedFrom[1]).toBe(seen[0]?.rv);
    expect(api.lists).toBe(1);
    api.put('b');
    await waitFor(() => seen.length === 2, 'ADDED b');
    await informer.stop();
  });

  it('a 410 Gone re-lists and emits the deletion it missed', { timeout: 10_000 }, async () => {
    const api = new FakeApi();
    api.put('a');
    api.put('b');
    const { seen, handler } = recorder();
    const states: InformerState[] = [];
    const informer = new Informer<Obj>({
      kube: api,
      resource: Resources.configMaps,
      handler,
      backoff: fastBackoff,
      onStateChange: (s) => states.push(s),
    });
    informer.start();
    await waitFor(() => api.watching === 1, 'the watch');
    // The watch breaks; while nobody watches, b is deleted, c added, and history compacted away.
    api.down = true;
    api.failWatches(new ApiError('Network', 0, 'connection reset'));
    await waitFor(() => states.includes('Backoff'), 'backoff');
    api.remove('b');
    api.put('c');
    api.compact();
    api.down = false;
    await waitFor(() => seen.some((s) => s.name === 'c'), 'ADDED c');
    await waitFor(() => seen.some((s) => s.type === 'DELETED'), 'DELETED b');
    expect(seen.slice(2).map((s) => [s.type, s.name, s.source])).toEqual([
      ['ADDED', 'c', 'list'],
      ['DELETED', 'b', 'list'],
    ]);
    expect(api.lists).toBe(2);
    expect(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'c']);
    await informer.stop();
  });

  it('resumes from a given version and cache; a compacted version re-lists and diffs', {
    timeout: 10_000,
  }, async () => {
    const api = new FakeApi();
    const a = api.put('a');
    const b = api.put('b');
    const persistedRv = String(api.rv);
    api.remove('a');
    api.compact();
    const { seen, handler } = recorder();
    const informer = new Informer<Obj>({
      kube: api,
      resource: Resources.configMaps,
      handler,
      initialCache: [a, b],
      resourceVersion: persistedRv,
      listFirst: false,
      backoff: fastBackoff,
    });
    expect(informer.list()).toHaveLength(2);
    informer.start();
    await waitFor(() => seen.length === 1, 'DELETED a');
    expect(api.watchedFrom[0]).toBe(persistedRv);
    expect(seen).toEqual([{ type: 'DELETED', name: 'a', rv: a.metadata.resourceVersion, source: 'list' }]);
    await informer.stop();
  });

  it('a stored version newer than the server has (a replaced etcd) re-lists and diffs, not retries forever', {
    timeout: 10_000,
  }, async () => {
    const api = new FakeApi();
    const a = api.put('a');
    const gone = obj('gone', 90);
    const { seen, handler } = recorder();
    const informer = new Informer<Obj>({
      kube: api,
      resource: Resources.configMaps,
      handler,
      initialCache: [a, gone],
      resourceVersion: '99',
      listFirst: false,
      backoff: fastBackoff,
    });
    informer.start();
    await waitFor(() => seen.length === 1, 'DELETED gone');
    expect(seen).toEqual([{ type: 'DELETED', name: 'gone', rv: '90', source: 'list' }]);
    expect(api.lists).toBe(1);
    await waitFor(() => api.watching === 1, 'watching from the listed version');
    expect(api.watchedFrom.at(-1)).toBe(String(api.rv));
    await informer.stop();
  });

  it('a change the handler failed on is delivered again', { timeout: 10_000 }, async () => {
    const api = new FakeApi();
    const delivered: string[] = [];
    let failNext = true;
    const informer = new Informer<Obj>({
      kube: api,
      resource: Resources.configMaps,
      backoff: fastBackoff,
      handler: async (change) => {
        delivered.push(`${change.type} ${change.object.metadata.name}`);
        if (change.object.metadata.name === 'a' && failNext) {
          failNext = false;
          throw new Error('redis is down');
        }
      },
    });
    informer.start();
    await waitFor(() => api.watching === 1, 'the watch');
    api.put('a');
    api.put('b');
    await waitFor(() => delivered.includes('ADDED b'), 'ADDED b');
    expect(delivered).toEqual(['ADDED a', 'ADDED a', 'ADDED b']);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a', 'b']);
    await informer.stop();
  });

  it('resync emits SYNC for every cached object', { timeout: 10_000 }, async () => {
    const api = new FakeApi();
    api.put('a');
    api.put('b');
    const { seen, handler } = recorder();
    const informer = new Informer<Obj>({ kube: api, resource: Resources.configMaps, handler });
    informer.start();
    await informer.whenSynced();
    await informer.resync();
    expect(seen.filter((s) => s.type === 'SYNC').map((s) => [s.name, s.source])).toEqual([
      ['a', 'resync'],
      ['b', 'resync'],
    ]);
    await informer.stop();
  });

  it('transforms objects before caching and emitting them', { timeout: 10_000 }, async () => {
    const api = new FakeApi();
    api.put('a', 'payload');
    const emitted: Obj[] = [];
    const informer = new Informer<Obj>({
      kube: api,
      resource: Resources.configMaps,
      transform: ({ data: _data, ...rest }) => rest,
      handler: async (change) => {
        emitted.push(change.object);
      },
    });
    informer.start();
    await informer.whenSynced();
    expect(emitted[0]?.data).toBeUndefined();
    expect(informer.get('ns', 'a')?.data).toBeUndefined();
    await informer.stop();
  });

  it('stop() rejects whenSynced of an informer that never synced', { timeout: 10_000 }, async () => {
    const kube: InformerKube = {
      listAll: () => Promise.reject(new ApiError('Network', 0, 'down')),
      watch: () => {
        throw new Error('not reached');
      },
    };
    const informer = new Informer<Obj>({
      kube,
      resource: Resources.configMaps,
      handler: async () => undefined,
      backoff: fastBackoff,
    });
    informer.start();
    const synced = informer.whenSynced();
    await waitFor(() => informer.state === 'Backoff', 'backoff');
    await informer.stop();
    await expect(synced).rejects.toMatchObject({ code: 'informer.Stopped' });
    expect(informer.synced).toBe(false);
  });

  it('whenSynced with failOnError rejects with the first error before the first list', {
    timeout: 10_000,
  }, async () => {
    const api = new FakeApi();
    api.down = true;
    const informer = new Informer<Obj>({
      kube: api,
      resource: Resources.configMaps,
      handler: async () => undefined,
      backoff: fastBackoff,
    });
    informer.start();
    const patient = informer.whenSynced();
    await expect(informer.whenSynced({ failOnError: true })).rejects.toMatchObject({ code: 'Network' });
    // Without the option the wait goes on, and ends when the API server answers.
    api.down = false;
    await patient;
    expect(informer.synced).toBe(true);
    await informer.stop();
  });
});
