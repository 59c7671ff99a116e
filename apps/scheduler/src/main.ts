import { type Dashboard, startDashboard } from '@reaper-flow/dashboard';
import { checkRedisOrExit, createRedis, type RedisClient, RedisHealth, WorldStore } from '@reaper-flow/queue';
import {
  createAppKubeClient,
  createLogger,
  createMetrics,
  LiveConfig,
  loadConfig,
  redisHealthReport,
  startOpsServer,
  stopOnSignals,
  watchConfig,
} from '@reaper-flow/runtime';
import { startScheduler } from './scheduler';

// Entry point: read config, build dependencies, start, stop on SIGTERM.

const SHUTDOWN_TIMEOUT_MS = 10_000;
// The whole stop, within the Pod's 30 s grace period: the scheduler's own bound, then the rest.
const STOP_DEADLINE_MS = 20_000;

const config = loadConfig();
// The reloadable keys: a reload replaces them here (config stays as started); readers call
// live.current() at use.
const live = new LiveConfig(config);
const logger = createLogger('scheduler', config.log.level);
live.subscribe((current) => {
  logger.level = current.log.level;
});
const metrics = createMetrics('scheduler');
await checkRedisOrExit(config.redis, logger);
const kube = await createAppKubeClient(config, metrics, 'reaper-flow-scheduler');
// One per process: the scheduler's connections and the dashboard's report one outage, once.
const redisHealth = new RedisHealth(redisHealthReport(logger, metrics));
const scheduler = await startScheduler({ config, live, kube, logger, metrics, redisHealth });

// Bull Board. Without dashboard.password/token it refuses to start, and so does the scheduler:
// set DASHBOARD_PASSWORD (or dashboard.enabled: false).
let dashboardRedis: RedisClient | undefined;
let dashboard: Dashboard | undefined;
if (config.dashboard.enabled) {
  dashboardRedis = createRedis(config.redis, 'worker', redisHealth, 'dashboard');
  const world = new WorldStore(dashboardRedis, config.redis.prefix, config.queues.retention.eventLogMaxLen);
  try {
    dashboard = await startDashboard({
      config,
      redis: dashboardRedis,
      redisHealth,
      logger,
      nodeNames: async () => (await world.keys('Node')).map((k) => k.name),
    });
    logger.info({ url: dashboard.url }, 'dashboard serving');
  } catch (err) {
    logger.fatal({ err }, 'cannot serve the dashboard');
    await scheduler.stop(SHUTDOWN_TIMEOUT_MS);
    dashboardRedis.disconnect();
    kube.close();
    process.exit(1);
  }
}
const ops = await startOpsServer({
  host: config.metrics.host,
  port: config.metrics.port,
  registry: metrics.registry,
  live: () => true,
  ready: () => scheduler.ready(),
  beforeScrape: () => scheduler.sampleQueueDepth(),
});
logger.info({ metricsPort: ops.port }, 'scheduler running');

const configFile = process.env.REAPER_FLOW_CONFIG;
const unwatch = configFile
  ? watchConfig(
      configFile,
      config,
      (next, changed) => {
        live.apply(next);
        logger.info({ changed }, 'configuration reloaded');
      },
      (err) => logger.warn({ err }, 'ignoring an invalid configuration change'),
    )
  : () => {};

stopOnSignals(
  [
    { name: 'config watch', run: unwatch },
    // Bounded: a reconcile that hangs must not keep the Pod from terminating; its job goes back to
    // the queue after the stalled interval and runs again elsewhere (reconciles are idempotent).
    {
      name: 'scheduler',
      run: () => scheduler.stop(SHUTDOWN_TIMEOUT_MS),
      timeoutMs: SHUTDOWN_TIMEOUT_MS + 1000,
    },
    { name: 'dashboard', run: () => dashboard?.stop() },
    { name: 'dashboard redis', run: () => dashboardRedis?.disconnect() },
    { name: 'ops server', run: () => ops.server.close() },
    { name: 'API client', run: () => kube.close() },
  ],
  { logger, deadlineMs: STOP_DEADLINE_MS },
);
