/** The parts of a ReaperPod (as the world stores it) that own-write bookkeeping reads. */
export interface VersionedObject {
  readonly metadata: { readonly uid?: string | undefined; readonly resourceVersion?: string | undefined };
  readonly status?: unknown;
}

interface Entry {
  /** Versions of the object older than our last write: a world showing one of them lags it. */
  readonly before: readonly string[];
  /** The version our last write produced. */
  readonly written: string;
  /** The status as the API server returned it after our last write. */
  readonly status: unknown;
}

/** How many versions of one object are kept as "older than our write" (a short chain of writes). */
const MAX_CHAIN = 8;

/**
 * The ReaperPod statuses this scheduler wrote that the watcher's world may not show yet.
 *
 * A ReaperPod reconcile reads the ReaperPod from the world, and the world learns of our own status
 * write only when the ReaperPod watch delivers it, while the next reconcile is usually triggered by
 * the Pod watch, a separate stream. A reconcile that runs in between diffed its desired status
 * against the status from before our write and wrote the same fields again (about a third of a
 * redundant write per node-run in a fan-out). Here the scheduler remembers what it wrote, keyed by
 * uid and by the resourceVersions that precede the write: only when the world still shows one of
 * those exact versions is the status replaced by the one we wrote, which is then the API server's
 * status unless someone else wrote since, and then the world moves to a version not listed here,
 * the entry is dropped and the world is used as before. Nothing is assumed about how
 * resourceVersions order. Lost entries (a restart, another scheduler replica, eviction) only bring
 * back the redundant write, never a wrong decision.
 */
export class OwnStatusWrites {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 10_000) {}

  /** `stored`, with the status of our last write when the world has not caught up with it. */
  freshest<T extends VersionedObject>(stored: T): T {
    const uid = stored.metadata.uid;
    const entry = uid === undefined ? undefined : this.entries.get(uid);
    if (!entry || uid === undefined) return stored;
    const rv = stored.metadata.resourceVersion;
    if (rv !== undefined && entry.before.includes(rv)) return { ...stored, status: entry.status };
    // The world shows our write or something newer: it is the better source again.
    this.entries.delete(uid);
    return stored;
  }

  /**
   * Records a status write: `based` is the object the patch was computed against (as returned by
   * {@link freshest}), `written` what the API server returned.
   */
  remember(based: VersionedObject, written: VersionedObject): void {
    const uid = based.metadata.uid;
    const basedOn = based.metadata.resourceVersion;
    const rv = written.metadata.resourceVersion;
    if (uid === undefined || basedOn === undefined || rv === undefined) return;
    const previous = this.entries.get(uid);
    // Written on top of our previous write while the world lagged: everything that preceded that
    // write, and that write itself, precede this one.
    const chained = previous?.before.includes(basedOn) ? [...previous.before, previous.written] : [basedOn];
    this.entries.delete(uid);
    this.entries.set(uid, { before: chained.slice(-MAX_CHAIN), written: rv, status: written.status });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
