import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** What happened to the namespace helper named by a pid file. */
export type HelperOutcome =
  /** The pid file held no usable pid (missing, empty, garbage, or a pid we must never signal). */
  | 'no-pid'
  /** The pid is not running (the helper already exited). */
  | 'not-running'
  /** The pid runs but started after the pid file was written: a reused pid, not the helper. */
  | 'pid-reused'
  | 'terminated'
  | 'killed';

export interface StopHelperOptions {
  /** How long the helper gets to exit after SIGTERM before SIGKILL. */
  readonly termGraceMs?: number;
  /** How long to wait for the process to disappear after SIGKILL. */
  readonly killGraceMs?: number;
}

/**
 * Parses a pid file's content. The runtime writes the bare pid; anything after the first
 * non-digit (a `:port`, a start time) is ignored. Pids 0 and 1 and our own pid are refused:
 * `kill(0)` signals our whole process group, `kill(-1)` every process, 1 is init.
 */
function parseHelperPid(text: string): number | undefined {
  const match = /^\s*(\d+)/.exec(text);
  if (!match) return undefined;
  const pid = Number(match[1]);
  if (!Number.isSafeInteger(pid) || pid < 2 || pid === process.pid) return undefined;
  return pid;
}

/** True while `pid` exists and is not a zombie (a zombie has exited; only its parent's wait is missing). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone we may not signal; still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = await procStat(pid);
  return stat?.state !== 'Z';
}

/**
 * Stops the process named in `pidText` (the content of the helper pid file, written at
 * `writtenAtMs`): SIGTERM, then SIGKILL after the grace period.
 *
 * Pid reuse: a pid file can outlive its helper, and the pid can then belong to an unrelated
 * process. On Linux the process's start time is compared with the pid file's mtime: the helper
 * started before its pid file was written, so a process that started later is left alone.
 */
export async function stopHelper(
  pidText: string,
  writtenAtMs: number,
  opts: StopHelperOptions = {},
): Promise<{ pid?: number; outcome: HelperOutcome }> {
  const pid = parseHelperPid(pidText);
  if (pid === undefined) return { outcome: 'no-pid' };
  if (!(await isAlive(pid))) return { pid, outcome: 'not-running' };
  const startedAt = await processStartTimeMs(pid);
  // Slack for the coarse boot time (whole seconds) and clock adjustments since boot.
  if (startedAt !== undefined && startedAt > writtenAtMs + 5_000) return { pid, outcome: 'pid-reused' };
  if (!signal(pid, 'SIGTERM')) return { pid, outcome: 'not-running' };
  if (await waitGone(pid, opts.termGraceMs ?? 5_000)) return { pid, outcome: 'terminated' };
  if (!signal(pid, 'SIGKILL')) return { pid, outcome: 'terminated' };
  if (await waitGone(pid, opts.killGraceMs ?? 5_000)) return { pid, outcome: 'killed' };
  throw new Error(`namespace helper pid ${pid} is still running after SIGKILL`);
}

/** Sends a signal; false if the process is already gone. */
function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isAlive(pid))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}

async function procStat(pid: number): Promise<{ state: string; startTicks: number } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (start time in clock ticks since boot) is rest[19].
  const state = rest[0] ?? '';
  const startTicks = Number(rest[19]);
  return Number.isFinite(startTicks) ? { state, startTicks } : undefined;
}

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

async function processStartTimeMs(pid: number): Promise<number | undefined> {
  const stat = await procStat(pid);
  if (!stat) return undefined;
  let bootTimeS: number | undefined;
  try {
    const m = /^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'));
    bootTimeS = m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
  if (bootTimeS === undefined) return undefined;
  return bootTimeS * 1000 + (stat.startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
}
