// The Bull Board dashboard seen through a real browser (Debian's Chromium, driven by
// playwright-core) against real Redis: authentication, every reaper-flow queue, a DaemonJob run
// flow with its children, overlay queues discovered per node, and read-only mode.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Dashboard, DashboardConfigError, startDashboard } from '@reaper-flow/dashboard';
import { createRedis, OverlayNodeQueues, RunFlows, runJobId } from '@reaper-flow/queue';
import { type Config, createLogger, loadConfig } from '@reaper-flow/runtime';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestNamespace, waitFor } from './harness/index';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const UI_TIMEOUT_MS = 20_000;
const RUN_NODES = ['node-1', 'node-2', 'node-3'];
const RETENTION = { removeOnComplete: 100, removeOnFail: 100 };

describe('Bull Board dashboard', () => {
  const ns = useTestNamespace('dashboard');
  const password = randomBytes(12).toString('hex');
  const token = randomBytes(24).toString('hex');
  const logger = createLogger('dashboard-test', process.env.LOG_LEVEL ?? 'warn');
  let redis: Redis;
  let config: Config;
  let flows: RunFlows;
  let overlays: OverlayNodeQueues;
  let dashboard: Dashboard;
  let readOnly: Dashboard;
  let browser: Browser;
  let parentId: string;

  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const put = (board: Dashboard, path: string, authorization = basic('admin', password)) =>
    fetch(new URL(path, board.url), { method: 'PUT', headers: { authorization } });

  beforeAll(async () => {
    const prefix = ns.queuePrefix;
    config = loadConfig({
      env: {
        REDIS_URL: testEnv().redisUrl,
        REAPER_FLOW_PREFIX: prefix,
        DASHBOARD_PORT: '0',
        DASHBOARD_PASSWORD: password,
        DASHBOARD_TOKEN: token,
      },
    });
    redis = createRedis({ url: config.redis.url }, 'worker');
    // A DaemonJob run as the scheduler adds it: a parent in djob-runs, one child per node.
    flows = new RunFlows(redis, { prefix, retention: RETENTION, stepAttempts: 1, stepBackoffMs: 1000 });
    const run = {
      namespace: ns.namespace,
      job: 'install-packages',
      jobUid: 'uid-install-packages',
      runId: 'run-1',
      generation: 1,
    };
    await flows.addRun(run, RUN_NODES);
    parentId = runJobId(run.namespace, run.job, run.runId);
    overlays = new OverlayNodeQueues(redis, { prefix, retention: RETENTION });
    await overlays.enqueue('node-1', {
      op: 'ensure',
      namespace: ns.namespace,
      name: 'slurm',
      uid: 'uid-slurm-overlay',
      generation: 0,
      requestId: 'gen-0',
    });
    dashboard = await startDashboard({ config, redis, logger, nodeNames: async () => ['node-2'] });
    readOnly = await startDashboard({
      config: { ...config, dashboard: { ...config.dashboard, readOnly: true } },
      redis,
      logger,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
    await readOnly?.stop();
    await flows?.close();
    await overlays?.close();
    if (redis) {
      await deleteKeys(redis, `${ns.queuePrefix}:*`);
      redis.disconnect();
    }
  }, 30_000);

  it('refuses anonymous requests with a basic-auth challenge', async () => {
    const context = await browser.newContext();
    try {
      for (const path of ['', 'api/queues', 'static/favicon-32x32.png']) {
        const res = await context.request.get(new URL(path, dashboard.url).href);
        expect(res.status(), `GET /${path}`).toBe(401);
        expect(res.headers()['www-authenticate']).toMatch(/^Basic realm=/);
      }
      // A browser without credentials gets no page at all.
      const page = await context.newPage();
      await expect(page.goto(dashboard.url)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    } finally {
      await context.close();
    }
  }, 30_000);

  it('checks the password and the bearer token', async () => {
    const get = (authorization: string) =>
      fetch(new URL('api/queues', dashboard.url), { headers: { authorization } });
    expect((await get(basic('admin', 'not-the-password'))).status).toBe(401);
    expect((await get(basic('someone', password))).status).toBe(401);
    expect((await get('Bearer not-the-token')).status).toBe(401);
    expect((await get(basic('admin', password))).status).toBe(200);
    const res = await get(`Bearer ${token}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: { name: string }[] };
    expect(body.queues.map((q) => q.name)).toContain('djob-runs');
  }, 30_000);

  it('shows every queue and the children of a DaemonJob run to a logged-in user', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: 'admin', password },
      viewport: { width: 1280, height: 1000 },
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(dashboard.url);
      expect(response?.status()).toBe(200);
      const nav = page.getByRole('navigation');
      // node-1 has overlay work in Redis (found by SCAN); node-2 comes from nodeNames().
      const expected = [
        'reconcile-reaperpod',
        'reconcile-reaperoverlay',
        'reconcile-reaperdaemonjob',
        'djob-runs',
        'djob-node-runs',
        'overlay-node-node-1',
        'overlay-node-node-2',
      ];
      for (const name of expected) {
        await nav.getByRole('link', { name, exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
      }

      await nav.getByRole('link', { name: 'djob-runs', exact: true }).click();
      await page.getByText(parentId, { exact: true }).first().click({ timeout: UI_TIMEOUT_MS });
      await page.waitForURL(/\/queue\/djob-runs\/run/, { timeout: UI_TIMEOUT_MS });
      await page.getByText('Job flow').waitFor({ timeout: UI_TIMEOUT_MS });
      const children = page.locator('.react-flow__node').filter({ hasText: 'djob-node-runs' });
      await waitFor(async () => (await children.count()) === RUN_NODES.length, {
        description: `${RUN_NODES.length} children in the job flow of ${parentId}`,
        timeoutMs: UI_TIMEOUT_MS,
      });
      const texts = await children.allInnerTexts();
      // Each child card names the node at the end of its (shortened) job id.
      for (const node of RUN_NODES) expect(texts.some((t) => t.includes(`|${node}`))).toBe(true);
      const parent = page.locator('.react-flow__node').filter({ hasText: 'djob-runs' });
      expect(await parent.textContent()).toContain(`${RUN_NODES.length} unfinished`);

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    } finally {
      await context.close();
    }
  }, 60_000);

  it('shows the overlay queue of a node that gets overlay work later', async () => {
    await overlays.enqueue('node-late', {
      op: 'reset',
      namespace: ns.namespace,
      name: 'slurm',
      uid: 'uid-slurm-overlay',
      generation: 1,
      requestId: 'gen-1',
    });
    await dashboard.refresh();
    expect(dashboard.queueNames()).toContain('overlay-node-node-late');
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password } });
    try {
      const page = await context.newPage();
      await page.goto(dashboard.url);
      await page
        .getByRole('navigation')
        .getByRole('link', { name: 'overlay-node-node-late', exact: true })
        .waitFor({ timeout: UI_TIMEOUT_MS });
    } finally {
      await context.close();
    }
  }, 30_000);

  it('answers 405 to writes when read-only, and performs them otherwise', async () => {
    const runs = new Queue('djob-runs', { connection: redis, prefix: ns.queuePrefix });
    try {
      const refused = await put(readOnly, 'api/queues/djob-runs/retry/failed');
      expect(refused.status).toBe(405);
      expect((await put(readOnly, 'api/queues/djob-runs/pause')).status).toBe(405);
      expect(await runs.isPaused()).toBe(false);

      const retried = await put(dashboard, 'api/queues/djob-runs/retry/failed');
      expect(retried.status).toBe(200);
      expect(await retried.json()).toEqual({ retried: 0, skipped: 0 });
      expect((await put(dashboard, 'api/queues/djob-runs/pause')).status).toBe(200);
      expect(await runs.isPaused()).toBe(true);
      expect((await put(dashboard, 'api/queues/djob-runs/resume')).status).toBe(200);
      expect(await runs.isPaused()).toBe(false);

      // Authentication comes first: an anonymous write is a 401, not a 405.
      const anonymous = await fetch(new URL('api/queues/djob-runs/pause', readOnly.url), { method: 'PUT' });
      expect(anonymous.status).toBe(401);
    } finally {
      await runs.close();
    }
  }, 30_000);

  it('refuses to start without a password or a token', async () => {
    const bare = loadConfig({ env: { REDIS_URL: config.redis.url, REAPER_FLOW_PREFIX: ns.queuePrefix } });
    const started = startDashboard({ config: bare, redis, logger });
    await expect(started).rejects.toBeInstanceOf(DashboardConfigError);
    await expect(started).rejects.toThrow(/DASHBOARD_PASSWORD \(dashboard\.password\)/);
  }, 10_000);
});

/** Removes this file's keys (its own hash-tagged prefix) with SCAN, never KEYS. */
async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      pattern.replace(/[?[\]\\]/g, '\\$&'),
      'COUNT',
      1000,
    );
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
