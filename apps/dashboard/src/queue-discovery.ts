import { escapeGlob, QueueNames, RECONCILE_KINDS, type RedisClient, scanKeys } from '@reaper-flow/queue';

/** The queues that exist in every installation, whatever its nodes. */
export function fixedQueueNames(): string[] {
  return [...RECONCILE_KINDS.map((kind) => QueueNames.reconcile(kind)), QueueNames.runs, QueueNames.nodeRuns];
}

const OVERLAY_QUEUE_PREFIX = QueueNames.overlayNode('');

/**
 * Names of the nodes that have an overlay queue (`overlay-node-<node>`) under `prefix`, found by
 * SCANning for the queues' `<prefix>:<queue>:meta` hashes (BullMQ writes one when a Queue is
 * created, by the scheduler's producer or the node's agent). SCAN, not KEYS: it never blocks Redis.
 * On a Redis Cluster the SCAN runs on every primary (scanKeys).
 */
export async function scanOverlayNodes(redis: RedisClient, prefix: string): Promise<string[]> {
  const head = `${prefix}:${OVERLAY_QUEUE_PREFIX}`;
  const tail = ':meta';
  const match = `${escapeGlob(head)}*${tail}`;
  const nodes = new Set<string>();
  for (const key of await scanKeys(redis, match)) {
    const node = key.slice(head.length, -tail.length);
    // `*` also matches `:`: keep only `<prefix>:overlay-node-<node>:meta` itself.
    if (node && !node.includes(':')) nodes.add(node);
  }
  return [...nodes].sort();
}
