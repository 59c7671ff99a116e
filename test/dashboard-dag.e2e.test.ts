// The DAG page of the dashboard in a real browser (Debian's Chromium via playwright-core): a
// namespace's DaemonJobs as the `after` graph, coloured by phase, updated without a reload, and the
// per-node table of a clicked job (status plus the history folded from the job's log in Redis).
// The page reads the jobs from the watcher's world, so a real watcher runs here, as in production.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Dashboard, startDashboard } from '@reaper-flow/dashboard';
import { initialEngineState } from '@reaper-flow/domain';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import { createRedis, DaemonJobStore } from '@reaper-flow/queue';
import { createLogger, createMetrics, loadConfig } from '@reaper-flow/runtime';
import { startWatcher, type Watcher } from '@reaper-flow/watcher';
import type { Redis } from 'ioredis';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestNamespace, waitFor } from './harness/index';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];
const UI_TIMEOUT_MS = 20_000;

// A diamond: top -> left, right -> bottom.
const JOBS: Record<string, { after: string[]; status: Record<string, unknown> }> = {
  top: { after: [], status: { phase: 'Completed', readyNodes: 2, totalNodes: 2, failedNodes: 0 } },
  left: {
    after: ['top'],
    status: {
      phase: 'PartiallyFailed',
      readyNodes: 1,
      totalNodes: 2,
      failedNodes: 1,
      nodeStatuses: [
        { nodeName: 'node-1', phase: 'Succeeded', exitCode: 0, retryCount: 0, reaperPodName: 'left-node-1' },
        { nodeName: 'node-2', phase: 'Failed', exitCode: 7, retryCount: 1, reaperPodName: 'left-node-2' },
      ],
    },
  },
  right: { after: ['top'], status: { phase: 'Running', readyNodes: 1, totalNodes: 2, failedNodes: 0 } },
  bottom: {
    after: ['left', 'right'],
    status: { phase: 'Pending', readyNodes: 0, totalNodes: 2, failedNodes: 0 },
  },
};

