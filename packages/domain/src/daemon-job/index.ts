/**
 * The ReaperDaemonJob decider. How the scheduler drives it (apps/scheduler/src/daemon-job; all pure
 * here: time, ids and randomness are passed in):
 *
 * Reconcile (level-triggered, key `ReaperDaemonJob/<ns>/<name>`, the only writer of the state):
 *   1. decide the StartNodeRun / FinishNodeRun commands node-run workers left in the job's inbox
 *      (a `stale` StartNodeRun: the ReaperPod made for it is deleted);
 *   2. decide `toObserveSpec(spec, now)`, `ObserveTargets{targetNodes(spec, nodes) with bootIds}`
 *      (cancelled runs name the ReaperPods to delete) and
 *      `ObserveDependencies{createAfterGraph(jobsOfNamespace).blockReason(name)}`;
 *   3. for each `planTriggers(state, {triggerValue: annotation})`: decide
 *      `toTriggerRun(plan, newRunId, now)`; the nodes it queues become one run flow;
 *   4. save the state with the decided events, then act: add run flows, delete ReaperPods, record
 *      `kubeEventsFor(events)`, write `toStatus(state)` (coalesced).
 * Node-run worker (one BullMQ child per run and node, each step planned by `planNodeRunStep`):
 * creates the attempt's ReaperPod and reports StartNodeRun; when it ends, reports FinishNodeRun
 * (with `retryAt` from `retryDelayMs` when a retry follows) and runs the next attempt itself after
 * the backoff. Repeated reports are
 * `duplicate` (no events); reports of a replaced run or older attempt are `stale`.
 */
export { type BackoffPolicy, DEFAULT_BACKOFF, retryDelayMs } from './backoff';
export {
  type DaemonJobCommand,
  type FinishNodeRun,
  type HoldNodeRun,
  type NodeFailureReason,
  type NodeHoldReason,
  type ObserveDependencies,
  type ObserveSpec,
  type ObserveTargets,
  type StartNodeRun,
  type TriggerReason,
  type TriggerRun,
  toObserveSpec,
} from './commands';
export { type Decided, decide, decideAndEvolve, decideCommand } from './decide';
export type { CommandResult, Decision, RejectReason, StaleReason } from './decision';
export { blockMessage, blockReasonName } from './dependency-block';
export { type EngineState, initialEngineState, type PendingFlow, type RunPodRef } from './engine-state';
export { engineStateSchema, parseEngineState } from './engine-state-schema';
export { DaemonJobEventReason } from './event-reasons';
export type { DaemonJobEvent, DaemonJobEventOf, DaemonJobEventType, DependencyBlockReason } from './events';
export { evolve, FoldSession, fold, UnknownEventError } from './evolve';
export {
  type AttemptHistory,
  type AttemptOutcome,
  foldHistory,
  isDaemonJobEvent,
  type NodeHistory,
  type NodeRunHistory,
  type NodeRunOutcome,
} from './history';
export {
  encodeInboxCommand,
  INBOX_COMMAND_VERSION,
  type InboxCommand,
  type InboxCommandRead,
  inboxCommandSchema,
  parseInboxCommand,
} from './inbox-command';
export { type KubeEventView, kubeEventsFor } from './kube-events';
export {
  type DependencyOnNode,
  decodeNodeProgress,
  decodeProgressMeta,
  encodeNodeProgress,
  type NodeGate,
  type NodeProgress,
  nodeGate,
  PROGRESS_META_FIELD,
  type ProgressIndexChanges,
  type ProgressMeta,
  progressIndexChanges,
} from './node-gate';
export {
  attemptDeadline,
  type EnsureReaperPodResult,
  NODE_RUN_WATCHDOG_MS,
  type NodeRunEffect,
  type NodeRunFacts,
  type NodeRunPlan,
  type NodeRunQuestion,
  type NodeRunStepChange,
  type NodeRunStepInput,
  type NodeRunStepOutcome,
  type NodeRunStepState,
  planNodeRunStep,
  RECREATE_DELAY_MS,
  SUSPENDED_MESSAGE,
} from './node-run-plan';
export { activeCount, derivePhase } from './phase';
export { type PlannedTrigger, planTriggers, type TriggerObservation, toTriggerRun } from './plan-triggers';
export {
  type IndexChanges,
  type PlanInboxEntry,
  planReconcile,
  planStatus,
  type ReconcileInput,
  type ReconcilePlan,
  runIndexChanges,
  type StatusPlan,
  settledState,
  targetsOutdated,
  type WrittenStatus,
} from './reconcile-plan';
export { maxNodesInFlight } from './rollout-limit';
export { belongsTo, runOf } from './run-pod';
export { OPERATIONAL_SPEC_FIELDS, runSpecHash } from './run-spec';
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
  decideStatusWrite,
  type StatusWrite,
  type StatusWriteReason,
  type WrittenStatusMark,
} from './status-coalescing';
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
export { type WaitingForView, waitingFor } from './waiting-for';
