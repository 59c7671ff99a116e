import type { DaemonJobPhaseView } from '../dag/after-graph';
import type { DaemonJobState } from './state';
import type { DaemonJobConditionType } from './views';

/** Nodes a run owns that have not finished (queued, running or waiting for a retry). */
export function activeCount(state: DaemonJobState): number {
  return state.counts.Queued + state.counts.Running + state.counts.RetryWaiting;
}

/**
 * Nodes that joined or rebooted and still wait for their run. Only triggerOn NodeReady acts on
 * them; with Manual they wait for the next trigger annotation and do not hold the phase back.
 */
export function owedCount(state: DaemonJobState): number {
  return state.spec?.triggerOn === 'NodeReady' ? state.counts.needsRun : 0;
}

/** The observed generation is older than the spec: its runs have not been started yet. */
export function generationPending(state: DaemonJobState): boolean {
  return (
    state.observedGeneration === undefined ||
    (state.spec !== undefined && state.spec.generation > state.observedGeneration)
  );
}

/**
 * Phase of the job, O(1) from the counters.
 * - Pending: no generation started yet, the current generation not started, runs queued but none
 *   started, or outstanding node runs held back by a dependency block. A block alone does not turn a
 *   finished job back to Pending: it only holds back work that is due.
 * - Running: a node run is active (or a joined/rebooted node is about to be queued).
 * - PartiallyFailed: some node exhausted its retries and none is active.
 * - Completed: every other case, in particular every target Succeeded, or there are no targets.
 *   Nodes that joined a Manual job and wait for the next trigger do not prevent Completed.
 */
export function derivePhase(state: DaemonJobState): DaemonJobPhaseView {
  if (activeCount(state) > 0) {
    return state.generationRunStarted || state.counts.Running > 0 ? 'Running' : 'Pending';
  }
  if (generationPending(state)) return 'Pending';
  if (owedCount(state) > 0) return state.block.kind === 'none' ? 'Running' : 'Pending';
  if (state.counts.Failed > 0) return 'PartiallyFailed';
  return 'Completed';
}

/** True/False of each condition, derived from the phase and the dependency block. */
export function conditionStatuses(state: DaemonJobState): Record<DaemonJobConditionType, 'True' | 'False'> {
  const phase = derivePhase(state);
  const bool = (value: boolean): 'True' | 'False' => (value ? 'True' : 'False');
  return {
    Blocked: bool(state.block.kind !== 'none'),
    Progressing: bool(phase === 'Running' || activeCount(state) > 0),
    Complete: bool(phase === 'Completed'),
    Failed: bool(phase === 'PartiallyFailed'),
    Suspended: bool(state.spec?.suspend === true),
  };
}
