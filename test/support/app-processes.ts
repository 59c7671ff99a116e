// reaper-flow's apps as separate processes, the way they run in production (the built bundle,
// `node --enable-source-maps dist/<app>/main.js`), so tests can kill them with real signals and start
// them again.
import { type ChildProcess, spawn } from 'node:child_process';
import { builtAppArgs, REPO_ROOT } from '@reaper-flow/local-cluster';
import { waitFor } from '../harness/index';

export type AppName = 'watcher' | 'scheduler' | 'node-agent';

export interface AppProcess {
  readonly app: AppName;
  /** A name for messages: `scheduler#2`, `node-agent/f-1`. */
  readonly label: string;
  readonly child: ChildProcess;
  /** Everything it printed (JSON log lines), for failure messages and log assertions. */
  readonly output: string[];
  readonly exited: Promise<void>;
}

/** Starts an app's built entry point with `env` over this process's environment. */
export function spawnApp(app: AppName, label: string, env: Readonly<Record<string, string>>): AppProcess {
  const child = spawn(process.execPath, builtAppArgs(app), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (c: string) => output.push(c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => output.push(c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { app, label, child, output, exited };
}

/** SIGKILLs an app and resolves once it is gone. */
export async function killApp(proc: AppProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}

/** Waits until the app printed a log line whose `msg` is `message` (pino JSON lines). */
export async function waitForLog(proc: AppProcess, message: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => logLines(proc).some((l) => l.msg === message), {
    description: `${proc.label} to log "${message}"`,
    timeoutMs,
  });
}

/** The app's JSON log lines (anything else it printed is left out). */
export function logLines(proc: AppProcess): { msg?: string; level?: number; [k: string]: unknown }[] {
  return proc.output
    .join('')
    .split('\n')
    .flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as { msg?: string }];
      } catch {
        return [];
      }
    });
}

/** The tail of every app's output, for a failure message. */
export function describeOutput(procs: readonly AppProcess[], lines = 15): string {
  return procs
    .map((p) => `--- ${p.label}:\n${p.output.join('').trimEnd().split('\n').slice(-lines).join('\n')}`)
    .join('\n');
}
