// `kubectl reaper` run as an operator runs it: the executable spawned with KUBECONFIG against the
// shared test cluster, the apps in-process, the dashboard (the history server) started beside them.
// Asserts what each subcommand prints, and that history reports the attempts the ReaperPods had.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Dashboard, startDashboard } from '@reaper-flow/dashboard';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, nodeLayout, removeNode } from '@reaper-flow/local-cluster';
import { createRedis } from '@reaper-flow/queue';
import { createLogger } from '@reaper-flow/runtime';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestNamespace, waitFor } from './harness/index';
import { type RunningApps, startApps } from './support/apps';
import { type HistoryJson, runPlugin, startPlugin } from './support/kubectl-reaper';
import { ReaperPodTimeline } from './support/reaper-pod-timeline';

const suite = randomBytes(3).toString('hex');
const GROUP_LABEL = 'reaper.io/test-group';
const nodes = [`kr-${suite}-a`, `kr-${suite}-b`];

describe('kubectl reaper', () => {
  const t = useTestNamespace('kubectl-reaper');
  const password = randomBytes(12).toString('hex');
  let apps: RunningApps;
  let client: KubeClient;
  let redis: Redis;
  let dashboard: Dashboard;
  let timeline: ReaperPodTimeline;

  const startHistoryServer = () =>
    startDashboard({
      config: { ...apps.config, dashboard: { ...apps.config.dashboard, port: 0, password, enabled: true } },
      redis,
      logger: createLogger('dashboard', 'warn'),
    });

  const pluginEnv = () => ({
    KUBECONFIG: testEnv().kubeconfigPath,
    REAPER_HISTORY_URL: dashboard.url,
    REAPER_DASHBOARD_PASSWORD: password,
  });
  /** Runs the plugin like a user (a child process with KUBECONFIG and the history URL the demo prints). */
  const reaper = (args: readonly string[], timeoutMs = 45_000) => runPlugin(args, pluginEnv(), timeoutMs);
  const ns = () => ['-n', t.namespace];

  const apply = (name: string, spec: Record<string, unknown>) =>
    client.create(
      Resources.reaperDaemonJobs,
      { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperDaemonJob', metadata: { name }, spec },
      { namespace: t.namespace },
    );
  const selector = { [GROUP_LABEL]: suite };

  beforeAll(async () => {
    const env = testEnv();
    client = t.client;
    for (const name of nodes) await addNode(client, { name, labels: { [GROUP_LABEL]: suite } });
    timeline = await new ReaperPodTimeline(client, t.namespace).start();
    apps = await startApps({
      kubeconfigPath: env.kubeconfigPath,
      redisUrl: env.redisUrl,
      prefix: t.queuePrefix,
      nodes,
      env: {
        REAPER_FLOW__RETRY__BASE_MS: '200',
        REAPER_FLOW__RETRY__CAP_MS: '500',
        REAPER_FLOW__STATUS__COALESCE_MS: '200',
      },
    });
    redis = createRedis({ url: env.redisUrl }, 'worker');
    dashboard = await startHistoryServer();
    // base on every node; flaky after it fails twice per node (retryLimit 1): PartiallyFailed.
    await apply('base', {
      command: ['/bin/sh', '-c', 'echo line one; echo line two'],
      nodeSelector: selector,
    });
    await apply('flaky', {
      command: ['/bin/sh', '-c', 'echo about to fail; exit 3'],
      nodeSelector: selector,
      after: ['base'],
      retryLimit: 1,
    });
  }, 120_000);

  afterAll(async () => {
    await dashboard?.stop();
    await timeline?.stop();
    await apps?.stop();
    for (const name of nodes) await removeNode(client, name);
    redis?.disconnect();
  }, 60_000);

  it('wait exits 0 on Completed and 1 on PartiallyFailed', { timeout: 60_000 }, async () => {
    const base = await reaper(['wait', 'rdjob/base', ...ns(), '--timeout', '40s']);
    expect(base.stdout).toBe('reaperdaemonjob.reaper.io/base Completed: 2/2 nodes succeeded\n');
    expect(base.code).toBe(0);
    const flaky = await reaper(['wait', 'rdjob/flaky', ...ns(), '--timeout', '40s']);
    expect(flaky.stdout).toBe('reaperdaemonjob.reaper.io/flaky PartiallyFailed: 2/2 nodes failed\n');
    expect(flaky.code).toBe(1);
  });

  it('tree draws the after DAG with phases and, with --nodes, every node; -o json for scripts', {
    timeout: 60_000,
  }, async () => {
    const tree = await reaper(['tree', ...ns()]);
    expect(tree.code).toBe(0);
    expect(tree.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim())).toEqual([
      'NAME PHASE READY FAILED WAITING FOR',
      'base Completed 2/2 0',
      `└─ flaky PartiallyFailed 0/2 2`,
      '',
    ]);
    const withNodes = await reaper(['get', 'rdjob/flaky', '--nodes', ...ns()]);
    expect(withNodes.code).toBe(0);
    for (const node of nodes) {
      expect(withNodes.stdout).toMatch(new RegExp(`${node}\\s+Failed\\s+attempts=2 exit=3`));
    }
    const json = await reaper(['get', '-o', 'json', ...ns()]);
    const parsed = JSON.parse(json.stdout) as {
      items: {
        name: string;
        phase: string;
        ready: number;
        total: number;
        after: string[];
        nodes: { node: string; attempts: number; exitCode?: number }[];
      }[];
    };
    expect(parsed.items.map((j) => [j.name, j.phase, j.ready, j.total, j.after])).toEqual([
      ['base', 'Completed', 2, 2, []],
      ['flaky', 'PartiallyFailed', 0, 2, ['base']],
    ]);
    expect(parsed.items[1]?.nodes.map((n) => [n.node, n.attempts, n.exitCode]).sort()).toEqual(
      nodes.map((n) => [n, 2, 3]),
    );
  });

  it('logs prefixes every line with its node; --failed and --node narrow it; rpod/NAME too', {
    timeout: 60_000,
  }, async () => {
    const all = await reaper(['logs', 'rdjob/base', ...ns()]);
    expect(all.code).toBe(0);
    expect(all.stdout.split('\n').filter(Boolean).sort()).toEqual(
      nodes.flatMap((n) => [`[${n}] line one`, `[${n}] line two`]).sort(),
    );
    const one = await reaper(['logs', 'rdjob/flaky', '--failed', '--node', nodes[1] as string, ...ns()]);
    expect(one.stdout).toBe(`[${nodes[1]}] about to fail\n`);
    const rpod = timeline.of('base', nodes[0])[0]?.name as string;
    const single = await reaper(['logs', `rpod/${rpod}`, ...ns()]);
    expect(single.stdout).toBe(`[${nodes[0]}] line one\n[${nodes[0]}] line two\n`);
  });

  it('logs -f prints the lines written after it started, prefixed by node, and ends when the job finishes', {
    timeout: 60_000,
  }, async () => {
    // Each node's command prints, then waits for a file the test writes into its hostPath volume
    // (the stand-in kubelet keeps hostPath volumes under the node's dir), then prints again.
    const hostPath = `/kr-signal-${suite}`;
    await apply('follow', {
      command: [
        '/bin/sh',
        '-c',
        'echo waiting; while [ ! -e /signal/go ]; do sleep 0.1; done; echo released',
      ],
      nodeSelector: selector,
      volumes: [{ name: 'signal', mountPath: '/signal', hostPath }],
    });
    await waitFor(() => nodes.every((n) => timeline.of('follow', n)[0]?.phase === 'Running'), {
      description: 'follow Running on both nodes',
      timeoutMs: 40_000,
    });
    await waitFor(
      async () => {
        const job = await client.get<{ status?: { nodeStatuses?: { reaperPodName?: string }[] } }>(
          Resources.reaperDaemonJobs,
          'follow',
          { namespace: t.namespace },
        );
        return job?.status?.nodeStatuses?.filter((n) => n.reaperPodName).length === nodes.length;
      },
      { description: "follow's status naming both nodes' ReaperPods" },
    );
    const following = startPlugin(['logs', 'rdjob/follow', '-f', ...ns()], pluginEnv(), 50_000);
    await waitFor(() => nodes.every((n) => following.stdout().includes(`[${n}] waiting\n`)), {
      description: 'logs -f to show what both nodes printed so far',
    });
    expect(following.child.exitCode).toBeNull();
    expect(following.stdout()).not.toContain('released');
    const kubeletStateDir = testEnv().kubeletStateDir;
    expect(kubeletStateDir, 'the stand-in kubelet state dir').not.toBe('');
    for (const node of nodes) {
      await writeFile(join(nodeLayout(kubeletStateDir, node).hostDir, hostPath.slice(1), 'go'), '');
    }
    const done = await following.done;
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(done.stdout.split('\n').filter(Boolean).sort()).toEqual(
      nodes.flatMap((n) => [`[${n}] released`, `[${n}] waiting`]).sort(),
    );
    // It ended because the Pods did: the job finishes on both nodes.
    expect((await reaper(['wait', 'rdjob/follow', ...ns(), '--timeout', '30s'])).code).toBe(0);
  });

  it('history has the attempts the ReaperPods had, also from a restarted history server', {
    timeout: 45_000,
  }, async () => {
    const attemptsSeen = (job: string, node: string) =>
      timeline
        .of(job, node)
        .map((r) => `${r.runId}#${r.attempt}`)
        .sort();
    const fromHistory = (h: HistoryJson, node: string) =>
      (h.nodes.find((n) => n.node === node)?.runs ?? [])
        .flatMap((r) => r.attempts.map((a) => `${r.runId}#${a.attempt}`))
        .sort();
    const json = await reaper(['history', 'rdjob/flaky', '-o', 'json', ...ns()]);
    expect(json.code).toBe(0);
    const history = JSON.parse(json.stdout) as HistoryJson;
    for (const node of nodes) {
      expect(attemptsSeen('flaky', node)).toHaveLength(2);
      expect(fromHistory(history, node)).toEqual(attemptsSeen('flaky', node));
      const [run] = history.nodes.find((n) => n.node === node)?.runs ?? [];
      expect(run).toMatchObject({ reason: 'Created', outcome: 'Failed' });
      expect(run?.attempts.map((a) => [a.attempt, a.exitCode, a.outcome])).toEqual([
        [1, 3, 'Failed'],
        [2, 3, 'Failed'],
      ]);
    }
    const table = await reaper(['history', 'rdjob/flaky', '--node', nodes[0] as string, ...ns()]);
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]?.split(/\s{2,}/)).toEqual([
      'NODE',
      'RUN',
      'TRIGGER',
      'ATTEMPT',
      'STARTED',
      'ENDED',
      'EXIT',
      'OUTCOME',
    ]);
    expect(rows.slice(1).map((r) => r.split(/\s{2,}/).filter((_, i) => [0, 2, 3, 6].includes(i)))).toEqual([
      [nodes[0], 'Created', '1', '3'],
      [nodes[0], 'Created', '2', '3'],
    ]);
    // The history lives in Redis, not in the server: a new server process answers the same.
    await dashboard.stop();
    dashboard = await startHistoryServer();
    const again = JSON.parse(
      (await reaper(['history', 'rdjob/flaky', '-o', 'json', ...ns()])).stdout,
    ) as HistoryJson;
    expect(again).toEqual(history);
  });

  it('trigger starts a Manual run on every node, which history records', { timeout: 60_000 }, async () => {
    const before = timeline.of('base').length;
    const out = await reaper(['trigger', 'rdjob/base', ...ns()]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^reaperdaemonjob\.reaper\.io\/base triggered \(reaper\.io\/trigger=\S+\)\n$/);
    await waitFor(() => timeline.of('base').filter((r) => r.phase === 'Succeeded').length >= before + 2, {
      description: 'the manual run of base Succeeded on both nodes',
      timeoutMs: 40_000,
    });
    expect((await reaper(['wait', 'rdjob/base', ...ns(), '--timeout', '30s'])).code).toBe(0);
    const history = JSON.parse(
      (await reaper(['history', 'rdjob/base', '-o', 'json', ...ns()])).stdout,
    ) as HistoryJson;
    for (const node of nodes) {
      expect(history.nodes.find((n) => n.node === node)?.runs.map((r) => [r.reason, r.outcome])).toEqual([
        ['Created', 'Succeeded'],
        ['Manual', 'Succeeded'],
      ]);
    }
  });

  it('reset bumps resetGeneration and waits until the overlay is Ready again', {
    timeout: 60_000,
  }, async () => {
    await client.create(
      Resources.reaperOverlays,
      { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperOverlay', metadata: { name: 'tools' }, spec: {} },
      { namespace: t.namespace },
    );
    // An overlay is set up on the nodes where workloads use it: one ReaperPod per node.
    for (const node of nodes) {
      await client.create(
        Resources.reaperPods,
        {
          apiVersion: 'reaper.io/v1alpha1',
          kind: 'ReaperPod',
          metadata: { name: `use-tools-${node}` },
          spec: { command: ['/bin/true'], nodeName: node, overlayName: 'tools' },
        },
        { namespace: t.namespace },
      );
    }
    await waitFor(
      async () => {
        const o = await client.get<{ status?: { phase?: string; nodes?: unknown[] } }>(
          Resources.reaperOverlays,
          'tools',
          { namespace: t.namespace },
        );
        const names = (o?.status?.nodes ?? []).map((n) => (n as { nodeName: string }).nodeName);
        return o?.status?.phase === 'Ready' && nodes.every((n) => names.includes(n));
      },
      { description: 'overlay tools Ready on both nodes', timeoutMs: 40_000 },
    );
    const out = await reaper(['reset', 'rovl/tools', ...ns(), '--timeout', '40s']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toBe('reaperoverlay.reaper.io/tools resetGeneration=1');
    expect(lines.at(-1)).toBe('reaperoverlay.reaper.io/tools Ready at resetGeneration 1');
    for (const node of nodes)
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\[${node}\\] reset, ready`)));
  });

  it('wait gives up with exit 2 at its timeout; usage mistakes exit 2', { timeout: 60_000 }, async () => {
    await apply('stuck', { command: ['/bin/true'], nodeSelector: selector, after: ['no-such-job'] });
    const out = await reaper(['wait', 'rdjob/stuck', ...ns(), '--timeout', '2s']);
    expect(out.code).toBe(2);
    expect(out.stdout).toMatch(
      /^timed out waiting for reaperdaemonjob\.reaper\.io\/stuck \(phase Pending\)\n$/,
    );
    const tree = await reaper(['tree', 'rdjob/stuck', ...ns()]);
    expect(tree.stdout).toMatch(/stuck\s+Pending\s+0\/\d\s+0\s+dependency not found: no-such-job/);
    const retry = await reaper(['retry', 'rdjob/flaky', ...ns()]);
    expect(retry.code).toBe(2);
    expect(retry.stderr).toContain('pass --failed');
  });

  it('retry --failed re-runs only the failed nodes with fresh retries; suspend shows in the tree until resume', {
    timeout: 90_000,
  }, async () => {
    const before = new Set(timeline.of('flaky').map((r) => r.uid));
    const retry = await reaper(['retry', 'rdjob/flaky', '--failed', ...ns()]);
    expect(retry.code).toBe(0);
    const value = /reaper\.io\/retry-failed=(\S+)\)/.exec(retry.stdout)?.[1];
    const job = await client.get<{ metadata: { annotations?: Record<string, string> } }>(
      Resources.reaperDaemonJobs,
      'flaky',
      { namespace: t.namespace },
    );
    expect(job?.metadata.annotations?.['reaper.io/retry-failed']).toBe(value);
    // wait does not take the previous PartiallyFailed for the retry's result.
    const waited = await reaper(['wait', 'rdjob/flaky', ...ns(), '--timeout', '60s'], 75_000);
    expect([waited.code, waited.stdout]).toEqual([
      1,
      'reaperdaemonjob.reaper.io/flaky PartiallyFailed: 2/2 nodes failed\n',
    ]);
    const history = JSON.parse(
      (await reaper(['history', 'rdjob/flaky', '-o', 'json', ...ns()])).stdout,
    ) as HistoryJson;
    for (const node of nodes) {
      const fresh = timeline.of('flaky', node).filter((r) => !before.has(r.uid));
      const retried =
        history.nodes.find((n) => n.node === node)?.runs.filter((r) => r.reason === 'RetryFailed') ?? [];
      expect(retried).toHaveLength(1);
      // Fresh retry counts: the first attempt and its one retry again, each a ReaperPod seen.
      expect(retried[0]?.attempts.map((a) => [a.attempt, a.exitCode])).toEqual([
        [1, 3],
        [2, 3],
      ]);
      expect(fresh.map((r) => `${r.runId}#${r.attempt}`).sort()).toEqual([
        `${retried[0]?.runId}#1`,
        `${retried[0]?.runId}#2`,
      ]);
    }
    const suspend = await reaper(['suspend', 'rdjob/base', ...ns()]);
    expect([suspend.code, suspend.stdout]).toEqual([0, 'reaperdaemonjob.reaper.io/base suspended\n']);
    expect((await reaper(['tree', 'rdjob/base', ...ns()])).stdout).toMatch(
      /base\s+Completed \(suspended\)\s+2\/2\s+0\s+suspended\n/,
    );
    const resume = await reaper(['resume', 'rdjob/base', ...ns()]);
    expect([resume.code, resume.stdout]).toEqual([0, 'reaperdaemonjob.reaper.io/base resumed\n']);
    expect((await reaper(['tree', 'rdjob/base', ...ns()])).stdout).toMatch(/base\s+Completed\s+2\/2\s+0\n/);
    const missing = await reaper(['suspend', 'rdjob/nope', ...ns()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('"nope" not found');
  });
});
