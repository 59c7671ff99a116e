/**
 * Every Redis key and queue name reaper-flow uses is built here (BullMQ builds the keys inside each
 * queue from the queue name). The prefix carries a hash tag (`{reaper}` by default; the config
 * schema refuses a prefix without one) so that all keys of one installation hash to the same Redis
 * Cluster slot: BullMQ flows span queues, and multi-key scripts would otherwise fail with CROSSSLOT.
 */

/** The object kinds reconciled by the scheduler. */
export type ReconcileKind = 'ReaperPod' | 'ReaperOverlay' | 'ReaperDaemonJob';

export const RECONCILE_KINDS: readonly ReconcileKind[] = ['ReaperPod', 'ReaperOverlay', 'ReaperDaemonJob'];

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

/** Escapes Redis glob metacharacters, so a prefix is matched literally by SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Redis keys under the hash-tagged prefix, all built here: ours, and the few BullMQ keys we look
 * for (an overlay-node queue's `meta` hash).
 */
export const RedisKeys = {
  eventLog: (prefix: string, kind: string) => `${prefix}:events:${kind}`,
  /** The watcher's world of one kind: a hash per namespace, plus the namespace set and revision. */
  world: (prefix: string, kind: string) => {
    const base = `${prefix}:world:${kind}`;
    // '#' cannot appear in a namespace name, so these never collide with a namespace's hash.
    return {
      namespace: (namespace: string) => `${base}:${namespace}`,
      namespaces: `${base}:#namespaces`,
      revision: `${base}:#rev`,
    };
  },
  watchState: (prefix: string, kind: string) => `${prefix}:watch:${kind}`,
  /** Every key of one DaemonJob (see DaemonJobStore and RunSlots). */
  djob: (prefix: string, namespace: string, name: string) => {
    const base = `${prefix}:djob:${namespace}/${name}`;
    return {
      snapshot: `${base}:snapshot`,
      /** The durable log of domain events (DaemonJobStore.readLog, the dashboard's history route). */
      log: `${base}:log`,
      /** Node-run workers append, the job's reconcile folds. */
      inbox: `${base}:inbox`,
      version: `${base}:version`,
      runs: `${base}:runs`,
      /** What dependents' node gates read (see node-gate.ts in the domain). */
      progress: `${base}:progress`,
      held: `${base}:held`,
      /** Node-runs parked on the job's suspension: node -> run id (DaemonJobStore.markSuspendedWait). */
      suspended: `${base}:suspended`,
      /** The in-flight semaphore (RunSlots). */
      slotHolders: `${base}:slots:holders`,
      slotWaiters: `${base}:slots:waiters`,
    };
  },
  /** The jobs (`<ns>/<name>`) with node-runs parked on their suspension, for the start-up sweep. */
  djobsWithSuspendedWaits: (prefix: string) => `${prefix}:djob-suspended-waits`,
  /** A wake left for a node-run that was not parked yet (see RunFlows.wake). */
  nodeRunWake: (prefix: string, nodeRunJobId: string) => `${prefix}:wake:${nodeRunJobId}`,
  /** The SCAN pattern of every nodeRunWake key, and how to get the job id back from one. */
  nodeRunWakes: (prefix: string) => ({
    pattern: `${escapeGlob(prefix)}:wake:*`,
    jobIdOf: (key: string) => key.slice(`${prefix}:wake:`.length),
  }),
  /**
   * The SCAN pattern of the `meta` hash BullMQ writes for each overlay-node queue, and the node a
   * matching key names (undefined for a longer key the `*` also matched).
   */
  overlayQueueMetas: (prefix: string) => {
    const head = `${prefix}:${QueueNames.overlayNode('')}`;
    return {
      pattern: `${escapeGlob(head)}*:meta`,
      nodeOf: (key: string): string | undefined => {
        const node = key.slice(head.length, -':meta'.length);
        return node && !node.includes(':') ? node : undefined;
      },
    };
  },
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
