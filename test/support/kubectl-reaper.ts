// `kubectl reaper` run as an operator runs it: the executable spawned as a child process with
// KUBECONFIG and whatever else the caller puts in its environment.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PLUGIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kubectl-reaper');

export interface PluginResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running plugin (e.g. `logs -f`): what it printed so far, and its end. */
export interface RunningPlugin {
  readonly child: ChildProcess;
  stdout(): string;
  readonly done: Promise<PluginResult>;
}

/** Starts the plugin with `env` over this process's environment (colour off); SIGKILLed at `timeoutMs`. */
export function startPlugin(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs = 45_000,
): RunningPlugin {
  const child = spawn(PLUGIN, [...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<PluginResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, done };
}

/** Runs the plugin to its end. */
export function runPlugin(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs = 45_000,
): Promise<PluginResult> {
  return startPlugin(args, env, timeoutMs).done;
}

/** What `kubectl reaper history -o json` prints (the fields the tests read). */
export interface HistoryJson {
  nodes: {
    node: string;
    runs: {
      runId: string;
      reason: string;
      outcome: string;
      attempts: { attempt: number; exitCode?: number; outcome: string; reaperPodName?: string }[];
    }[];
  }[];
}
