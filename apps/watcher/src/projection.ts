import type { KubeObject } from '@reaper-flow/k8s';
import type { WorldObject } from '@reaper-flow/queue';

/**
 * A watched object as the watcher's informers cache it and it writes it to the world (a JSON value
 * with metadata; Nodes projected, see projectNode).
 */
export type WatchedObject = KubeObject & WorldObject & Readonly<Record<string, unknown>>;

type Json = Readonly<Record<string, unknown>>;

const asRecord = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;

/** Copies the keys of `source` that are set, in a fixed order, so equal projections compare equal. */
function pick(source: Json | undefined, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (source?.[k] !== undefined) out[k] = source[k];
  return out;
}

/** The object without metadata.managedFields (large, and no reconciler reads it). A new object. */
export function withoutManagedFields<T extends Json>(object: T): T {
  const metadata = asRecord(object.metadata);
  if (!metadata || !('managedFields' in metadata)) return object;
  const { managedFields: _dropped, ...rest } = metadata;
  return { ...object, metadata: rest };
}

/**
 * What scheduling needs of a Node: identity, labels, taints, unschedulable, the Ready condition and
 * the boot id (a reboot re-triggers NodeReady DaemonJobs). Heartbeat timestamps are left out, so a
 * status heartbeat leaves the projection unchanged apart from resourceVersion.
 */
export function projectNode(node: Json): Json {
  const metadata = asRecord(node.metadata);
  const spec = asRecord(node.spec);
  const status = asRecord(node.status);
  const conditions = Array.isArray(status?.conditions) ? status.conditions : [];
  const ready = conditions
    .map(asRecord)
    .filter((c): c is Json => c?.type === 'Ready')
    .map((c) => pick(c, ['type', 'status', 'reason', 'lastTransitionTime']));
  const bootID = asRecord(status?.nodeInfo)?.bootID;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: pick(metadata, ['name', 'uid', 'labels', 'resourceVersion', 'creationTimestamp']),
    spec: pick(spec, ['taints', 'unschedulable']),
    status: {
      conditions: ready,
      ...(bootID === undefined ? {} : { nodeInfo: { bootID } }),
    },
  };
}

/** The form in which an object of `kind` is cached and written to the world store. */
export function toWorldObject(kind: string, object: WatchedObject): WatchedObject {
  return (kind === 'Node' ? projectNode(object) : withoutManagedFields(object)) as WatchedObject;
}
