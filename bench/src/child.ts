// Child processes of the bench: the built watcher and scheduler (`node --enable-source-maps
// dist/<app>/main.js`, what the images run) and the stand-in kubelet (a dev tool, through tsx);
// output to a log file, measured through /proc, stopped with SIGTERM then SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { type BuiltApp, builtAppArgs, REPO_ROOT } from '@reaper-flow/local-cluster';
import { type ProcSample, readProc } from './proc';

export interface ChildSpec {
  readonly name: string;
  /** What runs: a built app, or a TypeScript dev tool (entry relative to the repository root) under tsx. */
  readonly run: { readonly app: BuiltApp } | { readonly tsxEntry: string };
  readonly args?: readonly string[];
  /** Extra node flags (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
  /** The /metrics, /readyz port the child was told to use (METRICS_PORT). */
  readonly metricsPort?: number;
  /** Run as this user and group (the bench runs as root). */
  readonly uid?: number;
  readonly gid?: number;
}

/** Children still running: killed at once if the bench process exits without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class ChildApp {
  private exited: Promise<void>;
  /** Last reading taken while it ran (the final one is taken by stop() before the signal). */
  last: ProcSample | undefined;

  private constructor(
    readonly spec: ChildSpec,
    readonly child: ChildProcess,
  ) {
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        resolve();
      });
    });
  }

  static async start(spec: ChildSpec): Promise<ChildApp> {
    const fd = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [
          ...('app' in spec.run
            ? builtAppArgs(spec.run.app, spec.nodeFlags)
            : [...(spec.nodeFlags ?? []), '--import', 'tsx', spec.run.tsxEntry]),
          ...(spec.args ?? []),
        ],
        {
          cwd: REPO_ROOT,
          env: spec.env,
          stdio: ['ignore', fd, fd],
          ...(spec.uid === undefined ? {} : { uid: spec.uid }),
          ...(spec.gid === undefined ? {} : { gid: spec.gid }),
        },
      );
    } finally {
      closeSync(fd);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve());
    });
    return new ChildApp(spec, child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Reads /proc now (and remembers it). */
  sample(): ProcSample | undefined {
    const s = readProc(this.pid);
    if (s) this.last = s;
    return s ?? this.last;
  }

  /** GET a path of the child's ops server (/metrics, /readyz). */
  async http(path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
    const port = this.spec.metricsPort;
    if (!port) throw new Error(`${this.spec.name} has no metrics port`);
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path} of ${this.spec.name} timed out`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Waits until /readyz answers 200 (or `check` is true), failing early if the child dies. */
  async waitReady(timeoutMs: number, check?: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      if (!this.running) {
        throw new Error(`${this.spec.name} exited (code ${this.child.exitCode}); see ${this.spec.logFile}`);
      }
      try {
        if (check) {
          if (await check()) return;
        } else {
          const res = await this.http('/readyz', 2000);
          if (res.status === 200) return;
          last = res.body.trim();
        }
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.spec.name} not ready after ${timeoutMs} ms (${last}); see ${this.spec.logFile}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Takes a last /proc reading first. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.sample();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** For a signal handler: SIGKILL now. */
  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
