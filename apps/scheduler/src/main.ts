import { KubeClient } from '@reaper-flow/k8s';
import {
  applyReloadable,
  createLogger,
  createMetrics,
  loadConfig,
  startOpsServer,
  watchConfig,
} from '@reaper-flow/runtime';
import { startScheduler } from './scheduler';

// Entry point: read config, build dependencies, start, stop on SIGTERM.

const SHUTDOWN_TIMEOUT_MS = 10_000;

const config = loadConfig();
const logger = createLogger('scheduler', config.log.level);
const metrics = createMetrics('scheduler');
const kube = await KubeClient.create({
  kubeconfigPath: config.kubernetes.kubeconfig,
  maxSockets: config.kubernetes.maxSockets,
  requestTimeoutMs: config.kubernetes.requestTimeoutMs,
  userAgent: 'reaper-flow-scheduler',
  onRequest: (m) => {
    metrics.apiRequests.inc({ verb: m.verb, resource: m.resource, code: String(m.code) });
    metrics.apiRequestDuration.observe({ verb: m.verb, resource: m.resource }, m.durationMs / 1000);
  },
});
const scheduler = await startScheduler({ config, kube, logger, metrics });
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
        applyReloadable(config, next);
        logger.level = next.log.level;
        logger.info({ changed }, 'configuration reloaded');
      },
      (err) => logger.warn({ err }, 'ignoring an invalid configuration change'),
    )
  : () => {};

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  unwatch();
  // Bounded: a reconcile that hangs must not keep the Pod from terminating; its job goes back to
  // the queue after the stalled interval and runs again elsewhere (reconciles are idempotent).
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS + 1000).unref());
  await Promise.race([scheduler.stop(SHUTDOWN_TIMEOUT_MS), deadline]);
  ops.server.close();
  kube.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
