import type { ObservedPod } from '../k8s-types';
import type { ReaperPod, ReaperPodPhase, ReaperPodStatus } from '../schemas/reaper-pod';
import { type DesiredStatus, type StatusCondition, setCondition } from '../status/status-values';
import { reaperPodStatusFromPod } from '../translate/pod-status';
import type { OverlayGate } from './overlay-gate';

/**
 * Every status field the ReaperPod reconciler owns. A desired status names all of them, with
 * `undefined` for the ones that must be absent, so a stale field (say an exitCode) is removed.
 */
const OWNED_KEYS = [
  'phase',
  'podName',
  'nodeName',
  'exitCode',
  'startTime',
  'completionTime',
  'message',
  'conditions',
  'observedGeneration',
] as const;

/** A desired ReaperPod status: every owned key present (undefined = remove). */
export type DesiredReaperPodStatus = DesiredStatus & {
  readonly phase: ReaperPodPhase;
  readonly conditions: readonly StatusCondition[];
};

/** Why an existing Pod is not bound to a node yet. */
export interface Unscheduled {
  readonly reason: 'Unschedulable' | 'WaitingForOverlay' | 'WaitingForScheduler';
  readonly message: string;
}

/**
 * Why an unbound Pod waits, in the kube-scheduler's words: its PodScheduled condition (False,
 * reason Unschedulable, message "0/3 nodes are available: ..."), or that it has not decided yet.
 */
export function waitingForScheduler(pod: ObservedPod): Unscheduled {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.message) {
    return { reason: 'Unschedulable', message: `not scheduled: ${scheduled.message}` };
  }
  return {
    reason: 'WaitingForScheduler',
    message: 'waiting for the kube-scheduler to bind the Pod to a node',
  };
}

/** Why the Pod does not exist (yet): a condition reason and a human-readable message. */
export interface PodBlocker {
  readonly reason: 'WaitingForOverlay' | 'PodNameTaken' | 'WaitingForOldPod' | 'InvalidSpec' | 'PodRejected';
  readonly message: string;
}

function complete(status: ReaperPodStatus, conditions: StatusCondition[]): DesiredReaperPodStatus {
  const out: Record<string, unknown> = {};
  for (const k of OWNED_KEYS) out[k] = (status as Record<string, unknown>)[k];
  out.conditions = conditions;
  return out as DesiredReaperPodStatus;
}

function previousConditions(rpod: ReaperPod): readonly StatusCondition[] | undefined {
  return rpod.status?.conditions as readonly StatusCondition[] | undefined;
}

/** OverlayReady is only reported for ReaperPods that name an overlay. */
function withOverlayCondition(
  conditions: readonly StatusCondition[] | undefined,
  gate: OverlayGate | undefined,
  generation: number | undefined,
  now: string,
): StatusCondition[] {
  const list = [...(conditions ?? [])];
  if (!gate) return list.filter((c) => c.type !== 'OverlayReady');
  return setCondition(
    list,
    {
      type: 'OverlayReady',
      status: gate.open ? 'True' : 'False',
      reason: gate.open ? 'OverlayReady' : gate.reason,
      message: gate.message,
      observedGeneration: generation,
    },
    now,
  );
}

function completedCondition(
  phase: ReaperPodPhase,
  exitCode: number | undefined,
  message: string | undefined,
) {
  const done = phase === 'Succeeded' || phase === 'Failed';
  const detail =
    exitCode === undefined ? (message ?? '') : `exit code ${exitCode}${message ? `: ${message}` : ''}`;
  return {
    type: 'Completed',
    status: done ? ('True' as const) : ('False' as const),
    reason: phase,
    message: done ? detail : `the workload is ${phase}`,
  };
}

/**
 * The status mirrored from the ReaperPod's own backing Pod (phase, Pod and node name, exit code,
 * times, message) plus the conditions OverlayReady (when an overlay is named), PodScheduled,
 * PodCreated and Completed; `unscheduled` says why an unbound Pod waits. Pure: the same inputs
 * give an equal status, so a repeated reconcile writes nothing.
 */
