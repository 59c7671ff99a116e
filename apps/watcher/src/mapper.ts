import { isDeepStrictEqual } from 'node:util';
import {
  isAsCreated,
  type ObservedPod,
  podFacts,
  type ResetRequest,
  samePodFacts,
} from '@reaper-flow/domain';
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

/**
 * The informers' caches, as plain lists (read only when a change needs them). A cache is updated
 * after the change's handler has run, so it may lag the world by the change being handled.
 */
export interface MapperCaches {
  readonly reaperPods: readonly unknown[];
  readonly reaperOverlays: readonly unknown[];
  readonly reaperDaemonJobs: readonly unknown[];
  /** Whether the ReaperPod informer's cache holds a ReaperPod of that name (any uid). */
  hasReaperPod(namespace: string, name: string): boolean;
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

/**
 * Why a change asks for no reconcile of a key it concerns: the reconcile could not do anything
 * with it (each reason is argued where it is decided, in {@link mapChange}).
 */
export type SkipReason =
  /** A status-only change of a ReaperPod or ReaperDaemonJob: the scheduler's own write. */
  | 'own-status-write'
  /** The ReaperPod itself was deleted: the world no longer holds it. */
  | 'deleted'
  /** The ADDED of a backing Pod as its create left it: the echo of our create. */
  | 'pod-as-created'
  /** A backing Pod change to nothing the ReaperPod reconcile reads. */
  | 'pod-unchanged'
  /** A backing Pod change whose ReaperPod the world no longer holds (the pipeline decides). */
  | 'reaperpod-gone';

export interface SkippedKey {
  readonly key: ReconcileKey;
  readonly reason: SkipReason;
}

export interface Mapping {
  readonly keys: readonly ReconcileKey[];
  /**
   * ReaperPod keys of a backing Pod change whose ReaperPod the informer cache does not hold: to be
   * asked for only if the world still holds it, which the pipeline checks (`reaperpod-gone`).
   */
  readonly keysIfInWorld: readonly ReconcileKey[];
  /** Keys the change concerns but does not ask for, and why (for the metrics). */
  readonly skipped: readonly SkippedKey[];
  readonly overlayResets: readonly OverlayResetRequest[];
  readonly wakes: readonly NodeRunWake[];
}

/** Annotation the DaemonJob engine puts on each ReaperPod it creates (see the domain's translation). */
const RUN_ID_ANNOTATION = 'reaper.io/run-id';
/** Annotation naming the overlay on a ReaperPod's backing Pod (the domain's translation). */
const OVERLAY_NAME_ANNOTATION = 'reaper.runtime/overlay-name';

const NONE: Mapping = { keys: [], keysIfInWorld: [], skipped: [], overlayResets: [], wakes: [] };

const key = (kind: ReconcileKind, namespace: string, name: string): ReconcileKey => ({
  kind,
  namespace,
  name,
});
const nsOf = (f: WatchedFields) => f.metadata.namespace ?? '';

/**
 * Which reconcile keys a change concerns (queues carry keys, never the change itself):
 * - ReaperPod: itself (not when deleted) and its owning ReaperDaemonJob (neither for a status-only
 *   change: the scheduler wrote it); its overlay; the wake of its node-run; when deleted with an
 *   overlay on a node, also a reset request for that node (the overlay's resetPolicy decides);
 * - Pod: its owning ReaperPod, unless the change is no news to it (see {@link podOwnerKeys}); when
 *   a Pod using an overlay ends or is deleted, that overlay too (a reset or a deletion may wait for
 *   the workload to leave its node);
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
      const self = key('ReaperPod', ns, name);
      const keys: ReconcileKey[] = [];
      const skipped: SkippedKey[] = [];
      if (statusOnly) skipped.push({ key: self, reason: 'own-status-write' });
      // Deleted: the pipeline removed it from the world before this mapping, and a reconcile of a
      // ReaperPod the world does not hold reads nothing more and returns (the garbage collector
      // removes its Pod; resets are filed here). A ReaperPod created again under the name asks for
      // its own reconcile with its ADDED.
      else if (change.type === 'DELETED') skipped.push({ key: self, reason: 'deleted' });
      else keys.push(self);
      for (const f of [fields, old]) {
        const owner = f && ownerOfKind(f, 'ReaperDaemonJob');
        if (!owner) continue;
        const job = key('ReaperDaemonJob', ns, owner.name);
        if (statusOnly) skipped.push({ key: job, reason: 'own-status-write' });
        else keys.push(job);
      }
      const reset = change.type === 'DELETED' ? overlayReset(fields, old) : undefined;
      if (reset) keys.push(key('ReaperOverlay', reset.namespace, reset.overlay));
      // An overlay waiting to reset a node waits for the workloads using it there to end.
      const overlay = fields.spec?.overlayName;
      if (overlay) keys.push(key('ReaperOverlay', ns, overlay));
      return done(keys, { skipped, overlayResets: reset ? [reset] : [], wakes: nodeRunWake(fields) });
    }
    case 'Pod': {
      const owners = podOwnerKeys(change, ns, fields, old, caches);
      const keys = [...owners.keys];
      const overlay = fields.metadata.annotations?.[OVERLAY_NAME_ANNOTATION];
      if (overlay && podLeftNode(change.type, fields, old)) keys.push(key('ReaperOverlay', ns, overlay));
      return done(keys, { keysIfInWorld: owners.keysIfInWorld, skipped: owners.skipped });
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
      const self = key('ReaperDaemonJob', ns, name);
      const keys = statusOnly ? [] : [self];
      for (const job of caches.reaperDaemonJobs) {
        const f = watchedFields(job);
        if (f && nsOf(f) === ns && f.spec?.after?.includes(name)) {
          keys.push(key('ReaperDaemonJob', ns, f.metadata.name));
        }
      }
      return done(keys, { skipped: statusOnly ? [{ key: self, reason: 'own-status-write' }] : [] });
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

/**
 * The ReaperPod keys of a backing Pod change. A ReaperPod reconcile reads of its Pod only the
 * domain's `podFacts`, so the change is news to it only if those differ from what that reconcile
 * already acted on:
 * - MODIFIED with the same facts before and after (a kubelet's Ready condition, a Pod IP): every
 *   reconcile after it decides as every reconcile before it did (`pod-unchanged`);
 * - ADDED of a Pod as its create left it (`isAsCreated`): only the ReaperPod reconcile creates
 *   these Pods, and it mirrors the create's response before it ends (a crash or error before that
 *   retries the reconcile, which meets the Pod by AlreadyExists and mirrors it then), so the event
 *   is the echo of that create (`pod-as-created`). A Pod seen first in a later state (a re-list
 *   after the watcher was away) is news and asks;
 * - any other change asks, but when the ReaperPod informer's cache holds no ReaperPod of the name,
 *   only if the world still holds one (`keysIfInWorld`, checked by the pipeline): the world loses
 *   a ReaperPod only by a DELETED the pipeline applied, and gains one only by a change that asks
 *   for its reconcile itself, which then reads this Pod change from the world (applied before this
 *   mapping). The cache alone is not enough: it learns of a ReaperPod after the world does, so a
 *   Pod created by the reconcile of a ReaperPod whose ADDED is still being handled would be missed.
 * Either way the watcher's periodic resync enqueues every ReaperPod, the level-triggered net.
 */
function podOwnerKeys(
  change: WatchedChange,
  ns: string,
  fields: WatchedFields,
  old: WatchedFields | undefined,
  caches: MapperCaches,
): { keys: ReconcileKey[]; keysIfInWorld: ReconcileKey[]; skipped: SkippedKey[] } {
  const out = {
    keys: [] as ReconcileKey[],
    keysIfInWorld: [] as ReconcileKey[],
    skipped: [] as SkippedKey[],
  };
  const facts = podFacts(change.object as ObservedPod);
  const noNews: SkipReason | undefined =
    change.type === 'MODIFIED' &&
    change.oldObject !== undefined &&
    samePodFacts(facts, podFacts(change.oldObject as ObservedPod))
      ? 'pod-unchanged'
      : change.type === 'ADDED' && isAsCreated(facts)
        ? 'pod-as-created'
        : undefined;
  for (const f of [fields, old]) {
    const owner = f && ownerOfKind(f, 'ReaperPod');
    if (!owner) continue;
    const k = key('ReaperPod', ns, owner.name);
    if (noNews) out.skipped.push({ key: k, reason: noNews });
    else if (caches.hasReaperPod(ns, owner.name)) out.keys.push(k);
    else out.keysIfInWorld.push(k);
  }
  return out;
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

/** Keys in first-seen order, without repeats (a key asked for is not also skipped). */
function done(keys: readonly ReconcileKey[], rest: Partial<Omit<Mapping, 'keys'>> = {}): Mapping {
  const seen = new Set<string>();
  const first = <T>(list: readonly T[], keyOf: (t: T) => ReconcileKey) =>
    list.filter((item) => {
      const text = formatKey(keyOf(item));
      if (seen.has(text)) return false;
      seen.add(text);
      return true;
    });
  const unique = first(keys, (k) => k);
  const keysIfInWorld = first(rest.keysIfInWorld ?? [], (k) => k);
  const skipped = first(rest.skipped ?? [], (s) => s.key);
  return {
    keys: unique,
    keysIfInWorld,
    skipped,
    overlayResets: rest.overlayResets ?? [],
    wakes: rest.wakes ?? [],
  };
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
