export type { ApiNode as Node, ApiPod as Pod } from '@reaper-flow/domain';
export { BUILT_APP_NODE_FLAGS, type BuiltApp, builtAppArgs, builtAppEntry } from './apps';
export { ensureBinaries, ensureHelm } from './binaries';
export {
  ensureRuntimeClass,
  type LocalCluster,
  restartKubeletDaemon,
  type StartLocalClusterOptions,
  startLocalCluster,
} from './cluster';
export { DAEMON_JOB_LABEL, REAL_NODE_LABEL, RUNTIME_CLASS, SIMULATED_LABEL } from './constants';
export { applyCrds } from './crds';
export { FAULTS_CONFIGMAP, FAULTS_NAMESPACE, faultKey, setNodeFault } from './faults';
export { KubeletConflictError } from './kubelet-lease';
export type { KubeletTls } from './kubelet-server';
export { type Logger, stderrLogger } from './log';
export { removeDir } from './mounts';
export {
  type AddNodeOptions,
  addNode,
  isNodeReady,
  listSimulatedNodes,
  parseTaint,
  rebootNode,
  removeNode,
  setNodeReady,
} from './nodes';
export { defaultStateDir, nodeLayout, REPO_ROOT, stateLayout } from './paths';
export { freePorts } from './ports';
export { type KilledProcess, killClusterProcess, restartClusterProcess } from './process-faults';
export { ReadinessError } from './readiness';
export { realNodeLeftovers } from './real-node-teardown';
export { type ClusterTopology, clusterPrimaryOf, clusterProcessName } from './redis-cluster';
export { currentPrimary, LOCAL_MASTER_NAME, type SentinelTopology } from './redis-sentinel';
export { kubeletTlsIn, StandInKubelet, type StandInKubeletOptions } from './stand-in-kubelet';
export { type ClusterState, type RealNodeRecord, readState } from './state';
export { stopLocalCluster } from './teardown';
