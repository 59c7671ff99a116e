import { isDeepStrictEqual } from 'node:util';
import type { ResetRequest } from '@reaper-flow/domain';
import type { ChangeType } from '@reaper-flow/k8s';
import { formatKey, type ObjectKey, type ReconcileKind } from '@reaper-flow/queue';
import { ownerOfKind, type WatchedFields, watchedFields } from './fields';

/** The kinds the watcher watches. */
export type WatchedKind = 'ReaperPod' | 'ReaperOverlay' | 'ReaperDaemonJob' | 'Pod' | 'Node';

/** One change as the informer of `kind` emitted it (objects as cached: managedFields dropped, Nodes projected). */
export interface WatchedChange {
  readonly kind: WatchedKind;
  readonly type: ChangeType;
  readonly object: unknown;
  readonly oldObject?: unknown;
}

/** The informers' caches, as plain lists (read only when a change needs them). */
export interface MapperCaches {
  readonly reaperPods: readonly unknown[];
  readonly reaperOverlays: readonly unknown[];
  readonly reaperDaemonJobs: readonly unknown[];
}

export interface ReconcileKey extends ObjectKey {
  readonly kind: ReconcileKind;
}

/** A request to reset an overlay on one node (resetPolicy OnDelete), one per deleted ReaperPod uid. */
export interface OverlayResetRequest {
  readonly namespace: string;
  readonly overlay: string;
  readonly request: ResetRequest;
}

/** A DaemonJob node-run parked until its ReaperPod changes: the watcher wakes it. */
interface NodeRunWake {
  readonly namespace: string;
  readonly job: string;
  readonly runId: string;
  readonly node: string;
}

export interface Mapping {
  readonly keys: readonly ReconcileKey[];
  readonly overlayResets: readonly OverlayResetRequest[];
  readonly wakes: readonly NodeRunWake[];
}

/** Annotation the DaemonJob engine puts on each ReaperPod it creates (see the domain's translation). */
const RUN_ID_ANNOTATION = 'reaper.io/run-id';
/** Annotation naming the overlay on a ReaperPod's backing Pod (the domain's translation). */
const OVERLAY_NAME_ANNOTATION = 'reaper.runtime/overlay-name';

const NONE: Mapping = { keys: [], overlayResets: [], wakes: [] };

const key = (kind: ReconcileKind, namespace: string, name: string): ReconcileKey => ({
  kind,
  namespace,
  name,
});
const nsOf = (f: WatchedFields) => f.metadata.namespace ?? '';

/**
 * Which reconcile keys a change concerns (queues carry keys, never the change itself):
 * - ReaperPod: itself and its owning ReaperDaemonJob (not for a status-only change: the scheduler
 *   wrote it); its overlay; the wake of its node-run; when deleted with an overlay on a node, also
 *   a reset request for that node (the overlay's resetPolicy decides whether to reset);
 * - Pod: its owning ReaperPod; when a Pod using an overlay ends or is deleted, that overlay too
 *   (a reset or a deletion may wait for the workload to leave its node);
 * - ReaperOverlay: itself and every ReaperPod of its namespace that names it;
 * - ReaperDaemonJob: itself (not for a status-only change) and every job of its namespace that
 *   lists it in spec.after;
 * - Node: every ReaperDaemonJob and ReaperOverlay, unless nothing but resourceVersion changed
 *   (a status heartbeat);
 * - SYNC: the object's own key only (a Pod's or Node's SYNC: nothing, their dependants resync
 *   themselves).
 * Owners are taken from the old state too, so an owner that lost a child hears about it.
 */
export function mapChange(change: WatchedChange, caches: MapperCaches): Mapping {
  const fields = watchedFields(change.object);
  if (!fields) return NONE;
  const old = change.oldObject === undefined ? undefined : watchedFields(change.oldObject);
  const ns = nsOf(fields);
  const name = fields.metadata.name;
  if (change.type === 'SYNC') {
    return change.kind === 'Pod' || change.kind === 'Node' ? NONE : done([key(change.kind, ns, name)]);
  }
  switch (change.kind) {
    case 'ReaperPod': {
      // A status-only change was written by the scheduler itself: reconciling the ReaperPod (or its
      // DaemonJob, which hears of its node-runs through their own reports) again would change
      // nothing. The wake of its node-run and the overlay still need it.
      const statusOnly = change.type === 'MODIFIED' && onlyStatusChanged(change.object, change.oldObject);
      const keys = statusOnly ? [] : [key('ReaperPod', ns, name)];
      for (const f of statusOnly ? [] : [fields, old]) {
        const owner = f && ownerOfKind(f, 'ReaperDaemonJob');
        if (owner) keys.push(key('ReaperDaemonJob', ns, owner.name));
      }
      const reset = change.type === 'DELETED' ? overlayReset(fields, old) : undefined;
      if (reset) keys.push(key('ReaperOverlay', reset.namespace, reset.overlay));
      // An overlay waiting to reset a node waits for the workloads using it there to end.
      const overlay = fields.spec?.overlayName;
      if (overlay) keys.push(key('ReaperOverlay', ns, overlay));
      return done(keys, reset ? [reset] : [], nodeRunWake(fields));
    }
    case 'Pod': {
      const keys: ReconcileKey[] = [];
      for (const f of [fields, old]) {
        const owner = f && ownerOfKind(f, 'ReaperPod');
        if (owner) keys.push(key('ReaperPod', ns, owner.name));
      }
      const overlay = fields.metadata.annotations?.[OVERLAY_NAME_ANNOTATION];
      if (overlay && podLeftNode(change.type, fields, old)) keys.push(key('ReaperOverlay', ns, overlay));
      return done(keys);
    }
    case 'ReaperOverlay': {
      const keys = [key('ReaperOverlay', ns, name)];
      for (const pod of caches.reaperPods) {
        const f = watchedFields(pod);
        if (f && nsOf(f) === ns && f.spec?.overlayName === name)
          keys.push(key('ReaperPod', ns, f.metadata.name));
      }
      return done(keys);
    }
    case 'ReaperDaemonJob': {
      // Its status is written by its own reconcile: only the jobs waiting on it need to hear of it.
      const statusOnly = change.type === 'MODIFIED' && onlyStatusChanged(change.object, change.oldObject);
      const keys = statusOnly ? [] : [key('ReaperDaemonJob', ns, name)];
      for (const job of caches.reaperDaemonJobs) {
        const f = watchedFields(job);
        if (f && nsOf(f) === ns && f.spec?.after?.includes(name)) {
          keys.push(key('ReaperDaemonJob', ns, f.metadata.name));
        }
      }
      return done(keys);
    }
    case 'Node': {
      if (change.type === 'MODIFIED' && sameButVersion(change.object, change.oldObject)) return NONE;
      const keys: ReconcileKey[] = [];
      for (const job of caches.reaperDaemonJobs) {
        const f = watchedFields(job);
        if (f) keys.push(key('ReaperDaemonJob', nsOf(f), f.metadata.name));
      }
      for (const overlay of caches.reaperOverlays) {
        const f = watchedFields(overlay);
        if (f) keys.push(key('ReaperOverlay', nsOf(f), f.metadata.name));
      }
      return done(keys);
    }
    default: {
      const unknownKind: never = change.kind;
      throw new Error(`no mapping for kind ${String(unknownKind)}`);
    }
  }
}

