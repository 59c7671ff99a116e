import { checkRedisOrExit, createRedis, RedisHealth, WorldStore } from '@reaper-flow/queue';
import {
  type Config,
  createLogger,
  createMetrics,
  loadConfig,
  redisHealthReport,
  startOpsServer,
  stopOnSignals,
} from '@reaper-flow/runtime';
import { type Dashboard, DashboardConfigError, startDashboard } from './dashboard';

// Standalone entry (the scheduler normally serves the dashboard): read config, build dependencies,
// start, stop on SIGTERM/SIGINT.

const STOP_TIMEOUT_MS = 5_000;

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`dashboard: ${(err as Error).message}\n`);
  process.exit(1);
}
const logger = createLogger('dashboard', config.log.level);
const metrics = createMetrics('dashboard');
await checkRedisOrExit(config.redis, logger);
const redisHealth = new RedisHealth(redisHealthReport(logger, metrics));
const redis = createRedis(config.redis, 'worker', redisHealth, 'dashboard');
// Nodes the watcher has seen: their overlay queues are listed even before any overlay work.
const world = new WorldStore(redis, config.redis.prefix, config.queues.retention.eventLogMaxLen);

let dashboard: Dashboard;
try {
  dashboard = await startDashboard({
    config,
    redis,
    redisHealth,
    logger,
    nodeNames: async () => (await world.keys('Node')).map((k) => k.name),
  });
} catch (err) {
  redis.disconnect();
  if (err instanceof DashboardConfigError) {
    process.stderr.write(`dashboard: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
const ops = await startOpsServer({
  host: config.metrics.host,
  port: config.metrics.port,
  registry: metrics.registry,
  live: () => true,
  ready: () => redisHealth.ready(),
});
logger.info({ url: dashboard.url, metricsPort: ops.port }, 'dashboard running');

stopOnSignals(
  [
    { name: 'dashboard', run: () => dashboard.stop() },
    { name: 'ops server', run: () => ops.server.close() },
    { name: 'redis', run: () => redis.disconnect() },
  ],
  { logger, deadlineMs: STOP_TIMEOUT_MS },
);
