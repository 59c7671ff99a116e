import {
  busyNodes,
  type DecidedEvent,
  decideOverlay,
  formatTime,
  OverlayEventReason,
  type OverlayNodeEntry,
  parseReaperOverlay,
  REAPER_API_VERSION,
  type ReaperOverlayPhase,
  type StatusCondition,
  type StoredPodView,
  type StoredReaperPodView,
  setCondition,
} from '@reaper-flow/domain';
import {
  addFinalizer,
  hasFinalizer,
  type InvolvedObject,
  patchStatus,
  Resources,
  removeFinalizer,
} from '@reaper-flow/k8s';
import { TerminalReconcileError, type WorldNode } from '@reaper-flow/queue';
import {
  FIELD_MANAGER,
  type KindReconciler,
  type ReconcileOutcome,
  type ReconcileRequest,
  type ReconcilerModule,
  type SchedulerContext,
} from '../context';

/** Holds a ReaperOverlay until every node's agent has removed its on-disk data. */
export const OVERLAY_FINALIZER = 'reaper.io/overlay-cleanup';

/** A ReaperOverlay as stored in the world. */
interface StoredOverlay {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly deletionTimestamp?: string;
    readonly finalizers?: readonly string[];
  };
  readonly status?: {
    readonly phase?: string;
    readonly observedResetGeneration?: number;
    readonly conditions?: readonly StatusCondition[];
    readonly nodes?: readonly unknown[];
  };
}

/**
 * The agents' per-node entries, read leniently: `cleaned` is not part of the domain schema's node
 * entry, and one odd entry must not hide the others.
 */
function nodeEntries(nodes: readonly unknown[] | undefined): OverlayNodeEntry[] {
  const out: OverlayNodeEntry[] = [];
  for (const raw of nodes ?? []) {
    if (typeof raw !== 'object' || raw === null) continue;
    const e = raw as Record<string, unknown>;
    if (typeof e.nodeName !== 'string') continue;
    out.push({
      nodeName: e.nodeName,
      ready: typeof e.ready === 'boolean' ? e.ready : undefined,
      resetGeneration: typeof e.resetGeneration === 'number' ? e.resetGeneration : undefined,
      cleaned: typeof e.cleaned === 'boolean' ? e.cleaned : undefined,
      message: typeof e.message === 'string' ? e.message : undefined,
    });
  }
  return out;
}

const PHASES: readonly ReaperOverlayPhase[] = ['Pending', 'Ready', 'Resetting', 'Failed', 'Deleting'];

