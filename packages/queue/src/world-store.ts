import type { TaintView } from '@reaper-flow/domain';
import { RedisKeys } from './names';
import type { RedisClient } from './redis';

/** One change the watcher saw, as kept in the durable event log (a Redis Stream per kind). */
export interface WatchRecord {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'SYNC';
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  /** Epoch ms when the watcher received the change. */
  readonly seenAt: number;
}

/** An object of the world: all a WorldStore needs of it is its metadata. */
export interface WorldObject {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly uid?: string };
}

/**
 * A Node as the world holds it: the watcher's projection (projectNode in apps/watcher), which keeps
 * only what scheduling reads (labels, taints, unschedulable, the Ready condition, the boot id).
 */
export interface WorldNode extends WorldObject {
  readonly metadata: WorldObject['metadata'] & { readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: { readonly taints?: readonly TaintView[]; readonly unschedulable?: boolean };
  readonly status?: {
    readonly conditions?: readonly { readonly type: string; readonly status: string }[];
    readonly nodeInfo?: { readonly bootID?: string };
  };
}

/**
 * The world as the watcher last saw it, kept in Redis: one hash per kind and namespace, field =
 * object name, value = the object's JSON (managedFields stripped; Nodes projected to what
 * scheduling needs). The scheduler reads objects here instead of asking the API server, so its
 * reads cost no API traffic; it may lag the API server by a moment, which level-triggered
 * reconcilers tolerate (writes are guarded by uid/resourceVersion or server-side apply).
 *
 * Every write to the world also appends the change to the kind's event stream and records the
 * watch's resourceVersion, in one MULTI: a crashed watcher resumes from a resourceVersion that
 * matches the stored world exactly.
 */
export class WorldStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly eventLogMaxLen: number,
  ) {}

  private hash(kind: string, namespace: string): string {
    return RedisKeys.world(this.prefix, kind).namespace(namespace);
  }

  private namespacesKey(kind: string): string {
    return RedisKeys.world(this.prefix, kind).namespaces;
  }

  private revisionKey(kind: string): string {
    return RedisKeys.world(this.prefix, kind).revision;
  }

  /**
   * Records a change: object upserted or deleted, event appended, watch resourceVersion saved
   * (`listResourceVersion`, else the object's own; `null`: leave the stored one as it is); with
   * `bumpRevision`, the kind's revision counter moves too (readers that derive something from all
   * objects of the kind, like a DaemonJob's target nodes, skip the work while it stands still).
   */
  async apply(
    record: WatchRecord,
    object: WorldObject | undefined,
    listResourceVersion?: string | null,
    opts: { bumpRevision?: boolean } = {},
  ): Promise<void> {
    const tx = this.redis.multi();
    if (opts.bumpRevision) tx.incr(this.revisionKey(record.kind));
    const hash = this.hash(record.kind, record.namespace);
    if (record.type === 'DELETED') tx.hdel(hash, record.name);
    else if (object) {
      tx.hset(hash, record.name, JSON.stringify(object));
      tx.sadd(this.namespacesKey(record.kind), record.namespace);
    }
    tx.xadd(
      RedisKeys.eventLog(this.prefix, record.kind),
      'MAXLEN',
      '~',
      String(this.eventLogMaxLen),
      '*',
      'type',
      record.type,
      'ns',
      record.namespace,
      'name',
      record.name,
      'uid',
      record.uid,
      'rv',
      record.resourceVersion,
      'at',
      String(record.seenAt),
    );
    const rv = listResourceVersion === null ? undefined : (listResourceVersion ?? record.resourceVersion);
    if (rv) tx.hset(RedisKeys.watchState(this.prefix, record.kind), 'resourceVersion', rv);
    await tx.exec();
  }

  /** The kind's revision counter (see `apply`); '0' before any bump. */
  async revision(kind: string): Promise<string> {
    return (await this.redis.get(this.revisionKey(kind))) ?? '0';
  }

  /** Saves the resourceVersion a watch has reached (bookmarks, end of a list). */
  async saveResourceVersion(kind: string, resourceVersion: string): Promise<void> {
    await this.redis.hset(RedisKeys.watchState(this.prefix, kind), 'resourceVersion', resourceVersion);
  }

  async loadResourceVersion(kind: string): Promise<string | undefined> {
    return (await this.redis.hget(RedisKeys.watchState(this.prefix, kind), 'resourceVersion')) ?? undefined;
  }

  async get<T>(kind: string, namespace: string, name: string): Promise<T | undefined> {
    const text = await this.redis.hget(this.hash(kind, namespace), name);
    return text ? (JSON.parse(text) as T) : undefined;
  }

  /** Whether the world holds the object (HEXISTS: nothing is read or parsed). */
  async has(kind: string, namespace: string, name: string): Promise<boolean> {
    return (await this.redis.hexists(this.hash(kind, namespace), name)) === 1;
  }

  /** Every stored object of a kind in one namespace ('' for cluster-scoped kinds). */
  async list<T>(kind: string, namespace: string): Promise<T[]> {
    const all = await this.redis.hgetall(this.hash(kind, namespace));
    return Object.values(all).map((text) => JSON.parse(text) as T);
  }

  /** Every stored object of a kind, across namespaces. */
  async listAll<T>(kind: string): Promise<T[]> {
    const namespaces = await this.redis.smembers(this.namespacesKey(kind));
    const lists = await Promise.all(namespaces.map((ns) => this.list<T>(kind, ns)));
    return lists.flat();
  }

  /** Names of stored objects per namespace (for diffing after a re-list). */
  async keys(kind: string): Promise<{ namespace: string; name: string }[]> {
    const namespaces = await this.redis.smembers(this.namespacesKey(kind));
    const out: { namespace: string; name: string }[] = [];
    for (const ns of namespaces) {
      for (const name of await this.redis.hkeys(this.hash(kind, ns))) out.push({ namespace: ns, name });
    }
    return out;
  }

  /** Reads the event log of a kind (oldest first), e.g. for tests, audits and the benchmark. */
  async readEvents(kind: string, count = 10_000): Promise<(WatchRecord & { id: string })[]> {
    const entries = await this.redis.xrange(RedisKeys.eventLog(this.prefix, kind), '-', '+', 'COUNT', count);
    return entries.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
      return {
        id,
        type: f.type as WatchRecord['type'],
        kind,
        namespace: f.ns ?? '',
        name: f.name ?? '',
        uid: f.uid ?? '',
        resourceVersion: f.rv ?? '',
        seenAt: Number(f.at ?? 0),
      };
    });
  }
}
