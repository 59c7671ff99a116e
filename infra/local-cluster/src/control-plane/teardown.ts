import { rm } from 'node:fs/promises';
import { type Logger, stderrLogger } from '../log';
import { stateLayout } from '../paths';
import { removeDir } from '../pods/mounts';
import { killOrphanedPods } from '../pods/pod-pids';
import { stopRealNodes } from '../real-nodes/real-node-teardown';
import { readState } from '../state';
import { removeKubeProxyRules } from './cluster-services';
import { isAlive, stopGroups } from './daemon';
import { CLUSTER_PROCESS_NAMES } from './redis-cluster';

// Kept free of the Kubernetes client so `down` starts fast.

/** The host services of a cluster with real nodes (cluster-services.ts). */
const CLUSTER_SERVICE_PROCESSES = ['kube-proxy', 'coredns'];

/** Redis, with Sentinel its replicas and sentinels, as a Cluster its other nodes (storage: stopped last). */
const REDIS_PROCESSES = [
  ...CLUSTER_PROCESS_NAMES,
  'redis-replica-1',
  'redis-replica-2',
  'redis-sentinel-1',
  'redis-sentinel-2',
  'redis-sentinel-3',
];

/**
 * `down`: stops every recorded process group (the kubelet first, so it stops its pods), kills pod
 * processes a crashed kubelet left behind, removes data dirs, PKI and state.json (logs stay).
 * Returns false when there was no cluster in `stateDir`.
 */
export async function stopLocalCluster(
  stateDir: string,
  log: Logger = stderrLogger('cluster'),
): Promise<boolean> {
  const state = await readState(stateDir);
  if (!state) return false;
  const alive = state.processes.filter(isAlive);
  const stage = async (names: readonly string[]) => {
    const group = alive.filter((p) => names.includes(p.name));
    await stopGroups(group.map((p) => p.pid));
    for (const p of group) log(`${p.name} stopped (pid ${p.pid})`);
  };
  // In dependency order: the kubelet first (it stops its pods while the API server still answers),
  // storage last (an API server whose etcd is gone hangs in its graceful shutdown until SIGKILL).
  await stage(['stand-in-kubelet']);
  await killOrphanedPods(stateLayout(stateDir).nodesDir);
  // kube-proxy and CoreDNS (real nodes only), then kube-proxy's rules, which outlive it (the real
  // nodes' leftover check looks for them).
  await stage(CLUSTER_SERVICE_PROCESSES);
  const rulesError = state.realNodes
    ? await removeKubeProxyRules().then(
        () => undefined,
        (err: Error) => err,
      )
    : undefined;
  // Real nodes next (they need no API server); a failure is reported after the rest is stopped.
  const realNodesError = await stopRealNodes(state, log).then(
    () => undefined,
    (err: Error) => err,
  );
  const realNodeProcesses = (state.realNodes ?? []).flatMap((n) => [
    `kubelet-${n.name}`,
    `containerd-${n.name}`,
  ]);

  await stage(['kube-scheduler', 'kube-controller-manager']);
  await stage(['kube-apiserver']);
  await stage(['etcd', ...REDIS_PROCESSES]);
  const known = new Set([
    'stand-in-kubelet',
    'kube-scheduler',
    'kube-controller-manager',
    'kube-apiserver',
    'etcd',
    ...REDIS_PROCESSES,
    ...realNodeProcesses,
    ...CLUSTER_SERVICE_PROCESSES,
  ]);
  await stage(alive.filter((p) => !known.has(p.name)).map((p) => p.name));
  for (const dir of state.dataDirs) await removeDir(dir);
  const layout = stateLayout(stateDir);
  await rm(layout.kubeconfig, { force: true });
  const failure = realNodesError ?? rulesError;
  if (failure) {
    // state.json stays: a second `down` retries what is left of the real nodes.
    throw new Error(`real nodes not fully removed: ${failure.message}`, { cause: failure });
  }
  await rm(layout.stateFile, { force: true });
  return true;
}
