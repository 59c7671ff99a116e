import { hostname } from 'node:os';
import { checkRedisOrExit } from '@reaper-flow/queue';
import {
  createAppKubeClient,
  createLogger,
  createMetrics,
  loadConfig,
  startOpsServer,
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

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  const deadline = setTimeout(() => {
    logger.error('did not stop within 10 s; exiting anyway');
    process.exit(0);
  }, STOP_TIMEOUT_MS);
  deadline.unref();
  try {
    await watcher.stop({ release: true });
  } catch (err) {
    logger.error({ err }, 'error while stopping');
  }
  ops.server.close();
  kube.close();
  leaseKube.close();
  clearTimeout(deadline);
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
