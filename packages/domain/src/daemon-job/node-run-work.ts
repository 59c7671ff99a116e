import type { DaemonJobState } from './state';

/** An attempt that should be started by a node-run worker. */
export type DueAttempt = Readonly<{
  node: string;
  runId: string;
  /** 1-based; equal to retryCount + 1. */
  attempt: number;
  /** Epoch ms before which it must not start (retries); absent: now. */
  notBefore?: number;
}>;

/** An attempt whose ReaperPod should exist and be watched for its outcome. */
export type RunningAttempt = Readonly<{
  node: string;
  runId: string;
  attempt: number;
  reaperPodName: string;
}>;

const byNode = (a: { node: string }, b: { node: string }): number =>
  a.node < b.node ? -1 : a.node > b.node ? 1 : 0;

/**
 * Attempts to start, from state alone: queued nodes (attempt 1) and nodes waiting for a retry.
 * The scheduler enqueues each with a deterministic job id (job, runId, node, attempt), so running
 * this after every reconcile, or twice, enqueues each attempt once.
 */
export function dueAttempts(state: DaemonJobState): DueAttempt[] {
  const due: DueAttempt[] = [];
  for (const [node, value] of Object.entries(state.nodes)) {
    if ((value.phase !== 'Queued' && value.phase !== 'RetryWaiting') || value.runId === undefined) continue;
    due.push({
      node,
      runId: value.runId,
      attempt: value.retryCount + 1,
      ...(value.notBefore !== undefined && { notBefore: value.notBefore }),
    });
  }
  return due.sort(byNode);
}

/**
 * Running attempts: the reconcile compares each with its ReaperPod and issues FinishNodeRun when
 * the pod finished (or is gone: report Failed). Every other ReaperPod the job owns is garbage:
 * replaced or cancelled runs, superseded attempts, nodes no longer targeted; finished pods of the
 * latest attempt (`NodeState.reaperPodName`) may be kept for their logs.
 */
export function runningAttempts(state: DaemonJobState): RunningAttempt[] {
  const running: RunningAttempt[] = [];
  for (const [node, value] of Object.entries(state.nodes)) {
    if (value.phase !== 'Running' || value.runId === undefined || value.reaperPodName === undefined) continue;
    running.push({ node, runId: value.runId, attempt: value.attempt, reaperPodName: value.reaperPodName });
  }
  return running.sort(byNode);
}
