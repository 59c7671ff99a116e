// Real kubelet nodes beside the simulated ones (`up --real-nodes N`): per node its own containerd
// (Debian's, with runc), CNI bridge and subnet, cgroup root, directories, certificates and ports,
// the local pause and placeholder images imported, and an upstream kubelet built from the same Go
// module as the control plane. Start and teardown; the host-side details are in real-node-host.ts.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUSYBOX, type BuiltImage, buildNodeImages, isStaticElf, PAUSE_IMAGE } from '@reaper-flow/images';
import { ensureBinaries, ensureDebianPackages, onPath } from './binaries';
import { REAL_NODE_LABEL } from './constants';
import type { ProcessSpec } from './control-plane';
import { isAlive, type SpawnedDaemon, stopGroups } from './daemon';
import { writeKubeconfig } from './kubeconfig';
import type { Logger } from './log';
import { mountsUnder, removeDir } from './mounts';
import { createNodeCertificates } from './pki';
import { freePorts } from './ports';
import { CNI_BIN_DIR, cniConfig, containerdConfig, kubeletConfig, realNodeLayout } from './real-node-config';
import {
  cgroupHierarchies,
  cgroupPids,
  createCgroupRoot,
  deleteLink,
  freeSlots,
  hostAddress,
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
import type { ClusterState, RealNodeRecord } from './state';

const exec = promisify(execFile);

/** Kubelet Lease duration: renewed every 5 s; the node-lifecycle controller's grace is above it. */
export const REAL_NODE_LEASE_SECONDS = 20;

/**
 * Installs what real nodes need when it is missing (Debian's containerd, runc, CNI plugins,
 * busybox-static for the placeholder image, gcc for the pause program) and builds kubelet into the
 * binary cache (with the control plane's binaries, if they are missing too). Returns both.
 */
export async function ensureRealNodeDeps(log: Logger): Promise<{ binDir: string; kubelet: string }> {
  await ensureDebianPackages(
    [
      {
        name: 'containerd',
        present: () => onPath('containerd') !== undefined && onPath('ctr') !== undefined,
      },
      { name: 'runc', present: () => onPath('runc') !== undefined },
      { name: 'containernetworking-plugins', present: () => existsSync(join(CNI_BIN_DIR, 'bridge')) },
      { name: 'busybox-static', present: () => staticBusybox() },
      { name: 'gcc', present: () => onPath('gcc') !== undefined },
      { name: 'libc6-dev', present: () => existsSync('/usr/lib/x86_64-linux-gnu/libc.a') },
      { name: 'iproute2', present: () => onPath('ip') !== undefined },
    ],
    log,
  );
  const binDir = await ensureBinaries(['kubelet']);
  return { binDir, kubelet: join(binDir, 'kubelet') };
}

function staticBusybox(): boolean {
  try {
    return isStaticElf(readFileSync(BUSYBOX));
  } catch {
    return false;
  }
}

export interface StartRealNodesOptions {
  readonly count: number;
  readonly stateDir: string;
  readonly pkiDir: string;
  readonly apiserverUrl: string;
  readonly kubelet: string;
  /** Starts a process and records it in the cluster's state (so a failed start is cleaned up). */
  readonly start: (spec: ProcessSpec) => Promise<SpawnedDaemon>;
  /** Records a node in the state before it changes anything on the host. */
  readonly record: (node: RealNodeRecord) => Promise<void>;
  readonly log: Logger;
}

/** Where the real nodes' roots are: `<stateDir>/real-nodes/<name>`. */
export function realNodesRoot(stateDir: string): string {
  return join(stateDir, 'real-nodes');
}

/**
 * Starts real nodes `real-1..real-N`: host set-up, containerd, image import, kubelet. Resolves once
 * every kubelet process runs; its Node registers and turns Ready shortly after (the caller waits).
 */
export async function startRealNodes(opts: StartRealNodesOptions): Promise<RealNodeRecord[]> {
  const t0 = performance.now();
  const nodeIp = hostAddress();
  const images = await buildNodeImages();
  opts.log(
    `node images built: ${images.pause.name} (${kb(images.pause)}), ${images.placeholder.name} (${kb(images.placeholder)})`,
  );
  const slots = freeSlots(opts.count);
  const ports = await freePorts(2 * opts.count);
  const records: RealNodeRecord[] = slots.map((slot, i) => ({
    name: `real-${i + 1}`,
    slot,
    root: join(realNodesRoot(opts.stateDir), `real-${i + 1}`),
    kubeletPort: ports[2 * i] ?? 0,
    healthzPort: ports[2 * i + 1] ?? 0,
  }));
  for (const r of records) await opts.record(r);
  await Promise.all(records.map((r) => startRealNode(r, nodeIp, images, opts)));
  opts.log(
    `${records.length} real node(s) started in ${((performance.now() - t0) / 1000).toFixed(1)} s (node IP ${nodeIp})`,
  );
  return records;
}

async function startRealNode(
  record: RealNodeRecord,
  nodeIp: string,
  images: { readonly pause: BuiltImage; readonly placeholder: BuiltImage },
  opts: StartRealNodesOptions,
): Promise<void> {
  const node = realNodeLayout(realNodesRoot(opts.stateDir), record.name, record.slot);
  for (const dir of [
    node.containerdRoot,
    node.containerdState,
    node.runcRoot,
    node.cniConfDir,
    node.ipamDir,
    node.kubeletRoot,
    node.podLogsDir,
  ])
    await mkdir(dir, { recursive: true });
  await writeFile(node.containerdConfig, containerdConfig(node, PAUSE_IMAGE));
  await writeFile(join(node.cniConfDir, '10-reaper-flow.conflist'), cniConfig(node));
  await createCgroupRoot(node.cgroupRoot);

  const containerd = await opts.start({
    name: `containerd-${record.name}`,
    command: onPath('containerd') ?? 'containerd',
    args: ['--config', node.containerdConfig],
    match: node.containerdConfig,
  });
  await waitFor(`containerd of ${record.name}`, containerd, async () => {
    await ctr(node.containerdSocket, ['version']);
    return true;
  });
  for (const image of [images.pause, images.placeholder])
    await ctr(node.containerdSocket, ['-n', 'k8s.io', 'images', 'import', image.path]);

  const certs = await createNodeCertificates(opts.pkiDir, record.name, nodeIp);
  const caCert = join(opts.pkiDir, 'ca.crt');
  await writeKubeconfig(node.kubeletKubeconfig, {
    server: opts.apiserverUrl,
    caCert,
    clientCert: certs.clientCert,
    clientKey: certs.clientKey,
    user: `system:node:${record.name}`,
  });
  await writeFile(
    node.kubeletConfig,
    kubeletConfig(node, {
      caCert,
      servingCert: certs.servingCert,
      servingKey: certs.servingKey,
      port: record.kubeletPort,
      healthzPort: record.healthzPort,
      leaseDurationSeconds: REAL_NODE_LEASE_SECONDS,
    }),
  );
  const kubelet = await opts.start({
    name: `kubelet-${record.name}`,
    command: opts.kubelet,
    args: [
      `--config=${node.kubeletConfig}`,
      `--kubeconfig=${node.kubeletKubeconfig}`,
      `--root-dir=${node.kubeletRoot}`,
      `--cert-dir=${node.certDir}`,
      `--node-ip=${nodeIp}`,
      `--hostname-override=${record.name}`,
      `--node-labels=${REAL_NODE_LABEL}=true`,
    ],
    match: `--root-dir=${node.kubeletRoot}`,
  });
  await waitFor(`kubelet of ${record.name}`, kubelet, async () => {
    const res = await fetch(`http://127.0.0.1:${record.healthzPort}/healthz`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  });
}

/** Runs Debian's ctr against one node's containerd. */
async function ctr(socket: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await exec('ctr', ['--address', socket, ...args], { timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`ctr ${args.join(' ')} failed: ${stderr.trim() || (err as Error).message}`, {
      cause: err,
    });
  }
}

async function waitFor(what: string, daemon: SpawnedDaemon, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = 'not ready yet';
  for (;;) {
    if (!isAlive(daemon.record)) {
      throw new Error(`${what} exited; the end of ${daemon.record.log}:\n${await tailOf(daemon.record.log)}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not ready after 60 s (${last}); see ${daemon.record.log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tailOf(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-30).join('\n');
}

function kb(image: BuiltImage): string {
  return `${Math.round(image.size / 1024)} KiB`;
}

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
 * bridges, cgroups, processes (kubelet, containerd, shims, pods) and libcni cache files. Empty
 * after a complete `down`.
 */
export function realNodeLeftovers(stateDir: string, records: readonly RealNodeRecord[]): string[] {
  const left = mountsUnder(stateDir).map((m) => `mount ${m}`);
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
