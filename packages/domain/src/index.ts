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
export * from './hash';
export type * from './k8s-types';
export * from './schemas/index';
export * from './translate/index';
