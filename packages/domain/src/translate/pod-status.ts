import type { ContainerStatus, K8sTime, ObservedPod } from '../k8s-types';
import type { ReaperPodPhase, ReaperPodStatus } from '../schemas/reaper-pod';
import { formatTime } from '../time';
import { MAIN_CONTAINER } from './desired-pod';

/** A timestamp as the API server writes it; the typed client hands them over as Date. */
function toTimestamp(t: K8sTime): string {
  return typeof t === 'string' ? t : formatTime(t);
}

function joinReason(reason: string | undefined, message: string | undefined): string | undefined {
  const parts = [reason, message].filter((p): p is string => p !== undefined && p !== '');
  return parts.length === 0 ? undefined : parts.join(': ');
}

function mainStatus(statuses: readonly ContainerStatus[] | undefined): ContainerStatus | undefined {
  return statuses?.find((s) => s.name === MAIN_CONTAINER) ?? statuses?.[0];
}

const UNKNOWN_MESSAGE = 'backing Pod phase is Unknown: its node may be unreachable';

function mapPhase(phase: string | undefined): ReaperPodPhase {
  switch (phase) {
    case 'Running':
    case 'Succeeded':
    case 'Failed':
      return phase;
    default:
      // Pending, Unknown (node lost: the Pod may still come back) and anything newer.
      return 'Pending';
  }
}

/**
 * The ReaperPod status mirrored from its backing Pod: phase (Unknown becomes Pending with a
 * message), exit code and completion time of the main container, start time, Pod and node name.
 * Conditions are left to the caller, which knows the current time.
 */
export function reaperPodStatusFromPod(
  pod: ObservedPod,
  options: { readonly observedGeneration?: number } = {},
): ReaperPodStatus {
  const status = pod.status;
  const state = mainStatus(status?.containerStatuses)?.state;
  const terminated = state?.terminated;
  const message =
    status?.message ||
    (status?.phase === 'Unknown' ? UNKNOWN_MESSAGE : undefined) ||
    (terminated ? joinReason(terminated.reason, terminated.message) : undefined) ||
    (state?.waiting ? joinReason(state.waiting.reason, state.waiting.message) : undefined);
  return {
    phase: mapPhase(status?.phase),
    ...(pod.metadata?.name === undefined ? {} : { podName: pod.metadata.name }),
    ...(pod.spec?.nodeName === undefined ? {} : { nodeName: pod.spec.nodeName }),
    ...(terminated === undefined ? {} : { exitCode: terminated.exitCode }),
    ...(status?.startTime === undefined ? {} : { startTime: toTimestamp(status.startTime) }),
    ...(terminated?.finishedAt === undefined ? {} : { completionTime: toTimestamp(terminated.finishedAt) }),
    ...(message === undefined ? {} : { message }),
    ...(options.observedGeneration === undefined ? {} : { observedGeneration: options.observedGeneration }),
  };
}
