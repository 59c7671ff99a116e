// The demo's hold on its state dir and its local cluster, and the small tools it uses on them.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type LocalCluster, startLocalCluster } from '../cluster';
import { type DaemonRecord, isAlive, stopGroups } from '../control-plane/daemon';
import { stopLocalCluster } from '../control-plane/teardown';
import { stderrLogger } from '../log';
import { readState } from '../state';
import type { RunningApp } from './demo-apps';
import { say, seconds } from './demo-terminal';

/** `<demo dir>/demo.json`: which process runs the demo and its apps, to clean up after a kill. */
interface DemoRecord {
  readonly pid: number;
  readonly apps: readonly DaemonRecord[];
}

const recordPath = (dir: string) => join(dir, 'demo.json');

/**
 * Refuses to run beside a live demo; cleans up after one that was killed without stopping (its
 * apps, then its cluster), then records this process as the demo of `dir`.
 */
export async function claimDemoDir(dir: string): Promise<void> {
  const previous = await readFile(recordPath(dir), 'utf8')
    .then((t) => JSON.parse(t) as DemoRecord)
    .catch(() => undefined);
  if (previous && previous.pid !== process.pid && isAlive({ pid: previous.pid, match: 'demo.ts' })) {
    throw new Error(`another demo is running (pid ${previous.pid}): stop it with Ctrl-C first`);
  }
  const stale = previous?.apps.filter(isAlive) ?? [];
  if (stale.length > 0) {
    say(`stopping ${stale.length} app process(es) left by a demo that did not stop`);
    await stopGroups(stale.map((a) => a.pid));
  }
  const state = await readState(dir).catch(() => undefined);
  if (state?.processes.some(isAlive)) {
    say('stopping the local cluster left by a demo that did not stop');
    await stopLocalCluster(dir, stderrLogger('cluster'));
  }
  await mkdir(dir, { recursive: true });
  await recordApps(dir, []);
}

/** Records the demo's apps (written before they can outlive a killed demo). */
export function recordApps(dir: string, apps: readonly RunningApp[]): Promise<void> {
  const record: DemoRecord = { pid: process.pid, apps: apps.map((a) => a.daemon.record) };
  return writeFile(recordPath(dir), `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Starts the local cluster attached to this process, saying every `heartbeatMs` that it still
 * works (a first run builds the control plane from Go modules for minutes).
 *
 * The attached cluster kills its daemons at once on SIGINT/SIGTERM/SIGHUP. The demo must stop its
 * apps first (they still talk to the API server while stopping), so it takes those handlers over
 * once the cluster is up; the cluster's 'exit' hook stays as the last resort.
 */
export async function startDemoCluster(dir: string, heartbeatMs: number): Promise<LocalCluster> {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const started = Date.now();
  const beat = setInterval(() => {
    say(
      `still starting the local cluster (${seconds(Date.now() - started)}); a first run builds the ` +
        'control-plane binaries from Go modules (5-30 min, see the [build] lines)',
    );
  }, heartbeatMs);
  try {
    const cluster = await startLocalCluster({
      stateDir: dir,
      nodes: 0,
      withKubelet: true,
      detach: false,
      log: stderrLogger('cluster'),
    });
    for (const s of signals) {
      for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.off(s, l);
    }
    return cluster;
  } finally {
    clearInterval(beat);
  }
}

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Whether a reaper-flow dashboard answers on `port` (the scheduler serves it once wired to). Asked
 * for a few seconds: the scheduler may open it just after it reports ready.
 */
export async function dashboardAnswers(port: number): Promise<boolean> {
  for (let i = 0; i < 6; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      const challenge = res.headers.get('www-authenticate') ?? '';
      if (res.status === 401 && challenge.includes('reaper-flow dashboard')) return true;
    } catch {
      // not listening (yet)
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/** Runs the bundled kubectl against the demo cluster; stdout and stderr together. */
export function kubectl(
  cluster: Pick<LocalCluster, 'binDir' | 'kubeconfigPath'>,
  args: readonly string[],
  input = '',
): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(cluster.binDir, 'kubectl'), args, {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    const collect = (c: string) => {
      out += c;
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, out }));
    child.stdin.end(input);
  });
}
