// `npm run demo` stops everything on Ctrl-C, even on a loaded machine: the demo runs as a user runs
// it (npm, its own process group), gets SIGINT from "the terminal" (the whole group, three presses)
// while four busy loops load the two cores, and must leave no process and no port behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, readState } from '@reaper-flow/local-cluster';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './harness/index';

/** Whether a process with this pid exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('npm run demo', () => {
  const children: ChildProcess[] = [];
  /** Every process of the demo and its cluster: killed after a failure, so none outlives the test. */
  const pids: number[] = [];
  let dir: string | undefined;
  afterAll(async () => {
    for (const pid of pids.filter(running)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    for (const c of children) {
      if (c.pid && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          // its group is gone already
        }
      }
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Ctrl-C under load stops the apps and the whole cluster: no process, no port left', {
    timeout: 420_000,
  }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'reaper-flow-demo-test-'));
    const env: NodeJS.ProcessEnv = { ...process.env, REAPER_FLOW_DEMO_DIR: dir };
    for (const k of ['KUBECONFIG', 'REDIS_URL']) delete env[k];
    const demo = spawn('npm', ['run', '-s', 'demo', '--', '--quiet'], {
      cwd: REPO_ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(demo);
    let out = '';
    const collect = (c: Buffer) => {
      out += c.toString();
    };
    demo.stdout?.on('data', collect);
    demo.stderr?.on('data', collect);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      demo.once('exit', (code, signal) => resolve({ code, signal })),
    );

    await waitFor(() => out.includes("the examples' progress") || demo.exitCode !== null, {
      description: 'the demo up and showing progress',
      timeoutMs: 300_000,
      intervalMs: 500,
    });
    expect(demo.exitCode, out).toBeNull();
    const state = await readState(dir);
    const record = JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8')) as {
      pid: number;
      apps: { pid: number }[];
    };
    expect(state?.processes.map((p) => p.name).sort()).toEqual(
      ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'redis'].sort(),
    );
    pids.push(record.pid, ...record.apps.map((a) => a.pid), ...(state?.processes ?? []).map((p) => p.pid));
    const ports = Object.values(state?.ports ?? {}).filter((p): p is number => typeof p === 'number');
    expect(pids.every(running)).toBe(true);

    // Load on both cores while the demo stops, and Ctrl-C pressed three times (as an impatient user
    // does): every press reaches the whole foreground process group, npm relays it once more.
    const load = [0, 1, 2, 3].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    children.push(...load);
    const ctrlC = () => {
      try {
        process.kill(-(demo.pid as number), 'SIGINT');
      } catch {
        // the group is gone: everything already exited
      }
    };
    try {
      ctrlC();
      await waitFor(() => out.includes('SIGINT received'), {
        description: 'the demo stopping',
        timeoutMs: 30_000,
      });
      for (const _ of [1, 2]) {
        await new Promise((r) => setTimeout(r, 1000));
        ctrlC();
      }
      const exit = await exited;
      await waitFor(() => !running(record.pid), { description: 'the demo process gone', timeoutMs: 120_000 });
      // npm ends by the SIGINT it got (as in a terminal) once the demo, which exits 0, is done.
      expect(exit.code === 0 || exit.signal === 'SIGINT', `${JSON.stringify(exit)}\n${out}`).toBe(true);
    } finally {
      for (const l of load) l.kill('SIGKILL');
    }
    expect(out).toContain('everything stopped, no process left behind');
    expect(pids.filter(running)).toEqual([]);
    for (const port of ports) expect(await portFree(port), `port ${port}`).toBe(true);
    expect(existsSync(join(dir, 'demo.json'))).toBe(false);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
  });
});
