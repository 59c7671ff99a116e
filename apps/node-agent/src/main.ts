import { checkRedisOrExit } from '@reaper-flow/queue';
import {
  type Config,
  createAppKubeClient,
  createLogger,
  createMetrics,
  loadConfig,
  startOpsServer,
  stopOnSignals,
} from '@reaper-flow/runtime';
import { type NodeAgent, startNodeAgent } from './agent';

// Entry of the node agent (one per node, a DaemonSet with hostPID and the host's state dir):
// read config, build dependencies, start, stop on SIGTERM/SIGINT.

const STOP_TIMEOUT_MS = 10_000;
// The whole stop, within the Pod's 30 s grace period.
const STOP_DEADLINE_MS = 20_000;

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`node-agent: ${(err as Error).message}\n`);
  process.exit(1);
}
const nodeName = config.nodeAgent.nodeName;
if (!nodeName) {
  process.stderr.write(
    'node-agent: NODE_NAME is not set. Set it to the node this agent runs on ' +
      '(in a DaemonSet: env NODE_NAME from fieldRef spec.nodeName), or nodeAgent.nodeName in the config file.\n',
  );
  process.exit(1);
}
const logger = createLogger('node-agent', config.log.level).child({ nodeName });
const metrics = createMetrics('node-agent');
await checkRedisOrExit(config.redis, logger);
const kube = await createAppKubeClient(config, metrics, `reaper-node-agent/${nodeName}`);
// The ops server comes first: /livez answers while the agent waits for Redis at start-up.
let agent: NodeAgent | undefined;
const ops = await startOpsServer({
  host: config.metrics.host,
  port: config.metrics.port,
  registry: metrics.registry,
  live: () => true,
  ready: () => agent?.ready() ?? 'starting',
});
logger.info({ port: ops.port }, 'ops server listening');
// Installed before the agent starts: a SIGTERM while it waits for Redis still exits cleanly.
stopOnSignals(
  [
    { name: 'node agent', run: () => agent?.stop() },
    { name: 'ops server', run: () => ops.server.close() },
    { name: 'API client', run: () => kube.close() },
  ],
  // The agent bounds its own stop (STOP_TIMEOUT_MS, then 2 s after cancelling its jobs).
  { logger, deadlineMs: STOP_DEADLINE_MS },
);

agent = await startNodeAgent({
  config,
  kube,
  logger,
  metrics,
  nodeName,
  stateDir: config.nodeAgent.stateDir,
  stopTimeoutMs: STOP_TIMEOUT_MS,
});