describe('dashboard DAG page', () => {
  const t = useTestNamespace('dag');
  const password = randomBytes(12).toString('hex');
  let redis: Redis;
  let dashboard: Dashboard;
  let browser: Browser;
  let watcher: Watcher | undefined;
  let watcherKube: KubeClient | undefined;

  const setStatus = (name: string, status: Record<string, unknown>) =>
    t.client.patch(
      Resources.reaperDaemonJobs,
      name,
      'merge',
      { status },
      { namespace: t.namespace, subresource: 'status' },
    );

  beforeAll(async () => {
    const config = loadConfig({
      env: {
        REDIS_URL: testEnv().redisUrl,
        REAPER_FLOW_PREFIX: t.queuePrefix,
        DASHBOARD_PORT: '0',
        DASHBOARD_PASSWORD: password,
        KUBECONFIG: testEnv().kubeconfigPath,
        REAPER_FLOW__WATCHER__LEASE_NAMESPACE: t.namespace,
      },
    });
    redis = createRedis({ url: config.redis.url }, 'worker');
    for (const [name, job] of Object.entries(JOBS)) {
      await t.client.create(
        Resources.reaperDaemonJobs,
        {
          apiVersion: 'reaper.io/v1alpha1',
          kind: 'ReaperDaemonJob',
          metadata: { name },
          spec: { command: ['/bin/true'], ...(job.after.length ? { after: job.after } : {}) },
        },
        { namespace: t.namespace },
      );
      await setStatus(name, job.status);
    }
    // The log of `left` as the scheduler writes it: node-2 failed twice with exit 7.
    const at = (s: number) => `2026-01-01T10:00:${String(s).padStart(2, '0')}.000Z`;
    const ev = (type: string, node: string, extra: Record<string, unknown>, s: number) => ({
      type,
      node,
      runId: 'r1',
      ...extra,
      at: at(s),
    });
    await new DaemonJobStore(redis, t.queuePrefix, 1000).save(
      t.namespace,
      'left',
      0,
      { state: initialEngineState, inboxCursor: '0-0', lastStatusWriteAt: 0, lastStatusHash: '', uid: 'u' },
      [
        {
          type: 'RunTriggered',
          runId: 'r1',
          reason: 'Created',
          generation: 1,
          nodes: ['node-1', 'node-2'],
          at: at(0),
        },
        ev('NodeRunQueued', 'node-1', {}, 0),
        ev('NodeRunQueued', 'node-2', {}, 0),
        ev('NodeRunStarted', 'node-1', { attempt: 1, reaperPodName: 'left-node-1' }, 1),
        ev('NodeRunStarted', 'node-2', { attempt: 1, reaperPodName: 'left-node-2' }, 1),
        ev('NodeRunSucceeded', 'node-1', { attempt: 1, exitCode: 0 }, 3),
        ev('NodeRunFailed', 'node-2', { attempt: 1, exitCode: 7 }, 4),
        ev('NodeRunRetryScheduled', 'node-2', { retryCount: 1, retryLimit: 1 }, 4),
        ev('NodeRunStarted', 'node-2', { attempt: 2, reaperPodName: 'left-node-2' }, 5),
        ev('NodeRunFailed', 'node-2', { attempt: 2, exitCode: 7 }, 9),
        ev('NodeRunExhausted', 'node-2', { retryCount: 1 }, 9),
      ],
    );
    dashboard = await startDashboard({
      config,
      redis,
      logger: createLogger('dashboard-test', 'warn'),
    });
    watcherKube = await KubeClient.create({ kubeconfigPath: testEnv().kubeconfigPath });
    watcher = await startWatcher({
      config,
      kube: watcherKube,
      logger: createLogger('dag-watcher', 'warn'),
      metrics: createMetrics('watcher'),
      identity: `dag-${t.namespace}`,
    });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
    await watcher?.stop();
    watcherKube?.close();
    if (redis) {
      const keys = await redis.keys(`${t.queuePrefix.replace(/[?[\]\\*]/g, '\\$&')}:*`);
      if (keys.length) await redis.unlink(...keys);
      redis.disconnect();
    }
  }, 30_000);

  it('answers 401 without credentials, for the page and its JSON', async () => {
    for (const path of [
      'dag',
      `api/v1/namespaces/${t.namespace}/dag`,
      `api/v1/namespaces/${t.namespace}/reaperdaemonjobs/left/history`,
    ]) {
      expect((await fetch(new URL(path, dashboard.url))).status, path).toBe(401);
    }
  }, 20_000);

  it('draws a diamond of four jobs with four edges and their phases, live, and opens the per-node table', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: 'admin', password },
      viewport: { width: 1300, height: 700 },
    });
    try {
      const page = await context.newPage();
      await page.goto(new URL(`dag?namespace=${t.namespace}`, dashboard.url).href);
      const jobs = page.locator('g.job');
      await waitFor(async () => (await jobs.count()) === 4, {
        description: 'four jobs drawn',
        timeoutMs: UI_TIMEOUT_MS,
      });
      expect(await page.locator('path.edge').count()).toBe(4);
      const edges = await page
        .locator('path.edge')
        .evaluateAll((els) =>
          els.map((e) => `${e.getAttribute('data-from')}->${e.getAttribute('data-to')}`).sort(),
        );
      expect(edges).toEqual(['left->bottom', 'right->bottom', 'top->left', 'top->right']);
      const phases = await jobs.evaluateAll((els) =>
        Object.fromEntries(els.map((e) => [e.getAttribute('data-job'), e.getAttribute('data-phase')])),
      );
      expect(phases).toEqual({
        top: 'Completed',
        left: 'PartiallyFailed',
        right: 'Running',
        bottom: 'Pending',
      });
      expect(await page.locator('g.job[data-job="left"] .summary').textContent()).toBe(
        'PartiallyFailed · 1/2 · 1 failed',
      );
      // The top job is drawn above the two in the middle, which are above the bottom one.
      const y = async (name: string) =>
        (await page.locator(`g.job[data-job="${name}"]`).boundingBox())?.y ?? Number.NaN;
      expect(await y('top')).toBeLessThan(await y('left'));
      expect(await y('right')).toBeLessThan(await y('bottom'));

      // A status change shows without a reload.
      await setStatus('bottom', { phase: 'Running', readyNodes: 1, totalNodes: 2 });
      await page
        .locator('g.job[data-job="bottom"][data-phase="Running"]')
        .waitFor({ timeout: UI_TIMEOUT_MS });

      await page.locator('g.job[data-job="left"] rect').click();
      const rows = page.locator('#node-table tbody tr');
      await waitFor(async () => (await rows.count()) === 2, {
        description: 'two node rows',
        timeoutMs: UI_TIMEOUT_MS,
      });
      const row = async (node: string) =>
        await page.locator(`#node-table tr[data-node="${node}"] td`).allInnerTexts();
      await waitFor(async () => (await row('node-2'))[4] !== '', {
        description: 'the history in the table',
        timeoutMs: UI_TIMEOUT_MS,
      });
      expect(await row('node-1')).toEqual([
        'node-1',
        'Succeeded',
        '1',
        '0',
        '2026-01-01 10:00:01',
        '2026-01-01 10:00:03',
      ]);
      expect(await row('node-2')).toEqual([
        'node-2',
        'Failed',
        '2',
        '7',
        '2026-01-01 10:00:05',
        '2026-01-01 10:00:09',
      ]);
      expect(await page.locator('#flow-link').getAttribute('href')).toBe(
        `queue/djob-runs/${encodeURIComponent(`run|${t.namespace}|left|r1`)}`,
      );
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dag.png') });

      // On a narrower window the page does not scroll sideways: the table moves under the graph.
      for (const width of [1100, 800]) {
        await page.setViewportSize({ width, height: 700 });
        const html = await page
          .locator('html')
          .evaluate((el) => ({ page: el.scrollWidth, window: el.clientWidth }));
        const table = await page.locator('#node-table').boundingBox();
        const overflow = { ...html, tableRight: (table?.x ?? 0) + (table?.width ?? Number.NaN) };
        expect(overflow.page, `page width at ${width} px`).toBeLessThanOrEqual(overflow.window);
        expect(overflow.tableRight, `table's right edge at ${width} px`).toBeLessThanOrEqual(overflow.window);
      }
    } finally {
      await context.close();
    }
  }, 60_000);
});
