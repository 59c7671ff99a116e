// The reaper-flow apps of `npm run demo`, run as child processes from their built entry points
// (`node --enable-source-maps dist/<app>/main.js`, as in the images), each in its own process group
// with its log in a file.
import { join } from 'node:path';
import { type BuiltApp, builtAppArgs, builtAppEntry } from '../apps';
import {
  groupMembers,
  isAlive,
  killGroupsNow,
  type SpawnedDaemon,
  spawnDaemon,
  stopGroups,
  tail,
} from '../control-plane/daemon';
import { REPO_ROOT } from '../paths';
import { seconds } from './demo-terminal';

export interface AppSpec {
  /** Display and log name: watcher, scheduler, dashboard, node-agent-node-1... */
  readonly name: string;
  /** The app whose build output runs. */
  readonly app: BuiltApp;
  readonly env: Readonly<Record<string, string>>;
  /** Port of the app's /metrics, /livez, /readyz. */
  readonly metricsPort: number;
}

export interface RunningApp {
  readonly spec: AppSpec;
  readonly daemon: SpawnedDaemon;
  readonly log: string;
  /** The exit code once the process ended by itself (undefined while it runs). */
  exited(): number | null | undefined;
  /** Set once the demo said that the app exited. */
  reported: boolean;
}

/**
 * Variables that would make an app talk to something other than the demo cluster (the user's shell
 * may export them for another one): removed before the demo's own values are set.
 */
const INHERITED_CONFIG =
  /^(REAPER_FLOW_|REDIS_|KUBECONFIG$|NODE_NAME$|REAPER_STATE_DIR$|LOG_LEVEL$|METRICS_PORT$|DASHBOARD_)/;

/** Starts one built app in its own process group, output appended to `log`. */
export async function startApp(spec: AppSpec, logsDir: string): Promise<RunningApp> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!INHERITED_CONFIG.test(k)) env[k] = v;
  Object.assign(env, spec.env);
  const log = join(logsDir, `${spec.name}.log`);
  const daemon = await spawnDaemon(spec.name, process.execPath, builtAppArgs(spec.app), {
    log,
    match: builtAppEntry(spec.app),
    env,
    cwd: REPO_ROOT,
    detach: false,
  });
  let code: number | null | undefined;
  daemon.child.once('exit', (c, signal) => {
    code = c ?? (signal ? null : 0);
  });
  return { spec, daemon, log, exited: () => code, reported: false };
}

/** GET /readyz of an app: true when it answers 200, else the reason it gives (or the error). */
async function readyz(port: number): Promise<true | string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.text()).trim();
    return res.ok ? true : body || `HTTP ${res.status}`;
  } catch (err) {
    return (err as Error).cause ? 'not listening yet' : (err as Error).message;
  }
}

/**
 * Waits until every app answers /readyz with 200, saying every `heartbeatMs` which ones it still
 * waits for and why. Fails at once, with the tail of its log, when an app exits.
 */
export async function waitAppsReady(
  apps: readonly RunningApp[],
  opts: { timeoutMs: number; heartbeatMs: number; say: (line: string) => void },
): Promise<void> {
  const started = Date.now();
  let lastBeat = started;
  const pending = new Set(apps);
  const reasons = new Map<RunningApp, string>();
  while (pending.size > 0) {
    for (const app of [...pending]) {
      const code = app.exited();
      if (code !== undefined) {
        throw new Error(
          `${app.spec.name} exited (code ${code}) before it was ready; the end of ${app.log}:\n${await tail(app.log, 25)}`,
        );
      }
      const state = await readyz(app.spec.metricsPort);
      if (state === true) {
        pending.delete(app);
        opts.say(`${app.spec.name} ready (${seconds(Date.now() - started)})`);
      } else {
        reasons.set(app, state);
      }
    }
    if (pending.size === 0) break;
    if (Date.now() - started > opts.timeoutMs) {
      const waiting = [...pending].map((a) => `${a.spec.name} (${reasons.get(a) ?? '?'}; log ${a.log})`);
      throw new Error(`not ready after ${seconds(opts.timeoutMs)}: ${waiting.join(', ')}`);
    }
    if (Date.now() - lastBeat >= opts.heartbeatMs) {
      lastBeat = Date.now();
      const waiting = [...pending].map((a) => `${a.spec.name}: ${reasons.get(a) ?? 'starting'}`);
      opts.say(`waiting for ${waiting.join('; ')} (${seconds(Date.now() - started)})`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Stops apps with SIGTERM to their process groups (each app bounds its own shutdown at 10 s), then
 * SIGKILL for anything left after `graceMs`; resolves once no process of theirs is left.
 */
export async function stopApps(apps: readonly RunningApp[], graceMs = 12_000): Promise<void> {
  await stopGroups(
    apps.map((a) => a.daemon.record.pid),
    graceMs,
  );
}

/** Synchronous last resort (process 'exit' handlers cannot await). */
export function killAppsNow(apps: readonly RunningApp[]): void {
  killGroupsNow(apps.filter((a) => isAlive(a.daemon.record)).map((a) => a.daemon.record.pid));
}

/** Processes of these apps still alive (for the final "nothing left behind" check). */
export function leftoverPids(apps: readonly RunningApp[]): number[] {
  return apps.flatMap((a) => groupMembers(a.daemon.record.pid));
}
