export type { ApiNode as Node, ApiPod as Pod } from '@reaper-flow/domain';
export { BUILT_APP_NODE_FLAGS, type BuiltApp, builtAppArgs, builtAppEntry } from './apps';
export {
  ensureRuntimeClass,
  type LocalCluster,
  restartKubeletDaemon,
  type StartLocalClusterOptions,
  startLocalCluster,
} from './cluster';
export { DAEMON_JOB_LABEL, REAL_NODE_LABEL, RUNTIME_CLASS, SIMULATED_LABEL } from './constants';
export { ensureBinaries, ensureHelm } from './control-plane/binaries';
export { applyCrds } from './control-plane/crds';
export { freePorts } from './control-plane/ports';
export { ReadinessError } from './control-plane/readiness';
export { type ClusterTopology, clusterPrimaryOf, clusterProcessName } from './control-plane/redis-cluster';
export { currentPrimary, LOCAL_MASTER_NAME, type SentinelTopology } from './control-plane/redis-sentinel';
export { stopLocalCluster } from './control-plane/teardown';
export { FAULTS_CONFIGMAP, FAULTS_NAMESPACE, faultKey, setNodeFault } from './faults/faults';
export { type KilledProcess, killClusterProcess, restartClusterProcess } from './faults/process-faults';
export { type Logger, stderrLogger } from './log';
export { defaultStateDir, nodeLayout, REPO_ROOT, stateLayout } from './paths';
export { removeDir } from './pods/mounts';
export { realNodeLeftovers } from './real-nodes/real-node-teardown';
export { KubeletConflictError } from './simulated-nodes/kubelet-lease';
export type { KubeletTls } from './simulated-nodes/kubelet-server';
export {
  type AddNodeOptions,
  addNode,
  isNodeReady,
  listSimulatedNodes,
  parseTaint,
  rebootNode,
  removeNode,
  setNodeReady,
} from './simulated-nodes/nodes';
export { kubeletTlsIn, StandInKubelet, type StandInKubeletOptions } from './simulated-nodes/stand-in-kubelet';
export { type ClusterState, type RealNodeRecord, readState } from './state';