export function mirroredStatus(
  rpod: ReaperPod,
  pod: ObservedPod,
  gate: OverlayGate | undefined,
  now: string,
  unscheduled?: Unscheduled,
): DesiredReaperPodStatus {
  const generation = rpod.metadata.generation;
  const mirrored = reaperPodStatusFromPod(
    pod,
    generation === undefined ? {} : { observedGeneration: generation },
  );
  const node = pod.spec?.nodeName;
  // An unbound Pod says nothing itself: why it waits is ours to tell.
  const status = !node && unscheduled ? { ...mirrored, message: unscheduled.message } : mirrored;
  const phase = status.phase ?? 'Pending';
  let conditions = withOverlayCondition(previousConditions(rpod), gate, generation, now);
  conditions = setCondition(
    conditions,
    node
      ? {
          type: 'PodScheduled',
          status: 'True',
          reason: 'Scheduled',
          message: `bound to node ${node}`,
          observedGeneration: generation,
        }
      : {
          type: 'PodScheduled',
          status: 'False',
          reason: unscheduled?.reason ?? 'Pending',
          message: unscheduled?.message ?? 'waiting to be bound to a node',
          observedGeneration: generation,
        },
    now,
  );
  conditions = setCondition(
    conditions,
    {
      type: 'PodCreated',
      status: 'True',
      reason: 'PodCreated',
      message: `Pod ${pod.metadata?.name ?? rpod.metadata.name} exists`,
      observedGeneration: generation,
    },
    now,
  );
  conditions = setCondition(
    conditions,
    { ...completedCondition(phase, status.exitCode, status.message), observedGeneration: generation },
    now,
  );
  return complete(status, conditions);
}

/**
 * The status of a ReaperPod whose Pod does not exist and must not (or cannot) be created now:
 * Pending with the reason as message and condition, nothing mirrored.
 */
export function blockedStatus(
  rpod: ReaperPod,
  blocker: PodBlocker,
  gate: OverlayGate | undefined,
  now: string,
): DesiredReaperPodStatus {
  const generation = rpod.metadata.generation;
  // No Pod, so nothing is scheduled either.
  let conditions = withOverlayCondition(previousConditions(rpod), gate, generation, now).filter(
    (c) => c.type !== 'PodScheduled',
  );
  conditions = setCondition(
    conditions,
    {
      type: 'PodCreated',
      status: 'False',
      reason: blocker.reason,
      message: blocker.message,
      observedGeneration: generation,
    },
    now,
  );
  conditions = setCondition(
    conditions,
    { ...completedCondition('Pending', undefined, undefined), observedGeneration: generation },
    now,
  );
  return complete(
    {
      phase: 'Pending',
      message: blocker.message,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    },
    conditions,
  );
}

/**
 * The status of a ReaperPod whose Pod disappeared before it completed (deleted or evicted):
 * Failed, keeping what was mirrored before. The Pod is not re-created, because the command may
 * not be safe to run twice; that is a decision for whoever owns the ReaperPod (e.g. a DaemonJob
 * retry creates a new ReaperPod).
 */
export function lostPodStatus(
  rpod: ReaperPod,
  podName: string,
  gate: OverlayGate | undefined,
  now: string,
): DesiredReaperPodStatus {
  const generation = rpod.metadata.generation;
  const message = `backing Pod ${podName} was deleted before it completed`;
  const previous = rpod.status ?? {};
  let conditions = withOverlayCondition(previousConditions(rpod), gate, generation, now);
  conditions = setCondition(
    conditions,
    {
      type: 'PodCreated',
      status: 'True',
      reason: 'PodCreated',
      message: `Pod ${podName} was created`,
      observedGeneration: generation,
    },
    now,
  );
  conditions = setCondition(
    conditions,
    { type: 'Completed', status: 'True', reason: 'PodLost', message, observedGeneration: generation },
    now,
  );
  return complete(
    {
      ...previous,
      phase: 'Failed',
      podName,
      message,
      completionTime: previous.completionTime ?? now,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    },
    conditions,
  );
}
