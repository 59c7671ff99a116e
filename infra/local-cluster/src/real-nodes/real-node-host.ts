// What a real node changes on the host outside its root dir, and how it is undone: cgroups in every
// hierarchy, the CNI bridge, network namespaces, mounts, and the few paths the kubelet, containerd
// and libcni hard-code. Kept free of the Kubernetes client (used by `down`).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { mountsUnder } from '../pods/mounts';

const exec = promisify(execFile);

/** Mount points of every cgroup hierarchy (v1 controllers, named ones, the cgroup2 `unified`). */
export function cgroupHierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => {
      const fstype = line.split(' - ')[1]?.split(' ')[0];
      return fstype === 'cgroup' || fstype === 'cgroup2';
    })
    .map((line) => line.split(' ')[4] ?? '')
    .filter((m) => m !== '');
}

/**
 * Creates `cgroupRoot` in every hierarchy (the kubelet's cgroupfs driver expects it everywhere);
 * cpuset needs its cpus and mems filled in before a process may join.
 */
export async function createCgroupRoot(cgroupRoot: string): Promise<void> {
  for (const h of cgroupHierarchies()) {
    const dir = join(h, cgroupRoot);
    await mkdir(dir, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (!existsSync(join(dir, file))) continue;
      const current = (await readFile(join(dir, file), 'utf8')).trim();
      if (current === '') await writeFile(join(dir, file), await readFile(join(h, file), 'utf8'));
    }
  }
}

/** Every cgroup dir below (and including) `cgroupRoot` in every hierarchy, deepest first. */
function cgroupDirs(cgroupRoot: string): string[] {
  const dirs: string[] = [];
  const walk = (dir: string) => {
    dirs.push(dir);
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  for (const h of cgroupHierarchies()) if (existsSync(join(h, cgroupRoot))) walk(join(h, cgroupRoot));
  return dirs.sort((a, b) => b.length - a.length);
}

/** Pids of every process in the cgroups below `cgroupRoot` (the node's pods). */
export function cgroupPids(cgroupRoot: string): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupDirs(cgroupRoot)) {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n'))
        if (line.trim()) pids.add(Number(line));
    } catch {
      // gone meanwhile
    }
  }
  return [...pids];
}

/** SIGKILLs the node's pod processes, then removes its cgroups in every hierarchy. */
export async function removeCgroupRoot(cgroupRoot: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const pid of cgroupPids(cgroupRoot)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    let left = 0;
    for (const dir of cgroupDirs(cgroupRoot)) {
      await rmdir(dir).catch(() => {
        left++;
      });
    }
    if (left === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cgroups of ${cgroupRoot} could not be removed: ${cgroupDirs(cgroupRoot).join(', ')}`);
}

/** The machine's first non-loopback IPv4 address outside our bridges: the nodes' InternalIP. */
export function hostAddress(): string {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name.startsWith('rf-br') || name.startsWith('cni') || name.startsWith('veth')) continue;
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  throw new Error('no non-loopback IPv4 address: a real kubelet needs one as its node IP');
}

/** A free slot number: no bridge `rf-br<slot>` and no cgroup `/rf-node-<slot>` on the machine, none in `taken`. */
export function freeSlots(count: number, taken: ReadonlySet<number> = new Set()): number[] {
  const slots: number[] = [];
  const pidsHierarchy = cgroupHierarchies()[0] ?? '/sys/fs/cgroup';
  for (let slot = 1; slots.length < count && slot < 250; slot++) {
    if (taken.has(slot)) continue;
    if (existsSync(`/sys/class/net/rf-br${slot}`) || existsSync(join(pidsHierarchy, `rf-node-${slot}`)))
      continue;
    slots.push(slot);
  }
  if (slots.length < count) throw new Error('no free real-node slot (rf-br1..rf-br249 all taken)');
  return slots;
}

/** Whether a network interface exists. */
export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** Deletes a network interface (our bridge); absent is fine. */
export async function deleteLink(name: string): Promise<void> {
  if (!linkExists(name)) return;
  await exec('ip', ['link', 'delete', name]);
}

/** Unmounts every mount at or below `dir`, deepest first (lazily: a busy one goes when unused). */
export async function unmountAllUnder(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const mounts = mountsUnder(dir).sort((a, b) => b.length - a.length);
    if (mounts.length === 0) return;
    for (const m of mounts) await exec('umount', ['-l', m]).catch(() => undefined);
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`could not unmount ${left.join(', ')}`);
}

/** Unmounts and removes network namespace files (the CRI's /var/run/netns/cni-*). */
export async function removeNetns(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    await exec('umount', ['-l', path]).catch(() => undefined);
    await rm(path, { force: true });
  }
}

/** The processes whose command line contains `fragment` (containerd's shims name its socket). */
export function processesMatching(fragment: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && cmdline.split('\0').join(' ').includes(fragment)) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Whether any live process (zombies do not count) runs the program `name` (its /proc comm). */
export function programRunning(name: string): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== name) continue;
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && state !== 'X') return true;
    } catch {
      // gone
    }
  }
  return false;
}

/**
 * The host paths the kubelet, containerd and libcni write whatever they are told about one node:
 * libcni's result cache for its network and for the loopback network of its sandboxes, and the
 * kubelet's /var/log/containers links into its pod logs.
 */
export async function removeNodeLeftovers(node: {
  readonly network: string;
  readonly podLogsDir: string;
  readonly sandboxIds: readonly string[];
}): Promise<void> {
  const results = '/var/lib/cni/results';
  for (const f of safeList(results)) {
    const ours = f.startsWith(`${node.network}-`) || node.sandboxIds.some((id) => f.includes(`-${id}-`));
    if (ours) await rm(join(results, f), { force: true });
  }
  const podLogs = resolve(node.podLogsDir);
  for (const f of safeList('/var/log/containers')) {
    const path = join('/var/log/containers', f);
    try {
      const target = resolve('/var/log/containers', readlinkSync(path));
      if (target.startsWith(podLogs + sep)) await unlink(path);
    } catch {
      // not a link, or gone
    }
  }
}

/**
 * Once no kubelet or containerd runs on the machine any more: the paths they hard-code,
 * /var/lib/kubelet/device-plugins, containerd's shim sockets under /run/containerd, /run/runc.
 */
export async function removeMachineLeftovers(): Promise<void> {
  if (!programRunning('kubelet')) {
    for (const f of ['kubelet.sock', 'DEPRECATION'])
      await rm(join('/var/lib/kubelet/device-plugins', f), { force: true });
    await rmdirIfEmpty('/var/lib/kubelet/device-plugins');
    await rmdirIfEmpty('/var/lib/kubelet');
  }
  if (!programRunning('containerd')) {
    await rm('/run/containerd/s', { recursive: true, force: true });
    await rm('/run/containerd/runc', { recursive: true, force: true });
    await rmdirIfEmpty('/run/containerd');
    await rmdirIfEmpty('/run/runc');
  }
}

/** The value of net.ipv4.ip_forward ('0' or '1'). */
export function ipForward(): string {
  return readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
}

export async function setIpForward(value: string): Promise<void> {
  await writeFile('/proc/sys/net/ipv4/ip_forward', `${value}\n`);
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function rmdirIfEmpty(dir: string): Promise<void> {
  await rmdir(dir).catch(() => undefined);
}
