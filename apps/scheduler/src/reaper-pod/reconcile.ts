import {
  blockedStatus,
  type DesiredReaperPodStatus,
  type DesiredStatus,
  formatTime,
  lostPodStatus,
  mirroredStatus,
  type ObservedPod,
  type OverlayGate,
  overlayGate,
  type Persisted,
  type PodBlocker,
  parseReaperPod,
  parseReaperPodStatus,
  REAPER_API_VERSION,
  type ReaperPod,
  ReaperPodEventReason,
  type ReaperPodPhase,
  type ReaperPodStatus,
  type StatusCondition,
  setCondition,
  waitingForScheduler,
} from '@reaper-flow/domain';
import {
  type EventType,
  type InvolvedObject,
  isApiError,
  patchStatusReturning,
  Resources,
} from '@reaper-flow/k8s';
import { TerminalReconcileError } from '@reaper-flow/queue';
import {
  FIELD_MANAGER,
  type KindReconciler,
  type ReconcileOutcome,
  type ReconcileRequest,
  type ReconcilerModule,
  type SchedulerContext,
} from '../context';
import { ensureBackingPod, ownedBy } from './backing-pod';
import { OwnStatusWrites } from './own-status-writes';

/** How soon to look again while an older same-name Pod terminates (its deletion also wakes us). */
const OLD_POD_REQUEUE_MS = 1000;

/** A ReaperPod as stored in the world: whatever the API server returned (minus managedFields). */
interface StoredReaperPod {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly deletionTimestamp?: string;
    readonly ownerReferences?: readonly { readonly kind: string }[];
  };
  readonly status?: unknown;
}

