// Per-process resource readings from /proc (Linux): peak and current RSS, CPU seconds.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One reading of a process. */
export interface ProcSample {
  readonly pid: number;
  /** Peak resident set size so far (VmHWM), bytes. */
  readonly peakRssBytes: number;
  /** Current resident set size (VmRSS), bytes. */
  readonly rssBytes: number;
  /** User + system CPU time so far, seconds. */
  readonly cpuSeconds: number;
  /** CPU time of its children that exited and were waited for (cutime + cstime), seconds. */
  readonly childCpuSeconds: number;
}

let clockTicks: number | undefined;

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(out.stdout?.trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** Reads a process's memory and CPU counters; undefined when it is gone. */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) * 1024 : 0;
    };
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    // Field 14 (utime) and 15 (stime) are the 12th and 13th after the name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    const childTicks = Number(fields[13] ?? 0) + Number(fields[14] ?? 0);
    return {
      pid,
      peakRssBytes: kb('VmHWM'),
      rssBytes: kb('VmRSS'),
      cpuSeconds: ticks / ticksPerSecond(),
      childCpuSeconds: childTicks / ticksPerSecond(),
    };
  } catch {
    return undefined;
  }
}

export const MiB = 1024 * 1024;
