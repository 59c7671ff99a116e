// Runs reaper-flow's apps as the Deployment/DaemonSet would: separate processes of the built apps
// whose only Kubernetes credential is a token of their own ServiceAccount. For test/deploy.int.test.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { builtAppArgs, REPO_ROOT } from '@reaper-flow/local-cluster';
import { parse as parseYaml, stringify } from 'yaml';
import { kubectl } from '../harness/index';

interface KubeconfigDoc {
  readonly 'current-context'?: string;
  readonly contexts?: readonly { name: string; context: { cluster: string } }[];
  readonly clusters?: readonly {
    name: string;
    cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string };
  }[];
}

/**
 * Writes a kubeconfig that authenticates as `serviceAccount` (a TokenRequest through
 * `kubectl create token`), with the server and CA of the admin kubeconfig and nothing else of it.
 * Returns the username the API server sees for it (`kubectl auth whoami`), as proof.
 */
export async function writeServiceAccountKubeconfig(opts: {
  readonly adminKubeconfigPath: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly path: string;
}): Promise<string> {
  const { namespace, serviceAccount } = opts;
  const token = await kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=1h']);
  if (token.code !== 0) throw new Error(`kubectl create token ${serviceAccount}: ${token.stderr}`);

  const admin = parseYaml(await readFile(opts.adminKubeconfigPath, 'utf8')) as KubeconfigDoc;
  const contextName = admin['current-context'];
  const clusterName = admin.contexts?.find((c) => c.name === contextName)?.context.cluster;
  const cluster = admin.clusters?.find((c) => c.name === clusterName)?.cluster;
  if (!cluster) throw new Error(`${opts.adminKubeconfigPath}: no cluster for context ${contextName}`);
  const caData =
    cluster['certificate-authority-data'] ??
    (cluster['certificate-authority']
      ? (await readFile(cluster['certificate-authority'])).toString('base64')
      : undefined);
  if (!caData) throw new Error(`${opts.adminKubeconfigPath}: cluster ${clusterName} has no CA`);

  const user = `${namespace}:${serviceAccount}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'cluster', cluster: { server: cluster.server, 'certificate-authority-data': caData } },
    ],
    users: [{ name: user, user: { token: token.stdout.trim() } }],
    contexts: [{ name: user, context: { cluster: 'cluster', user } }],
    'current-context': user,
  };
  await writeFile(opts.path, stringify(doc), { mode: 0o600 });

  const who = await kubectl([
    '--kubeconfig',
    opts.path,
    'auth',
    'whoami',
    '-o',
    'jsonpath={.status.userInfo.username}',
  ]);
  if (who.code !== 0) throw new Error(`kubectl auth whoami with ${opts.path}: ${who.stderr}`);
  return who.stdout.trim();
}

export type AppName = 'watcher' | 'scheduler' | 'node-agent';

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running app process with its captured output. */
export interface AppProcess {
  readonly app: AppName;
  readonly pid: number;
  /** Its stdout and stderr lines (the last MAX_LINES). */
  logs(): readonly string[];
  /** The port of /metrics, /livez, /readyz, once the app logged it. */
  opsPort(): number | undefined;
  /** Settles when the process ended, however. */
  readonly exit: Promise<Exit>;
  hasExited(): boolean;
  /** Peak resident memory in MiB (VmHWM), while it runs. */
  peakRssMiB(): Promise<number | undefined>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. Idempotent. */
  stop(graceMs?: number): Promise<Exit>;
}

const MAX_LINES = 5000;

/**
 * Starts `node --enable-source-maps dist/<app>/main.js` (the image's command) from the repository
 * root with exactly `env` (plus PATH and HOME): nothing of the test process's environment, so its
 * admin KUBECONFIG cannot leak in.
 */
export function startAppProcess(app: AppName, env: Readonly<Record<string, string>>): AppProcess {
  const child: ChildProcess = spawn(process.execPath, builtAppArgs(app), {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let port: number | undefined;
  const onLine = (line: string) => {
    if (lines.push(line) > MAX_LINES) lines.shift();
    if (port !== undefined || !line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; metricsPort?: unknown; port?: unknown };
      // watcher: "watcher started" {metricsPort}; scheduler: "scheduler running" {metricsPort};
      // node-agent: "ops server listening" {port}.
      if (typeof entry.metricsPort === 'number') port = entry.metricsPort;
      else if (entry.msg === 'ops server listening' && typeof entry.port === 'number') port = entry.port;
    } catch {
      // Not a log entry (e.g. a stack trace on stderr): kept as text only.
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) onLine(p);
    });
    stream?.on('end', () => {
      if (rest) onLine(rest);
    });
  }
  let exited = false;
  const exit = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      exited = true;
      lines.push(`spawn error: ${err.message}`);
      resolve({ code: null, signal: null });
    });
  });
  let stopping: Promise<Exit> | undefined;
  return {
    app,
    pid: child.pid ?? -1,
    logs: () => lines,
    opsPort: () => port,
    exit,
    hasExited: () => exited,
    async peakRssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
      return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
    },
    stop(graceMs = 15_000) {
      stopping ??= (async () => {
        if (exited) return exit;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const result = await exit;
        clearTimeout(timer);
        return result;
      })();
      return stopping;
    },
  };
}

/** GET /readyz on the app's ops port: true when it answers 200. */
export async function isReady(proc: AppProcess): Promise<boolean> {
  const port = proc.opsPort();
  if (port === undefined) return false;
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
  await res.text();
  return res.status === 200;
}

/**
 * `work`, unless one of `procs` exits first: then it rejects at once with that app's last output,
 * instead of letting a wait run into its timeout.
 */
export function whileRunning<T>(procs: readonly AppProcess[], work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    for (const p of procs) {
      void p.exit.then(({ code, signal }) => {
        if (settled) return;
        settled = true;
        const tail = p.logs().slice(-40).join('\n');
        reject(new Error(`${p.app} exited (code ${code}, signal ${signal}); last output:\n${tail}`));
      });
    }
    work.then(
      (value) => {
        settled = true;
        resolve(value);
      },
      (err: unknown) => {
        settled = true;
        reject(err);
      },
    );
  });
}