const FINISHED = ['Succeeded', 'Failed'];

/**
 * Whether this change is the end of a Pod's use of its node: deleted, or newly finished. Only then
 * is its overlay told, so Pods starting and running do not reconcile the overlay on every change.
 */
function podLeftNode(type: ChangeType, fields: WatchedFields, old: WatchedFields | undefined): boolean {
  if (type === 'DELETED') return true;
  const phase = fields.status?.phase;
  return phase !== undefined && FINISHED.includes(phase) && !FINISHED.includes(old?.status?.phase ?? '');
}

/** The reset request of a deleted ReaperPod that ran with an overlay on a node, if any. */
function overlayReset(
  fields: WatchedFields,
  old: WatchedFields | undefined,
): OverlayResetRequest | undefined {
  const overlay = fields.spec?.overlayName ?? old?.spec?.overlayName;
  const node =
    fields.status?.nodeName ?? fields.spec?.nodeName ?? old?.status?.nodeName ?? old?.spec?.nodeName;
  const uid = fields.metadata.uid ?? old?.metadata.uid;
  if (!overlay || !node || !uid) return undefined;
  return { namespace: nsOf(fields), overlay, request: { node, requestId: uid, cause: 'deleted' } };
}

/** The parked node-run of a DaemonJob ReaperPod (owner job, run id annotation, node), if any. */
function nodeRunWake(fields: WatchedFields): NodeRunWake[] {
  const owner = ownerOfKind(fields, 'ReaperDaemonJob');
  const runId = fields.metadata.annotations?.[RUN_ID_ANNOTATION];
  const node = fields.spec?.nodeName;
  if (!owner || !runId || !node) return [];
  return [{ namespace: nsOf(fields), job: owner.name, runId, node }];
}

/** Keys in first-seen order, without repeats. */
function done(
  keys: readonly ReconcileKey[],
  overlayResets: readonly OverlayResetRequest[] = [],
  wakes: readonly NodeRunWake[] = [],
): Mapping {
  const seen = new Set<string>();
  const unique = keys.filter((k) => {
    const text = formatKey(k);
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
  return { keys: unique, overlayResets, wakes };
}

/**
 * Whether a Node change can change what is derived from the set of Nodes (targets): anything but a
 * SYNC or an update that changed nothing but resourceVersion (a status heartbeat).
 */
export function nodeChanged(change: WatchedChange): boolean {
  if (change.kind !== 'Node' || change.type === 'SYNC') return false;
  return !(change.type === 'MODIFIED' && sameButVersion(change.object, change.oldObject));
}

/**
 * true when two versions of an object differ in status (and resourceVersion) only: the change a
 * controller makes with its own status write (kube's GenerationChangedPredicate, plus metadata).
 */
function onlyStatusChanged(a: unknown, b: unknown): boolean {
  if (b === undefined) return false;
  const strip = (o: unknown) => {
    const { status: _status, ...obj } = o as { status?: unknown; metadata?: Record<string, unknown> };
    const { resourceVersion: _rv, managedFields: _mf, ...metadata } = obj.metadata ?? {};
    return { ...obj, metadata };
  };
  return isDeepStrictEqual(strip(a), strip(b));
}

/** true when two objects differ in metadata.resourceVersion at most. */
function sameButVersion(a: unknown, b: unknown): boolean {
  if (b === undefined) return false;
  const strip = (o: unknown) => {
    const obj = o as { metadata?: Record<string, unknown> };
    const { resourceVersion: _rv, ...metadata } = obj.metadata ?? {};
    return { ...obj, metadata };
  };
  return isDeepStrictEqual(strip(a), strip(b));
}
