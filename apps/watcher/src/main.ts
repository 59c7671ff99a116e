import { hostname } from 'node:os';
import { checkRedisOrExit } from '@reaper-flow/queue';
import {
  createAppKubeClient,
  createLogger,
  createMetrics,
  loadConfig,
  startOpsServer,
  stopOnSignals,
} from '@reaper-flow/runtime';
import { startWatcher } from './watcher';

// Entry point: read config, build dependencies, start, stop on SIGTERM/SIGINT.

const STOP_TIMEOUT_MS = 10_000;

const config = loadConfig();
const logger = createLogger('watcher', config.log.level);
const metrics = createMetrics('watcher');
await checkRedisOrExit(config.redis, logger);
const kube = await createAppKubeClient(config, metrics, 'reaper-flow-watcher');
// The pod name survives a container restart, so a restarted leader takes its lease back at once;
// outside a pod, hostname and pid keep two local processes apart.
const identity = process.env.POD_NAME ?? `${hostname()}_${process.pid}`;
// The Lease gets a connection pool of its own: a renewal must not queue behind the watches.
const leaseKube = await createAppKubeClient(config, metrics, 'reaper-flow-watcher-lease');
const watcher = await startWatcher({ config, kube, leaseKube, logger, metrics, identity });
const ops = await startOpsServer({
  host: config.metrics.host,
  port: config.metrics.port,
  registry: metrics.registry,
  live: () => watcher.live(),
  ready: () => watcher.ready(),
});
logger.info({ identity, metricsPort: ops.port }, 'watcher started');

stopOnSignals(
  [
    // Releasing the Lease lets a standby take over at once instead of after the lease duration.
    { name: 'watcher', run: () => watcher.stop({ release: true }) },
    { name: 'ops server', run: () => ops.server.close() },
    { name: 'API client', run: () => kube.close() },
    { name: 'lease API client', run: () => leaseKube.close() },
  ],
  { logger, deadlineMs: STOP_TIMEOUT_MS },
);
