import { createHash } from 'node:crypto';
import type {
  ContainerState,
  ContainerStatus,
  ApiPod as Pod,
  PodCondition,
  PodStatus,
} from '@reaper-flow/domain';
import { formatTime } from '@reaper-flow/domain';

// Pure builders of the status the stand-in kubelet writes through pods/status (merge patch: lists
// such as conditions and containerStatuses are replaced whole, so each builder writes them whole).

function containerStatus(pod: Pod, state: ContainerState, ready: boolean): ContainerStatus {
  const container = pod.spec.containers[0];
  const image = container?.image ?? '';
  return {
    name: container?.name ?? 'main',
    ready,
    started: state.running !== undefined,
    restartCount: 0,
    image,
    imageID: `reaper://sha256:${createHash('sha256').update(image).digest('hex')}`,
    containerID: `reaper://${pod.metadata.uid ?? ''}`,
    state,
  };
}

function conditions(at: string, ready: boolean, reason?: string): PodCondition[] {
  const c = (type: string, status: boolean, why?: string): PodCondition => ({
    type,
    status: status ? 'True' : 'False',
    lastTransitionTime: at,
    ...(why && !status ? { reason: why } : {}),
  });
  return [
    c('PodReadyToStartContainers', true),
    c('Initialized', true),
    c('Ready', ready, reason),
    c('ContainersReady', ready, reason),
    c('PodScheduled', true),
  ];
}

/** Pending -> Running: the process was started at `startedAt`. */
export function runningStatus(pod: Pod, startedAt: string): PodStatus {
  return {
    phase: 'Running',
    startTime: startedAt,
    hostIP: '127.0.0.1',
    podIP: '127.0.0.1',
    conditions: conditions(startedAt, true),
    containerStatuses: [containerStatus(pod, { running: { startedAt } }, true)],
  };
}

/** The process ended: Succeeded on exit 0, else Failed. */
export function exitedStatus(
  pod: Pod,
  exit: { exitCode: number; startedAt: string; finishedAt: string },
): PodStatus {
  const ok = exit.exitCode === 0;
  return {
    phase: ok ? 'Succeeded' : 'Failed',
    startTime: pod.status?.startTime ?? exit.startedAt,
    conditions: conditions(exit.finishedAt, false, 'PodCompleted'),
    containerStatuses: [
      containerStatus(
        pod,
        {
          terminated: {
            exitCode: exit.exitCode,
            reason: ok ? 'Completed' : 'Error',
            startedAt: exit.startedAt,
            finishedAt: exit.finishedAt,
          },
        },
        false,
      ),
    ],
  };
}

/**
 * The container never ran (CreateContainerConfigError, StartError) or its fate is unknown
 * (KubeletRestarted): the pod is Failed with `reason`/`message` on the pod and on the container,
 * exit code 128 for never started, 137 for lost (as Kubernetes reports ContainerStatusUnknown).
 */
export function failedStatus(
  pod: Pod,
  failure: { reason: string; message: string; exitCode: number },
): PodStatus {
  const now = formatTime(Date.now());
  return {
    phase: 'Failed',
    reason: failure.reason,
    message: failure.message,
    startTime: pod.status?.startTime ?? now,
    conditions: conditions(now, false, 'PodFailed'),
    containerStatuses: [
      containerStatus(
        pod,
        {
          terminated: {
            exitCode: failure.exitCode,
            reason: failure.reason,
            message: failure.message,
            finishedAt: now,
          },
        },
        false,
      ),
    ],
  };
}

/** Waiting for a referenced object that may still appear (the pod stays Pending meanwhile). */
export function waitingStatus(pod: Pod, waiting: { reason: string; message: string }): PodStatus {
  return {
    phase: 'Pending',
    containerStatuses: [containerStatus(pod, { waiting }, false)],
  };
}
