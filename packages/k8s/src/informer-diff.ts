// The pure half of the informer: change types and the diff of a (re-)list against the cache.

/** The metadata an informer needs from every object it caches. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
  };
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'SYNC';

/** One change of the cached world, as the handler sees it. */
export interface Change<T> {
  readonly type: ChangeType;
  /** The new state; for DELETED the last state the API server (or, after a re-list, the cache) had. */
  readonly object: T;
  /** The cached state before this change, when there was one. */
  readonly oldObject?: T;
}

export interface ChangeContext {
  /** `list`: found by diffing a (re-)list against the cache; `watch`: a watch event; `resync`: a periodic SYNC. */
  readonly source: 'list' | 'watch' | 'resync';
  /**
   * The resourceVersion a consumer may persist together with this change: every change up to it has been
   * handed to the handler. For a watch event that is the object's own version; during a re-list diff and
   * a resync it stays at the version reached before, because the list is only complete at its end.
   */
  readonly resourceVersion: string | undefined;
}

export type ChangeHandler<T> = (change: Change<T>, ctx: ChangeContext) => Promise<void>;

/** Cache key of an object: `namespace/name` ('' namespace for cluster-scoped objects). */
export function objectKey(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

/** Internal helpers of the informer (not exported by the package). */
export const rvOf = (o: KubeObject | undefined) => o?.metadata?.resourceVersion;
export const uidOf = (o: KubeObject | undefined) => o?.metadata?.uid;

/**
 * The changes that turn `cached` into `listed`: ADDED for new objects, MODIFIED for objects whose
 * resourceVersion differs, DELETED (with the cached last state) for objects that are gone. An object
 * recreated under the same name (another uid) is a DELETED of the old one and an ADDED of the new one.
 */
export function diffSnapshot<T extends KubeObject>(
  cached: ReadonlyMap<string, T>,
  listed: readonly T[],
): Change<T>[] {
  const changes: Change<T>[] = [];
  const seen = new Set<string>();
  for (const object of listed) {
    const key = objectKey(object);
    seen.add(key);
    changes.push(...changesFor(cached.get(key), object));
  }
  for (const [key, old] of cached) {
    if (!seen.has(key)) changes.push({ type: 'DELETED', object: old, oldObject: old });
  }
  return changes;
}

/** The change(s) from `old` (cached, maybe absent) to `object` (present now). */
export function changesFor<T extends KubeObject>(old: T | undefined, object: T): Change<T>[] {
  if (!old) return [{ type: 'ADDED', object }];
  const oldUid = uidOf(old);
  const uid = uidOf(object);
  if (oldUid && uid && oldUid !== uid) {
    return [
      { type: 'DELETED', object: old, oldObject: old },
      { type: 'ADDED', object },
    ];
  }
  if (rvOf(old) === rvOf(object)) return [];
  return [{ type: 'MODIFIED', object, oldObject: old }];
}
