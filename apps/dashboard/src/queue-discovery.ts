import { QueueNames, RECONCILE_KINDS } from '@reaper-flow/queue';
import type { Redis } from 'ioredis';

/** The queues that exist in every installation, whatever its nodes. */
export function fixedQueueNames(): string[] {
  return [...RECONCILE_KINDS.map((kind) => QueueNames.reconcile(kind)), QueueNames.runs, QueueNames.nodeRuns];
}

const OVERLAY_QUEUE_PREFIX = QueueNames.overlayNode('');

/**
 * Names of the nodes that have an overlay queue (`overlay-node-<node>`) under `prefix`, found by
 * SCANning for the queues' `<prefix>:<queue>:meta` hashes (BullMQ writes one when a Queue is
 * created, by the scheduler's producer or the node's agent). SCAN, not KEYS: it never blocks Redis.
 * With the hash-tagged prefix every key lives in one slot, so one node of a cluster holds them all.
 */
export async function scanOverlayNodes(redis: Redis, prefix: string): Promise<string[]> {
  const head = `${prefix}:${OVERLAY_QUEUE_PREFIX}`;
  const tail = ':meta';
  const match = `${escapeGlob(head)}*${tail}`;
  const nodes = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const node = key.slice(head.length, -tail.length);
      // `*` also matches `:`: keep only `<prefix>:overlay-node-<node>:meta` itself.
      if (node && !node.includes(':')) nodes.add(node);
    }
  } while (cursor !== '0');
  return [...nodes].sort();
}

/** Escapes Redis glob metacharacters, so a prefix is matched literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
