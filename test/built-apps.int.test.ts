// The built apps (dist/<app>/main.js, what the images, the demo and the e2e tests run): each one's
// whole module graph loads from the bundle plus node_modules, and a stack trace names the
// TypeScript sources through the source map.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { builtAppArgs, REPO_ROOT } from '@reaper-flow/local-cluster';
import { beforeAll, describe, expect, it } from 'vitest';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], env: Readonly<Record<string, string>>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the built apps', () => {
  const missing = join(REPO_ROOT, 'no-such-dir', 'reaper-flow.yaml');
  const runs = new Map<string, Run>();

  // An unreadable config file stops every app in its first statement, after Node has linked every
  // static import of the bundle: a module missing from node_modules would fail before, differently.
  beforeAll(async () => {
    const apps = ['watcher', 'scheduler', 'node-agent', 'dashboard'] as const;
    const results = await Promise.all(
      apps.map((app) => run(process.execPath, builtAppArgs(app), { REAPER_FLOW_CONFIG: missing })),
    );
    for (const [i, app] of apps.entries()) runs.set(app, results[i] as Run);
  }, 60_000);

  it.each(['watcher', 'scheduler', 'node-agent', 'dashboard'])(
    '%s loads its whole module graph from the bundle',
    (app) => {
      const result = runs.get(app) as Run;
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
      expect(result.stderr).toContain(`cannot read ${missing}`);
    },
    10_000,
  );

  // The watcher and the scheduler let the bad configuration end the process uncaught, so Node
  // prints the stack (the node agent and the dashboard print the message alone).
  it.each(['watcher', 'scheduler'])(
    "%s's stack trace names the TypeScript files and lines",
    (app) => {
      const { stderr } = runs.get(app) as Run;
      expect(stderr).toMatch(/at loadConfig \(.*packages\/runtime\/src\/config\.ts:\d+:\d+\)/);
      expect(stderr).toMatch(new RegExp(`apps/${app}/src/main\\.ts:\\d+:\\d+`));
      expect(stderr).not.toContain('dist/');
    },
    10_000,
  );

  it('kubectl reaper runs the built plugin from bin/', async () => {
    const result = await run(join(REPO_ROOT, 'bin', 'kubectl-reaper'), ['--help'], {});
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('kubectl reaper get|tree');
  }, 30_000);
});
