/**
 * The ReaperDaemonJob decider. How the scheduler drives it (all pure; time, ids and randomness are
 * passed in):
 *
 * Reconcile (level-triggered, key `ReaperDaemonJob/<ns>/<name>`), with `state` = snapshot + fold of
 * the job's event log:
 *   1. decide `toObserveSpec(spec, now)`;
 *   2. decide `ObserveTargets{nodes: targetNodes(spec, nodes) with bootIds}` (cancelled runs name
 *      the ReaperPods to delete);
 *   3. decide `ObserveDependencies{block: createAfterGraph(jobsOfNamespace).blockReason(name)}`;
 *   4. for each `planTriggers(state, {triggerValue: annotation})`: decide
 *      `toTriggerRun(plan, newRunId, now)` (replaced runs name the ReaperPods to delete);
 *   5. for each `runningAttempts(state)`: if its ReaperPod (same run id and attempt annotations)
 *      finished, decide `FinishNodeRun` (retryAt = now + retryDelayMs(retryCount + 1, policy,
 *      random)); a vanished ReaperPod is a failure;
 *   6. enqueue `dueAttempts(state)` with job id `<job uid>/<runId>/<node>/<attempt>` and delay
 *      `notBefore - now`; delete owned ReaperPods that no running attempt accounts for;
 *   7. append the decided events (each decision's events in one atomic append), record
 *      `kubeEventsFor(events)`, write `toStatus(state)`; when the phase became Completed, enqueue
 *      the reconcile of `graph.readyToStart(name)`.
 * Node-run job `{runId, node, attempt}`: create (or adopt) the ReaperPod, decide `StartNodeRun`;
 * `stale` -> delete the ReaperPod, `duplicate` -> nothing to do, `rejected` -> retry later.
 */
export { type BackoffPolicy, DEFAULT_BACKOFF, retryDelayMs } from './backoff';
export {
  type DaemonJobCommand,
  type FinishNodeRun,
  type ObserveDependencies,
  type ObserveSpec,
  type ObserveTargets,
  type StartNodeRun,
  type TriggerReason,
  type TriggerRun,
  toObserveSpec,
} from './commands';
export { decide, decideCommand } from './decide';
export type { CommandResult, Decision, RejectReason, StaleReason } from './decision';
export { blockMessage, blockReasonName } from './dependency-block';
export type { DaemonJobEvent, DaemonJobEventOf, DaemonJobEventType, DependencyBlockReason } from './events';
export { evolve, fold, UnknownEventError } from './evolve';
export { type KubeEventView, kubeEventsFor } from './kube-events';
export { type DueAttempt, dueAttempts, type RunningAttempt, runningAttempts } from './node-run-work';
export { activeCount, derivePhase } from './phase';
export { type PlannedTrigger, planTriggers, type TriggerObservation, toTriggerRun } from './plan-triggers';
export {
  type DaemonJobState,
  initialState,
  isActive,
  type NodeRunPhase,
  type NodeState,
  type NodeTriggerReason,
  nodeOf,
  RECENT_RUN_IDS,
  type SpecState,
  targetCount,
} from './state';
export { DEFAULT_MAX_NODE_STATUSES, type StatusOptions, statusMessage, toStatus } from './status';
export {
  DAEMON_IMPLICIT_TOLERATIONS,
  matchesNodeSelector,
  type NodeView,
  type TaintView,
  type TargetingSpec,
  type TolerationView,
  targetNodes,
  toleratesTaint,
  toleratesTaints,
} from './targets';
export type {
  ConcurrencyPolicyView,
  ConditionView,
  DaemonJobConditionType,
  DaemonJobSpecView,
  DaemonJobStatusView,
  NodeStatusPhase,
  NodeStatusView,
  TriggerOnView,
} from './views';