/** One reconcile of one ReaperPod; see {@link reaperPodModule}. */
class ReaperPodReconcile {
  private readonly now: string;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly req: ReconcileRequest,
    private readonly stored: StoredReaperPod,
    private readonly ownWrites: OwnStatusWrites,
  ) {
    this.now = formatTime(ctx.now());
  }

  private involved(): InvolvedObject {
    const m = this.stored.metadata;
    return {
      apiVersion: REAPER_API_VERSION,
      kind: 'ReaperPod',
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
    };
  }

  /**
   * Records an Event on the ReaperPod. Routine Normal Events are skipped for the ReaperPods of a
   * ReaperDaemonJob: the job records one Event per run (started, completed, node failed...), and two
   * per node would double the API writes of a thousand-node run for nothing a user reads.
   * Warnings are always recorded.
   */
  private event(type: EventType, reason: ReaperPodEventReason, message: string): Promise<void> {
    const ownedByJob = this.stored.metadata.ownerReferences?.some((o) => o.kind === 'ReaperDaemonJob');
    if (type === 'Normal' && ownedByJob) return Promise.resolve();
    return this.ctx.recorder.record(this.involved(), type, reason, message);
  }

  /** Writes the status fields when they differ from the stored status; returns whether it wrote. */
  private async write(status: DesiredStatus): Promise<boolean> {
    const written = await patchStatusReturning(this.ctx.kube, Resources.reaperPods, this.stored, status, {
      fieldManager: FIELD_MANAGER,
    });
    if (!written) return false;
    this.ownWrites.remember(this.stored, written);
    this.ctx.metrics.statusWrites.inc({ kind: 'ReaperPod' });
    return true;
  }

  /**
   * The status as stored. If it does not validate (edited by hand, say), phase and podName are
   * still read: they decide whether a Pod was ever created, and forgetting that would run a
   * finished command a second time.
   */
  private previousStatus(): ReaperPodStatus | undefined {
    if (this.stored.status === undefined) return undefined;
    const parsed = parseReaperPodStatus(this.stored.status);
    if (parsed.ok) return parsed.value;
    this.req.log.warn({ issues: parsed.issues }, 'stored status does not validate; it will be rewritten');
    const raw = this.stored.status as { phase?: unknown; podName?: unknown };
    const phases: readonly string[] = ['Pending', 'Running', 'Succeeded', 'Failed'];
    return {
      ...(typeof raw.phase === 'string' && phases.includes(raw.phase)
        ? { phase: raw.phase as ReaperPodPhase }
        : {}),
      ...(typeof raw.podName === 'string' ? { podName: raw.podName } : {}),
    };
  }

  async run(): Promise<ReconcileOutcome> {
    // Being deleted: the garbage collector removes the Pod; the watcher files OnDelete resets.
    if (this.stored.metadata.deletionTimestamp) return undefined;
    // Only metadata and spec are validated: the status is ours and is rewritten below.
    const parsed = parseReaperPod({ ...(this.stored as object), status: undefined });
    if (!parsed.ok) return this.invalid(parsed.issues);
    const rpod = { ...parsed.value, status: this.previousStatus() } as Persisted<ReaperPod>;
    if (!rpod.metadata.uid || !rpod.metadata.namespace) {
      throw new Error(`stored ReaperPod ${this.req.name} has no uid or namespace`);
    }

    const overlayName = rpod.spec.overlayName;
    const gate = overlayName
      ? overlayGate(
          overlayName,
          await this.ctx.world.get('ReaperOverlay', rpod.metadata.namespace, overlayName),
        )
      : undefined;

    const inWorld = await this.ctx.world.get<ObservedPod>('Pod', rpod.metadata.namespace, rpod.metadata.name);
    if (inWorld) {
      if (!ownedBy(inWorld, rpod.metadata.uid)) return this.foreign(rpod, inWorld, gate);
      return this.observe(rpod, inWorld, gate);
    }

    const previous = rpod.status;
    // Finished and its Pod removed since (by a user or a TTL): the record stays as it was. A
    // ReaperPod runs once; a new Pod would run the command a second time.
    if (previous?.phase === 'Succeeded' || previous?.phase === 'Failed') return undefined;

    if (previous?.podName) {
      // The status says a Pod was created, the world has none: the world may just lag (the Pod
      // watch and the ReaperPod watch are separate streams), so ask the API before concluding.
      const live = await this.ctx.kube.get<ObservedPod>(Resources.pods, rpod.metadata.name, {
        namespace: rpod.metadata.namespace,
      });
      if (live && !ownedBy(live, rpod.metadata.uid)) return this.foreign(rpod, live, gate);
      if (live) return this.observe(rpod, live, gate);
      return this.mirror(rpod, lostPodStatus(rpod, previous.podName, gate, this.now), gate);
    }

    if (gate && !gate.open) {
      // No requeue: a change of the overlay re-enqueues the ReaperPods that use it.
      const changed = await this.write(
        blockedStatus(rpod, { reason: 'WaitingForOverlay', message: gate.message }, gate, this.now),
      );
      // A missing overlay is likely a typo in spec.overlayName: say so once, as a PVC-less Pod does.
      if (changed && gate.reason === 'OverlayNotFound')
        await this.event('Warning', gate.reason, gate.message);
      return undefined;
    }

    const result = await ensureBackingPod(this.ctx.kube, rpod);
    switch (result.kind) {
      case 'owned':
        if (result.created) {
          this.req.log.info({ pod: rpod.metadata.name }, 'created backing Pod');
          await this.event('Normal', ReaperPodEventReason.PodCreated, `created Pod ${rpod.metadata.name}`);
        }
        return this.observe(rpod, result.pod, gate);
      case 'foreign':
        return this.foreign(rpod, result.pod, gate);
      case 'rejected':
        return this.blockTerminally(
          rpod,
          { reason: ReaperPodEventReason.PodRejected, message: result.message },
          gate,
        );
      default: {
        const never: never = result;
        throw new Error(`unexpected ensure result ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Our Pod exists: mirror its status. Binding it to a node is the kube-scheduler's job, never ours
   * (a second binder would race it and skip what it checks); while the Pod waits for it, the
   * message is the kube-scheduler's own reason from the Pod's PodScheduled condition. That
   * condition's change is a change of the Pod, which brings this reconcile back: no requeue.
   */
  private async observe(
    rpod: Persisted<ReaperPod>,
    pod: ObservedPod,
    gate: OverlayGate | undefined,
  ): Promise<ReconcileOutcome> {
    const phase = pod.status?.phase;
    if (
      pod.spec?.nodeName ||
      pod.metadata?.deletionTimestamp ||
      phase === 'Succeeded' ||
      phase === 'Failed'
    ) {
      return this.mirror(rpod, mirroredStatus(rpod, pod, gate, this.now), gate);
    }
    const unscheduled =
      gate && !gate.open
        ? ({ reason: 'WaitingForOverlay', message: gate.message } as const)
        : waitingForScheduler(pod);
    return this.mirror(rpod, mirroredStatus(rpod, pod, gate, this.now, unscheduled), gate);
  }

  /** A Pod of our name that is not ours: wait while it terminates, otherwise stop and say so. */
  private async foreign(
    rpod: Persisted<ReaperPod>,
    pod: ObservedPod,
    gate: OverlayGate | undefined,
  ): Promise<ReconcileOutcome> {
    const name = rpod.metadata.name;
    // The Pod of an earlier ReaperPod of this name (a DaemonJob retry or re-run re-creates the same
    // name). Names are unique, so that owner is gone and the Pod is garbage: delete it now (uid
    // precondition) instead of waiting for garbage collection, then wait for it to go. Never adopt.
    const ownedByEarlierReaperPod = pod.metadata?.ownerReferences?.some(
      (o) => o.kind === 'ReaperPod' && o.uid !== rpod.metadata.uid,
    );
    if (ownedByEarlierReaperPod && !pod.metadata?.deletionTimestamp && pod.metadata?.uid) {
      await this.ctx.kube
        .delete(Resources.pods, name, {
          namespace: rpod.metadata.namespace,
          preconditions: { uid: pod.metadata.uid },
        })
        .catch((err: unknown) => {
          if (!isApiError(err, 'Conflict')) throw err;
        });
    }
    if (pod.metadata?.deletionTimestamp || ownedByEarlierReaperPod) {
      const message = `waiting for the previous Pod ${name} (not owned by this ReaperPod) to terminate`;
      await this.write(blockedStatus(rpod, { reason: 'WaitingForOldPod', message }, gate, this.now));
      return { requeueAfterMs: OLD_POD_REQUEUE_MS };
    }
    // Never adopted or mirrored: it would report another workload's result as ours. If an older
    // ReaperPod of this name made it, its deletion re-enqueues this key (the watcher maps a Pod to
    // the ReaperPod named in its ownerReference); otherwise the watcher's resync looks again.
    const message = `a Pod named ${name} exists and is not owned by this ReaperPod`;
    return this.blockTerminally(rpod, { reason: ReaperPodEventReason.PodNameTaken, message }, gate);
  }

  private async blockTerminally(
    rpod: Persisted<ReaperPod>,
    blocker: PodBlocker & { readonly reason: ReaperPodEventReason },
    gate: OverlayGate | undefined,
  ): Promise<never> {
    if (await this.write(blockedStatus(rpod, blocker, gate, this.now))) {
      await this.event('Warning', blocker.reason, blocker.message);
    }
    throw new TerminalReconcileError(blocker.message);
  }

  /** A ReaperPod whose spec does not validate: Pending with the bad fields named, no retry. */
  private async invalid(issues: readonly string[]): Promise<never> {
    const message = `invalid spec: ${issues.join('; ')}`;
    const conditions = setCondition(
      (this.stored.status as { conditions?: StatusCondition[] } | undefined)?.conditions,
      { type: 'PodCreated', status: 'False', reason: ReaperPodEventReason.InvalidSpec, message },
      this.now,
    );
    if (await this.write({ phase: 'Pending', message, conditions })) {
      await this.event('Warning', ReaperPodEventReason.InvalidSpec, message);
    }
    throw new TerminalReconcileError(message);
  }

  /**
   * Writes the mirrored status. On the transition to Failed under resetPolicy OnFailure, the
   * node's overlay reset is requested first: SADD of `<node>|<uid>` is idempotent and the
   * overlay's job id is derived from the uid, so a crash between the request and the status
   * write repeats the request harmlessly instead of losing it.
   */
  private async mirror(
    rpod: Persisted<ReaperPod>,
    desired: DesiredReaperPodStatus,
    gate: OverlayGate | undefined,
  ): Promise<ReconcileOutcome> {
    const before = rpod.status?.phase;
    const failedNow = desired.phase === 'Failed' && before !== 'Failed';
    if (failedNow) await this.requestOverlayReset(rpod, desired, gate);
    const wrote = await this.write(desired);
    if (wrote && desired.phase !== before) {
      const exit = desired.exitCode === undefined ? '' : ` with exit code ${String(desired.exitCode)}`;
      const detail = desired.message ? `: ${String(desired.message)}` : '';
      if (desired.phase === 'Failed')
        await this.event('Warning', ReaperPodEventReason.Failed, `workload failed${exit}${detail}`);
      if (desired.phase === 'Succeeded')
        await this.event('Normal', ReaperPodEventReason.Succeeded, `workload succeeded${exit}`);
    }
    return undefined;
  }

  private async requestOverlayReset(
    rpod: Persisted<ReaperPod>,
    desired: DesiredReaperPodStatus,
    gate: OverlayGate | undefined,
  ): Promise<void> {
    const overlay = gate?.overlay;
    const node = desired.nodeName;
    if (overlay?.spec.resetPolicy !== 'OnFailure' || typeof node !== 'string' || !node) return;
    const { namespace, uid } = rpod.metadata;
    await this.ctx.overlayResetRequests.add(namespace, overlay.metadata.name, {
      node,
      requestId: uid,
      cause: 'failed',
    });
    await this.ctx.queues.ReaperOverlay.enqueue(
      { kind: 'ReaperOverlay', namespace, name: overlay.metadata.name },
      Date.now(),
      'overlay reset request',
    );
    this.req.log.info({ node, overlay: overlay.metadata.name }, 'requested an overlay reset (OnFailure)');
  }
}

/**
 * Level-triggered ReaperPod reconciler. Reads the ReaperPod, its overlay and its Pod from the
 * world; creates the Pod from `desiredPod` once the overlay gate is open; mirrors the Pod's
 * status. Every write is guarded: a create that meets AlreadyExists checks the owner uid, status
 * is written only when it differs from the newest status known (the world's, or this scheduler's
 * own last write while the world lags it: {@link OwnStatusWrites}), and Events are recorded on
 * transitions only.
 */
export const reaperPodModule: ReconcilerModule = {
  kind: 'ReaperPod',
  create(ctx: SchedulerContext): KindReconciler {
    // Our own status writes the world may not show yet: without them, a reconcile between our
    // write and the ReaperPod watch's event for it writes the same status again (see the class).
    const ownWrites = new OwnStatusWrites();
    return {
      async reconcile(req) {
        const stored = await ctx.world.get<StoredReaperPod>('ReaperPod', req.namespace, req.name);
        if (!stored) return undefined;
        return new ReaperPodReconcile(ctx, req, ownWrites.freshest(stored), ownWrites).run();
      },
    };
  },
};
