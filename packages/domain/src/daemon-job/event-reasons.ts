/**
 * The reason of every Kubernetes Event reaper-flow records on a ReaperDaemonJob, in one place (as
 * sample-controller keeps its reasons as constants). Each is UpperCamelCase and its own key. The
 * dependency and failure reasons are also the domain's own (DependencyBlockReason,
 * NodeFailureReason); kubeEventsFor passes them on, and its KubeEventView type does not compile
 * if one of them is missing here.
 */
export const DaemonJobEventReason = {
  InvalidSpec: 'InvalidSpec',
  RunTriggered: 'RunTriggered',
  TriggerSkipped: 'TriggerSkipped',
  TriggerReplaced: 'TriggerReplaced',
  RunCancelled: 'RunCancelled',
  NodeRunFailed: 'NodeRunFailed',
  DeadlineExceeded: 'DeadlineExceeded',
  RetryScheduled: 'RetryScheduled',
  RetriesExhausted: 'RetriesExhausted',
  Completed: 'Completed',
  PartiallyFailed: 'PartiallyFailed',
  DependencyWaiting: 'DependencyWaiting',
  DependencyMissing: 'DependencyMissing',
  DependencyFailed: 'DependencyFailed',
  DependencyCycle: 'DependencyCycle',
  DependenciesCompleted: 'DependenciesCompleted',
  DependencyFailedOnNode: 'DependencyFailedOnNode',
  Suspended: 'Suspended',
  Resumed: 'Resumed',
  StateUnreadable: 'StateUnreadable',
} as const;

export type DaemonJobEventReason = (typeof DaemonJobEventReason)[keyof typeof DaemonJobEventReason];
