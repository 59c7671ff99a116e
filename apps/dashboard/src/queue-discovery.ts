import { QueueNames, RECONCILE_KINDS, type RedisClient, RedisKeys, scanKeys } from '@reaper-flow/queue';

/** The queues that exist in every installation, whatever its nodes. */
export function fixedQueueNames(): string[] {
  return [...RECONCILE_KINDS.map((kind) => QueueNames.reconcile(kind)), QueueNames.runs, QueueNames.nodeRuns];
}

/**
 * Names of the nodes that have an overlay queue (`overlay-node-<node>`) under `prefix`, found by
 * SCANning for the queues' `meta` hashes (BullMQ writes one when a Queue is created, by the
 * scheduler's producer or the node's agent). SCAN, not KEYS: it never blocks Redis. On a Redis
 * Cluster the SCAN runs on every primary (scanKeys).
 */
export async function scanOverlayNodes(redis: RedisClient, prefix: string): Promise<string[]> {
  const metas = RedisKeys.overlayQueueMetas(prefix);
  const nodes = new Set<string>();
  for (const key of await scanKeys(redis, metas.pattern)) {
    const node = metas.nodeOf(key);
    if (node) nodes.add(node);
  }
  return [...nodes].sort();
}
