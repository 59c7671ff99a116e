import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireOverlayLock, type OverlayPaths, overlayPaths, StateDir } from '@reaper-flow/node-agent';
import { signalGroup } from '../control-plane/daemon';
import { livePidFromFileSync, writePidFile } from './pod-pids';

// ReaperOverlays inside Pods, as the Reaper runtime mounts them: one overlay filesystem per node,
// namespace and overlay name, with the host's root as the lower layer and `upper`/`work` in the
// node's Reaper state dir (the layout apps/node-agent keeps). The overlay is mounted once, inside a
// mount namespace of its own held by a helper process (`ns/<ns>--<name>.pid`); every Pod using the
// overlay enters that namespace and takes a private copy of it, so all of them see one overlay
// (one superblock: what one writes the next reads) while their /proc, /dev and volumes stay their
// own. The node agent's reset stops the helper and empties upper and work; the next Pod then
// mounts a fresh overlay.

const UNSHARE = '/usr/bin/unshare';
class OverlayMountError extends Error {
  override readonly name = 'OverlayMountError';
  readonly code = 'OverlayMountFailed';
}

export interface OverlayNamespace {
  /** The helper whose mount namespace has the overlay mounted at `mergedDir`. */
  readonly pid: number;
  /** Where the overlay is mounted inside that namespace: the Pod's root. */
  readonly mergedDir: string;
  /** The kubelet's record of the helper (pid and start time), by which it is stopped. */
  readonly record: string;
}

/**
 * The overlay's namespace helper on this node, started (and the overlay mounted) when none runs.
 * Holds the overlay's lock file meanwhile, so it never races the node agent's reset or delete.
 * `runDir` gets a pid record of the helper, so a crashed kubelet's successor and `down` stop it.
 */
export async function ensureOverlayNamespace(opts: {
  readonly reaperDir: string;
  readonly runDir: string;
  readonly namespace: string;
  readonly name: string;
}): Promise<OverlayNamespace> {
  const { namespace, name } = opts;
  // The node agent's own layout, label rules and lock: the runtime and the agent share one format.
  const dir = await StateDir.open(opts.reaperDir);
  const p = overlayPaths(dir.root, namespace, name);
  if (/[,:\\]/.test(dir.root)) {
    throw new OverlayMountError(
      `the state dir ${dir.root} has a character overlayfs options cannot carry (, : \\)`,
    );
  }
  await mkdir(join(dir.root, 'ns'), { recursive: true });
  const record = join(opts.runDir, `overlay-${namespace}--${name}.pid`);
  const lock = await acquireOverlayLock(dir, p.lockFile);
  try {
    const running = await liveHelper(p.helperPidFile, record);
    if (running !== undefined) return { pid: running, mergedDir: p.mergedDir, record };
    for (const d of [p.upperDir, p.workDir, p.mergedDir]) await mkdir(d, { recursive: true });
    const pid = await startHelper(p);
    // Ours: pid and start time, so a reused pid is never taken for the helper (or signalled).
    writePidFile(record, pid);
    // The node agent stops the helper by this file (a bare pid, written after the helper started).
    await writeFile(p.helperPidFile, `${pid}\n`);
    return { pid, mergedDir: p.mergedDir, record };
  } finally {
    await lock.release();
  }
}

/**
 * `unshare --mount` running a shell that mounts the overlay and then sleeps: the namespace lives as
 * long as the helper. Resolves with its pid once the overlay is mounted; rejects with the mount's
 * error (a kernel that refuses `lowerdir=/` with upper/work on the root filesystem says so here).
 */
async function startHelper(p: OverlayPaths): Promise<number> {
  const options = `lowerdir=/,upperdir=${p.upperDir},workdir=${p.workDir}`;
  const script = [
    `mount -t overlay reaper-overlay -o ${q(options)} ${q(p.mergedDir)} || exit 1`,
    'echo mounted',
    'exec sleep infinity',
  ].join('\n');
  const child = spawn(
    UNSHARE,
    ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'reaper-overlay'],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    stderr += c;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      if (c.includes('mounted')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(
        new OverlayMountError(`cannot mount the overlay at ${p.mergedDir} (exit ${code}): ${stderr.trim()}`),
      ),
    );
  });
  child.stdout.destroy();
  child.stderr.destroy();
  child.unref();
  if (!child.pid) throw new OverlayMountError('the overlay helper has no pid');
  return child.pid;
}

/**
 * The helper named by the runtime's pid file, if it still runs: the same pid must be in our own
 * record with its start time (the node agent removes the pid file and stops the helper on a reset).
 */
async function liveHelper(pidFile: string, record: string): Promise<number | undefined> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number(/^\s*(\d+)/.exec(text)?.[1]);
  return Number.isSafeInteger(pid) && pid > 1 && livePidFromFileSync(record) === pid ? pid : undefined;
}

/** Stops the helper of a record this kubelet wrote (its process group), unless it is gone. */
export function stopHelper(record: string): void {
  const pid = livePidFromFileSync(record);
  if (pid !== undefined) signalGroup(pid, 'SIGKILL');
}

function q(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
