import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A process the local cluster started: enough to find, check and stop it later from another process. */
export interface DaemonRecord {
  readonly name: string;
  readonly pid: number;
  /** A string its /proc/<pid>/cmdline must contain, so a recycled pid is never mistaken for it. */
  readonly match: string;
  readonly log: string;
  /** The command line it was started with, to start it again unchanged. */
  readonly argv?: string[];
}

export interface SpawnedDaemon {
  readonly record: DaemonRecord;
  readonly child: ChildProcess;
}

/**
 * Starts `command` in its own process group (so stopping it also stops anything it forks) with
 * stdout and stderr appended to `log`. With `detach` the parent may exit while it keeps running.
 */
export async function spawnDaemon(
  name: string,
  command: string,
  args: readonly string[],
  opts: { log: string; match?: string; env?: NodeJS.ProcessEnv; cwd?: string; detach: boolean },
): Promise<SpawnedDaemon> {
  await mkdir(dirname(opts.log), { recursive: true });
  const fd = openSync(opts.log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
  } finally {
    closeSync(fd);
  }
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`could not start ${name} (${command}): ${err.message}`)));
    child.once('spawn', () => resolve(child.pid ?? 0));
  });
  if (opts.detach) child.unref();
  return {
    record: { name, pid, match: opts.match ?? command, log: opts.log, argv: [command, ...args] },
    child,
  };
}

interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly pgrp: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0] ?? '?', pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** True when `pid` runs (not a zombie) and is the process recorded (its cmdline contains `match`). */
export function isAlive(record: Pick<DaemonRecord, 'pid' | 'match'>): boolean {
  const stat = readStat(record.pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  try {
    return readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').includes(record.match);
  } catch {
    return false;
  }
}

/**
 * Live members of process group `pgid`. Reads /proc rather than kill(-pgid, 0): when the spawner has
 * exited, killed daemons are re-parented to a PID 1 that may never reap them, and zombies still
 * answer signal 0.
 */
export function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readStat(pid);
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') pids.push(pid);
  }
  return pids;
}

/** Sends `signal` to a whole process group; a group that is already gone is fine. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Stops process groups: SIGTERM, then SIGKILL for whatever is still alive after `graceMs`, and returns
 * only once no member of any group is left (or throws naming the survivors).
 */
export async function stopGroups(pgids: readonly number[], graceMs = 5000): Promise<void> {
  const alive = () => pgids.filter((g) => groupMembers(g).length > 0);
  for (const g of alive()) signalGroup(g, 'SIGTERM');
  if (await pollUntil(() => alive().length === 0, graceMs)) return;
  for (const g of alive()) signalGroup(g, 'SIGKILL');
  if (await pollUntil(() => alive().length === 0, 5000)) return;
  throw new Error(
    `processes survived SIGKILL: ${alive()
      .map((g) => groupMembers(g).join(','))
      .join(' ')}`,
  );
}

/** Synchronous last resort for process exit handlers, which cannot await. */
export function killGroupsNow(pgids: readonly number[]): void {
  for (const g of pgids) signalGroup(g, 'SIGKILL');
}

async function pollUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** The last `lines` lines of a log file ('' when it does not exist). */
export async function tail(path: string, lines = 40): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
