/**
 * The reason of every Kubernetes Event reaper-flow records on a ReaperOverlay, in one place (as
 * sample-controller keeps its reasons as constants). Each is UpperCamelCase and its own key.
 */
export const OverlayEventReason = {
  InvalidSpec: 'InvalidSpec',
  /** Deletion started: delete jobs went to the nodes where nothing uses the overlay. */
  Deleting: 'Deleting',
  /** Deletion waits for ReaperPods still running on some nodes. */
  CleanupWaiting: 'CleanupWaiting',
  CleanedUp: 'CleanedUp',
  ResetStarted: 'ResetStarted',
  ResetFailed: 'ResetFailed',
  ResetCompleted: 'ResetCompleted',
  /** A resetPolicy asked for a reset of one node. */
  NodeResetRequested: 'NodeResetRequested',
} as const;

export type OverlayEventReason = (typeof OverlayEventReason)[keyof typeof OverlayEventReason];
