// Redis goes away and comes back: the apps run in this process against a redis-server of this file's
// own (its own port, dir and AOF; never the shared test Redis), which is SIGKILLed for a while and
// restarted on the same data. Each app logs the outage once and its recovery once (not a line per
// connection, queue and retry), answers /readyz 503 in between, counts it in its metrics, and a
// ReaperPod created during the outage still runs to completion afterwards.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startDashboard } from '@reaper-flow/dashboard';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, removeDir, removeNode } from '@reaper-flow/local-cluster';
import { startNodeAgent } from '@reaper-flow/node-agent';
import { createRedis, RedisHealth } from '@reaper-flow/queue';
import {
  createAppKubeClient,
  createLogger,
  createMetrics,
  loadConfig,
  type Metrics,
  redisHealthReport,
  startOpsServer,
} from '@reaper-flow/runtime';
import { startScheduler } from '@reaper-flow/scheduler';
import { startWatcher } from '@reaper-flow/watcher';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestNamespace, waitFor } from './harness/index';

const APPS = ['watcher', 'scheduler', 'node-agent', 'dashboard'] as const;
type App = (typeof APPS)[number];

interface LogLine {
  readonly level: string;
  readonly msg: string;
}

/** A pino destination that keeps every JSON line (and still shows warnings and worse on stderr). */
function capture(lines: LogLine[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (!text.trim()) continue;
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        if (line.level === 'warn' || line.level === 'error' || line.level === 'fatal')
          process.stderr.write(`${text}\n`);
      }
      done();
    },
  });
}

/** redis-server on `port` with AOF in `dir`; resolves once it answers PING. */
async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--dir',
      dir,
      '--daemonize',
      'no',
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await waitFor(async () => (await probe.ping().catch(() => undefined)) === 'PONG', {
      description: `redis-server on port ${port} answering`,
      timeoutMs: 20_000,
    });
  } finally {
    probe.disconnect();
  }
  return child;
}

