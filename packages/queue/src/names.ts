/**
 * Every Redis key and queue name reaper-flow uses is built here. The prefix carries a hash tag
 * (`{reaper}` by default) so that all keys of one installation hash to the same Redis Cluster
 * slot: BullMQ flows span queues, and multi-key scripts would otherwise fail with CROSSSLOT.
 */

/** The object kinds reconciled by the scheduler. */
export type ReconcileKind = 'ReaperPod' | 'ReaperOverlay' | 'ReaperDaemonJob';

export const RECONCILE_KINDS: readonly ReconcileKind[] = ['ReaperPod', 'ReaperOverlay', 'ReaperDaemonJob'];

/** Makes sure a prefix contains a hash tag; `reaper` becomes `{reaper}`. */
export function normalizePrefix(prefix: string): string {
  return /\{[^}]+\}/.test(prefix) ? prefix : `{${prefix}}`;
}

export const QueueNames = {
  reconcile: (kind: ReconcileKind) => `reconcile-${kind.toLowerCase()}`,
  /** Per-node overlay work consumed by that node's agent. */
  overlayNode: (node: string) => `overlay-node-${node}`,
  /** DaemonJob run parents (one per trigger of a job). */
  runs: 'djob-runs',
  /** DaemonJob per-node children. */
  nodeRuns: 'djob-node-runs',
} as const;

/** An object key as queued: `kind/namespace/name` (cluster-scoped objects use '' as namespace). */
export interface ObjectKey {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export function formatKey(key: ObjectKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

export function parseKey(text: string): ObjectKey {
  const parts = text.split('/');
  if (parts.length !== 3 || !parts[0] || !parts[2]) {
    throw new Error(`bad object key "${text}": expected kind/namespace/name`);
  }
  return { kind: parts[0], namespace: parts[1] ?? '', name: parts[2] };
}

/** Redis keys outside BullMQ, all under the same hash-tagged prefix. */
export const RedisKeys = {
  eventLog: (prefix: string, kind: string) => `${prefix}:events:${kind}`,
  world: (prefix: string, kind: string) => `${prefix}:world:${kind}`,
  watchState: (prefix: string, kind: string) => `${prefix}:watch:${kind}`,
  djobLog: (prefix: string, namespace: string, name: string) => `${prefix}:djob:${namespace}/${name}:log`,
  djobSnapshot: (prefix: string, namespace: string, name: string) =>
    `${prefix}:djob:${namespace}/${name}:snapshot`,
  /** A DaemonJob's inbox stream (node-run workers append, its reconcile folds), see DaemonJobStore. */
  djobInbox: (prefix: string, namespace: string, name: string) => `${prefix}:djob:${namespace}/${name}:inbox`,
  /** Base of a DaemonJob's in-flight semaphore keys (`:holders`, `:waiters`), see RunSlots. */
  djobSlots: (prefix: string, namespace: string, name: string) => `${prefix}:djob:${namespace}/${name}:slots`,
  counter: (prefix: string, name: string) => `${prefix}:count:${name}`,
  /** Per-node overlay resets requested by resetPolicy OnFailure/OnDelete, see OverlayResetRequests. */
  overlayResetRequests: (prefix: string, namespace: string, overlay: string) =>
    `${prefix}:overlay-reset-requests:${namespace}/${overlay}`,
} as const;

/**
 * Length of each BullMQ queue's own event stream. Those events only feed dashboards and
 * QueueEvents listeners (reaper-flow's durable log is its own stream), so a short one keeps Redis
 * memory flat; BullMQ's default is 10,000 entries per queue.
 */
export const QUEUE_EVENTS_MAX_LEN = 1000;
