export * from './crd/index';
export * from './daemon-job/index';
export {
  type AfterGraph,
  type AfterJob,
  createAfterGraph,
  type DaemonJobPhaseView,
  type DependencyBlock,
  formatCyclePath,
} from './dag/after-graph';
export * from './errors';
export * from './hash';
export type * from './k8s-types';
export * from './overlay/busy-nodes';
export * from './overlay/decide';
export * from './overlay/event-reasons';
export * from './overlay/operation';
export * from './overlay/reset-request';
export * from './reaper-pod/desired-status';
export * from './reaper-pod/event-reasons';
export * from './reaper-pod/overlay-gate';
export * from './reaper-pod/pod-facts';
export * from './schemas/index';
export * from './status/status-values';
export * from './time';
export * from './translate/index';
