/**
 * The reason of every Kubernetes Event reaper-flow records on a ReaperPod, in one place (as
 * sample-controller keeps its reasons as constants): a user filters Events by reason, so a reason
 * is part of the interface. Each is UpperCamelCase and its own key.
 */
export const ReaperPodEventReason = {
  PodCreated: 'PodCreated',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  InvalidSpec: 'InvalidSpec',
  /** The API server refused the backing Pod as written. */
  PodRejected: 'PodRejected',
  /** A Pod of that name exists and is not this ReaperPod's. */
  PodNameTaken: 'PodNameTaken',
  /** The overlay the ReaperPod names does not exist (yet). */
  OverlayNotFound: 'OverlayNotFound',
} as const;

export type ReaperPodEventReason = (typeof ReaperPodEventReason)[keyof typeof ReaperPodEventReason];