/** A port free on 127.0.0.1 right now (the kernel's choice for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function readyz(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  await res.text();
  return res.status;
}

describe('Redis outage', () => {
  const t = useTestNamespace('redis-outage');
  const suite = randomBytes(3).toString('hex');
  const node = `ro-${suite}-1`;
  const logs = Object.fromEntries(APPS.map((a) => [a, [] as LogLine[]])) as Record<App, LogLine[]>;
  const metrics = Object.fromEntries(APPS.map((a) => [a, createMetrics(a)])) as Record<App, Metrics>;
  const readyPorts = {} as Record<App, number>;
  const stops: (() => Promise<unknown>)[] = [];
  let client: KubeClient;
  let redisPort: number;
  let redisDir: string;
  let redis: ChildProcess | undefined;
  let schedulerHealth: RedisHealth | undefined;

  beforeAll(async () => {
    const env = testEnv();
    client = t.client;
    redisPort = await freePort();
    redisDir = await mkdtemp(join(tmpdir(), 'reaper-flow-redis-outage-'));
    redis = await startRedis(redisPort, redisDir);
    await addNode(client, { name: node });
    const config = loadConfig({
      env: {
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        REAPER_FLOW_PREFIX: t.queuePrefix,
        KUBECONFIG: env.kubeconfigPath,
        LOG_LEVEL: 'info',
        METRICS_PORT: '0',
        DASHBOARD_PASSWORD: 'outage-test',
        REAPER_FLOW__DASHBOARD__PORT: '0',
        REAPER_FLOW__WATCHER__LEASE_NAME: `rf-watcher-redis-outage-${suite}`,
        REAPER_FLOW__QUEUES__RECONCILE_BACKOFF_MS: '200',
        REAPER_FLOW__QUEUES__FAILED_REQUEUE_MS: '5000',
      },
    });
    const logger = (app: App) => createLogger(app, 'info', capture(logs[app]));
    const kube = async (app: App) => {
      const k = await createAppKubeClient(config, metrics[app], `reaper-flow-${app}-outage-test`);
      stops.push(async () => k.close());
      return k;
    };
    const ops = async (app: App, ready: () => true | string) => {
      const o = await startOpsServer({
        host: '127.0.0.1',
        port: 0,
        registry: metrics[app].registry,
        live: () => true,
        ready,
      });
      readyPorts[app] = o.port;
      stops.push(() => new Promise((resolve) => o.server.close(resolve)));
    };

    const watcher = await startWatcher({
      config,
      kube: await kube('watcher'),
      logger: logger('watcher'),
      metrics: metrics.watcher,
      identity: `outage-${suite}`,
    });
    stops.push(() => watcher.stop());
    await ops('watcher', () => watcher.ready());

    const scheduler = await startScheduler({
      config,
      kube: await kube('scheduler'),
      logger: logger('scheduler'),
      metrics: metrics.scheduler,
    });
    stops.push(() => scheduler.stop(5_000));
    schedulerHealth = scheduler.redisHealth;
    await ops('scheduler', () => scheduler.ready());

    const stateDir = await mkdtemp(join(tmpdir(), 'reaper-flow-outage-agent-'));
    stops.push(() => removeDir(stateDir));
    const agent = await startNodeAgent({
      config,
      kube: await kube('node-agent'),
      logger: logger('node-agent'),
      metrics: metrics['node-agent'],
      nodeName: node,
      stateDir,
    });
    stops.push(() => agent.stop());
    await ops('node-agent', () => agent.ready());

    // As the standalone dashboard's main.ts wires it: its own connection and RedisHealth.
    const dashboardLogger = logger('dashboard');
    const dashboardHealth = new RedisHealth(redisHealthReport(dashboardLogger, metrics.dashboard));
    const dashboardRedis = createRedis(config.redis, 'worker', dashboardHealth, 'dashboard');
    stops.push(async () => dashboardRedis.disconnect());
    const dashboard = await startDashboard({
      config,
      redis: dashboardRedis,
      redisHealth: dashboardHealth,
      logger: dashboardLogger,
    });
    stops.push(() => dashboard.stop());
    await ops('dashboard', () => dashboardHealth.ready());

    await waitFor(() => watcher.isLeader() && watcher.ready() === true, {
      description: 'the watcher leading with synced informers',
      timeoutMs: 60_000,
    });
    for (const app of APPS) {
      await waitFor(async () => (await readyz(readyPorts[app])) === 200, {
        description: `${app} /readyz 200`,
        timeoutMs: 30_000,
      });
    }
  }, 120_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    redis?.kill('SIGKILL');
    if (client) await removeNode(client, node).catch(() => undefined);
    if (redisDir) await removeDir(redisDir).catch(() => undefined);
  }, 60_000);

  /** ReaperPod ADDED events the watcher received (counted before it writes anything to Redis). */
  const reaperPodsAdded = async () =>
    (await metrics.watcher.watchEvents.get()).values.find(
      (v) => v.labels.kind === 'ReaperPod' && v.labels.type === 'ADDED',
    )?.value ?? 0;

  const rpodPhase = async (name: string) =>
    (
      await client.get<{ status?: { phase?: string } }>(Resources.reaperPods, name, {
        namespace: t.namespace,
      })
    )?.status?.phase;

  it('every app logs one line when Redis goes and one when it is back, is unready in between, and a ReaperPod created meanwhile completes', {
    timeout: 150_000,
  }, async () => {
    // Before the outage: the engine works end to end.
    await client.create(
      Resources.reaperPods,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperPod',
        metadata: { name: 'before' },
        spec: { command: ['/bin/true'] },
      },
      { namespace: t.namespace },
    );
    await waitFor(async () => (await rpodPhase('before')) === 'Succeeded', {
      description: 'ReaperPod before Succeeded',
      timeoutMs: 60_000,
    });
    const linesBefore = Object.fromEntries(APPS.map((a) => [a, logs[a].length])) as Record<App, number>;

    const killed = redis;
    const exited = new Promise((resolve) => killed?.once('exit', resolve));
    killed?.kill('SIGKILL');
    await exited;
    redis = undefined;
    for (const app of APPS) {
      await waitFor(async () => (await readyz(readyPorts[app])) === 503, {
        description: `${app} /readyz 503 while Redis is down`,
        timeoutMs: 30_000,
      });
    }
    // Seen by the watcher while Redis is away: it must be written once Redis is back, not dropped.
    const addedBefore = await reaperPodsAdded();
    await client.create(
      Resources.reaperPods,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperPod',
        metadata: { name: 'during' },
        spec: { command: ['/bin/true'] },
      },
      { namespace: t.namespace },
    );
    await waitFor(async () => (await reaperPodsAdded()) > addedBefore, {
      description: 'the watcher receiving ReaperPod during while Redis is down',
      timeoutMs: 30_000,
    });
    // The outage lasts until every app has said so and the reconnect attempts and queue errors
    // that used to be one log line each have piled up.
    await waitFor(() => APPS.every((a) => logs[a].some((l) => l.msg.startsWith('redis unavailable'))), {
      description: 'every app reporting the outage',
      timeoutMs: 30_000,
    });
    // A few seconds of outage (the scenario, not a stand-in for a condition): the reconnect
    // backoff of ioredis grows to seconds, so the apps see a real outage, not a blip.
    await waitFor(
      () => (schedulerHealth?.absorbedErrors ?? 0) >= 30 && (schedulerHealth?.downForMs() ?? 0) >= 4_000,
      { description: 'a 4 s outage with 30 Redis errors absorbed by the scheduler', timeoutMs: 60_000 },
    );
    expect(await rpodPhase('during')).toBeUndefined();

    redis = await startRedis(redisPort, redisDir);
    for (const app of APPS) {
      await waitFor(async () => (await readyz(readyPorts[app])) === 200, {
        description: `${app} /readyz 200 after Redis is back`,
        timeoutMs: 60_000,
      });
    }
    await waitFor(async () => (await rpodPhase('during')) === 'Succeeded', {
      description: 'ReaperPod during (created while Redis was down) Succeeded',
      timeoutMs: 90_000,
    });

    for (const app of APPS) {
      const lines = logs[app].slice(linesBefore[app]);
      const down = lines.filter((l) => l.msg.startsWith('redis unavailable'));
      const up = lines.filter((l) => l.msg === 'redis available again');
      expect(
        down.map((l) => l.level),
        `${app}: one line when Redis went away`,
      ).toEqual(['error']);
      expect(
        up.map((l) => l.level),
        `${app}: one line when Redis came back`,
      ).toEqual(['info']);
      const loud = lines.filter((l) => (l.level === 'error' || l.level === 'warn') && !down.includes(l));
      expect(
        loud.map((l) => l.msg),
        // The whole lines, so a failure names the error that was not taken for an outage.
        `${app}: no other warnings or errors: ${JSON.stringify(loud).slice(0, 2000)}`,
      ).toEqual([]);
      expect((await metrics[app].redisOutages.get()).values[0]?.value, `${app} outages`).toBe(1);
      expect((await metrics[app].redisDownSeconds.get()).values[0]?.value ?? 0).toBeGreaterThan(0);
      expect((await metrics[app].redisUp.get()).values[0]?.value).toBe(1);
    }
    console.log(
      `outage: ${schedulerHealth?.absorbedErrors} Redis errors absorbed by the scheduler; log lines per app: ${APPS.map(
        (a) => `${a} ${logs[a].length - linesBefore[a]}`,
      ).join(', ')}`,
    );
  });
});