async function reconcileOverlay(ctx: SchedulerContext, req: ReconcileRequest): Promise<ReconcileOutcome> {
  const { namespace, name, log } = req;
  const stored = await ctx.world.get<StoredOverlay>('ReaperOverlay', namespace, name);
  if (!stored) {
    // Gone: pending per-node reset requests have nothing left to reset.
    await ctx.overlayResetRequests.clear(namespace, name);
    return undefined;
  }
  const involved: InvolvedObject = {
    apiVersion: REAPER_API_VERSION,
    kind: 'ReaperOverlay',
    name,
    namespace,
    uid: stored.metadata.uid,
  };
  const record = (e: DecidedEvent) => ctx.recorder.record(involved, e.type, e.reason, e.message);
  const writeStatus = async (status: Readonly<Record<string, unknown>>) => {
    const wrote = await patchStatus(ctx.kube, Resources.reaperOverlays, stored, status, {
      fieldManager: FIELD_MANAGER,
    });
    if (wrote) ctx.metrics.statusWrites.inc({ kind: 'ReaperOverlay' });
    return wrote;
  };

  // Only metadata and spec are validated; status.nodes belongs to the agents and is read leniently.
  const parsed = parseReaperOverlay({ ...(stored as object), status: undefined });
  if (!parsed.ok) {
    const message = `invalid spec: ${parsed.issues.join('; ')}`;
    const conditions = setCondition(
      stored.status?.conditions,
      { type: 'Ready', status: 'False', reason: OverlayEventReason.InvalidSpec, message },
      formatTime(ctx.now()),
    );
    if (await writeStatus({ message, conditions }))
      await record({ type: 'Warning', reason: OverlayEventReason.InvalidSpec, message });
    throw new TerminalReconcileError(message);
  }
  const uid = stored.metadata.uid;
  if (!uid) throw new Error(`stored ReaperOverlay ${namespace}/${name} has no uid`);

  const [nodes, reaperPods, pods, resetRequests] = await Promise.all([
    ctx.world.list<WorldNode>('Node', ''),
    ctx.world.list<StoredReaperPodView>('ReaperPod', namespace),
    ctx.world.list<StoredPodView>('Pod', namespace),
    ctx.overlayResetRequests.list(namespace, name),
  ]);
  const phase = PHASES.find((p) => p === stored.status?.phase);
  const decision = decideOverlay({
    overlay: {
      namespace,
      name,
      uid,
      resetPolicy: parsed.value.spec.resetPolicy,
      resetGeneration: parsed.value.spec.resetGeneration,
      deleting: stored.metadata.deletionTimestamp !== undefined,
      hasFinalizer: hasFinalizer(stored, OVERLAY_FINALIZER),
      phase,
      observedResetGeneration: stored.status?.observedResetGeneration,
      conditions: stored.status?.conditions,
    },
    nodes: nodes.map((n) => n.metadata.name).sort(),
    entries: nodeEntries(stored.status?.nodes),
    busy: busyNodes(name, reaperPods, pods),
    resetRequests,
    now: formatTime(ctx.now()),
  });

  if (decision.addFinalizer) {
    // Before any node work is enqueued: on-disk data must never exist without the finalizer
    // that guarantees its cleanup.
    const added = await addFinalizer(ctx.kube, Resources.reaperOverlays, stored, OVERLAY_FINALIZER, {
      fieldManager: FIELD_MANAGER,
    });
    // Deleted (or being deleted) before we could hold it: nothing was created on the nodes for it
    // and the deletion's own event brings us back.
    if (added === 'gone' || added === 'deleting') return undefined;
  }

  // Deterministic job ids make these adds no-ops when the same intent is already queued or done,
  // so at-least-once reconciles never duplicate node work.
  await Promise.all(decision.jobs.map(({ node, job }) => ctx.overlayQueues.enqueue(node, job)));
  // Removed only after the jobs exist: a crash in between re-enqueues the same job ids (no-ops).
  await ctx.overlayResetRequests.remove(namespace, name, decision.removeRequests);
  for (const e of decision.requestEvents) await record(e);

  if (decision.status && (await writeStatus(decision.status))) {
    log.debug({ phase: decision.status.phase, message: decision.status.message }, 'overlay status written');
    for (const e of decision.transitionEvents) await record(e);
  }

  if (decision.removeFinalizer) {
    // Last: once the finalizer is gone the object disappears, and with it our status.
    await removeFinalizer(ctx.kube, Resources.reaperOverlays, stored, OVERLAY_FINALIZER, {
      fieldManager: FIELD_MANAGER,
    });
    log.info('on-disk data cleaned on every node; finalizer removed');
  }
  return decision.requeueAfterMs === undefined ? undefined : { requeueAfterMs: decision.requeueAfterMs };
}

/**
 * Level-triggered ReaperOverlay reconciler: keeps the cleanup finalizer on, turns resetGeneration
 * increments and per-node reset requests into per-node agent jobs, aggregates the agents' reports
 * into phase/observedResetGeneration/message, and releases the finalizer once every node cleaned
 * up. The decisions are made by the pure `decideOverlay`; this module only reads and writes.
 */
export const overlayModule: ReconcilerModule = {
  kind: 'ReaperOverlay',
  create(ctx: SchedulerContext): KindReconciler {
    return { reconcile: (req) => reconcileOverlay(ctx, req) };
  },
};
