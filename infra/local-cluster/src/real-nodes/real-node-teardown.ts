// Teardown of the real nodes (`down`): everything start-up put on the machine, found from the
// state file alone (no API server needed), and the check that nothing is left.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { kubeProxyTables } from '../control-plane/cluster-services';
import { isAlive, stopGroups } from '../control-plane/daemon';
import type { Logger } from '../log';
import { mountsUnder, removeDir } from '../pods/mounts';
import type { ClusterState, RealNodeRecord } from '../state';
import { realNodeLayout } from './real-node-config';
import {
  cgroupHierarchies,
  cgroupPids,
  deleteLink,
  ipForward,
  linkExists,
  processesMatching,
  programRunning,
  removeCgroupRoot,
  removeMachineLeftovers,
  removeNetns,
  removeNodeLeftovers,
  setIpForward,
  unmountAllUnder,
} from './real-node-host';
import { ctr, realNodesRoot } from './real-nodes';

/**
 * Stops and removes the real nodes of `state`: kubelets, then every pod process (by cgroup), the
 * containers (ctr, so the shims unmount their root filesystems), containerd and its shims, then
 * network namespaces, mounts, cgroups, bridges, libcni's cache, the kubelet's log links, the
 * node roots, and finally the machine-wide paths once no kubelet or containerd runs any more.
 * Works without the API server. Every step tolerates what an earlier, interrupted `down` removed.
 */
export async function stopRealNodes(state: ClusterState, log: Logger): Promise<void> {
  const records = state.realNodes ?? [];
  if (records.length === 0) return;
  const procs = (prefix: string) =>
    state.processes.filter((p) => records.some((r) => p.name === `${prefix}-${r.name}`) && isAlive(p));
  const kubelets = procs('kubelet');
  await stopGroups(kubelets.map((p) => p.pid));
  for (const p of kubelets) log(`${p.name} stopped (pid ${p.pid})`);

  const root = realNodesRoot(state.stateDir);
  for (const r of records) {
    const node = realNodeLayout(root, r.name, r.slot);
    await removeCgroupRoot(node.cgroupRoot);
    const { netns, sandboxIds } = await sandboxes(node.containerdSocket);
    if (existsSync(node.containerdSocket)) await deleteContainers(node.containerdSocket);
    // A shim names its containerd's socket; it outlives containerd when containerd is killed.
    const shims = processesMatching(node.containerdSocket).filter(
      (pid) => !state.processes.some((p) => p.pid === pid),
    );
    for (const pid of shims) killQuietly(pid);
    const containerd = state.processes.filter((p) => p.name === `containerd-${r.name}` && isAlive(p));
    await stopGroups(containerd.map((p) => p.pid));
    for (const p of containerd) log(`${p.name} stopped (pid ${p.pid})`);
    await removeNetns(netns);
    await unmountAllUnder(node.root);
    await deleteLink(node.bridge);
    await removeNodeLeftovers({ ...node, sandboxIds });
    await removeDir(node.root);
  }
  await removeDir(root);
  await removeMachineLeftovers();
  const left = realNodeLeftovers(state.stateDir, records);
  if (left.length > 0) throw new Error(`left behind: ${left.join('; ')}`);
  if (state.ipForwardBefore === '0' && !programRunning('kubelet') && ipForward() !== '0')
    await setIpForward('0');
}

/**
 * What of the real nodes `records` is still on the machine: mounts below the state dir, their
 * bridges, cgroups, processes (kubelet, containerd, shims, pods), libcni cache files and
 * kube-proxy's nftables tables. Empty
 * after a complete `down`.
 */
export function realNodeLeftovers(stateDir: string, records: readonly RealNodeRecord[]): string[] {
  const left = mountsUnder(stateDir).map((m) => `mount ${m}`);
  if (records.length > 0) left.push(...kubeProxyTables().map((t) => `nftables ${t} (kube-proxy)`));
  for (const r of records) {
    const node = realNodeLayout(realNodesRoot(stateDir), r.name, r.slot);
    if (linkExists(node.bridge)) left.push(`bridge ${node.bridge}`);
    for (const h of cgroupHierarchies())
      if (existsSync(join(h, node.cgroupRoot))) left.push(`cgroup ${join(h, node.cgroupRoot)}`);
    for (const pid of [...processesMatching(node.root), ...cgroupPids(node.cgroupRoot)])
      left.push(`process ${pid} of ${r.name}`);
    for (const f of safeReaddir('/var/lib/cni/results'))
      if (f.startsWith(`${node.network}-`)) left.push(`/var/lib/cni/results/${f}`);
    if (existsSync(node.root)) left.push(`dir ${node.root}`);
  }
  return left;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The node's pod sandboxes (ids, network namespaces), read from containerd's container specs. */
async function sandboxes(socket: string): Promise<{ netns: string[]; sandboxIds: string[] }> {
  const paths = new Set<string>();
  const sandboxIds: string[] = [];
  if (!existsSync(socket)) return { netns: [], sandboxIds };
  try {
    const ids = (await ctr(socket, ['-n', 'k8s.io', 'containers', 'ls', '-q'], 10_000))
      .split('\n')
      .filter(Boolean);
    for (const id of ids) {
      const info = JSON.parse(await ctr(socket, ['-n', 'k8s.io', 'containers', 'info', id], 10_000)) as {
        Spec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
      };
      for (const ns of info.Spec?.linux?.namespaces ?? []) {
        if (ns.type === 'network' && ns.path && /^\/(var\/)?run\/netns\//.test(ns.path)) {
          paths.add(ns.path);
          sandboxIds.push(id);
        }
      }
    }
  } catch {
    // containerd not answering: nothing to learn from it
  }
  return { netns: [...paths], sandboxIds };
}

async function deleteContainers(socket: string): Promise<void> {
  try {
    const ids = (await ctr(socket, ['-n', 'k8s.io', 'containers', 'ls', '-q'], 10_000))
      .split('\n')
      .filter(Boolean);
    for (const id of ids) {
      await ctr(socket, ['-n', 'k8s.io', 'tasks', 'delete', '--force', id], 10_000).catch(() => undefined);
      await ctr(socket, ['-n', 'k8s.io', 'containers', 'delete', id], 10_000).catch(() => undefined);
    }
  } catch {
    // containerd not answering: the cgroup kill above stopped the processes; mounts are swept below
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}
