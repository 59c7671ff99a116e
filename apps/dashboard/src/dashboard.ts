import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { ReaperError } from '@reaper-flow/domain';
import { isRedisConnectionError, QueueNames, type RedisClient, RedisHealth } from '@reaper-flow/queue';
import type { Config, Logger } from '@reaper-flow/runtime';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { authorize, BASIC_CHALLENGE, type DashboardCredentials } from './auth';
import { registerDaemonJobRoutes } from './daemon-job-routes';
import { fixedQueueNames, scanOverlayNodes } from './queue-discovery';

export interface DashboardOptions {
  readonly config: Config;
  /**
   * A worker-style connection (`createRedis(..., 'worker')`), shared by the dashboard's queues and
   * owned by the caller: stop() does not close it.
   */
  readonly redis: RedisClient;
  readonly logger: Logger;
  /** Nodes known elsewhere (e.g. the world store): their overlay queues are shown even before use. */
  readonly nodeNames?: (() => Promise<readonly string[]>) | undefined;
  /** How often overlay-node queues are looked for (default 10 s). */
  readonly refreshIntervalMs?: number | undefined;
  /**
   * The process's Redis health, which reports outages once (the caller tracks `redis` with it);
   * default: outage errors of the dashboard's queues are dropped, other Redis errors logged.
   */
  readonly redisHealth?: RedisHealth | undefined;
}

export interface Dashboard {
  /** Where the dashboard answers, e.g. http://127.0.0.1:3000/ */
  readonly url: string;
  readonly port: number;
  /** The queues shown, sorted (overlay-node queues appear as their nodes are discovered). */
  queueNames(): string[];
  /** Looks for new overlay-node queues now (also done every refreshIntervalMs). */
  refresh(): Promise<void>;
  /** Stops serving and closes the dashboard's Queue objects (not the Redis connection). */
  stop(): Promise<void>;
}

/** Thrown when the dashboard is configured so that it must not start (no secret to check). */
export class DashboardConfigError extends ReaperError {
  readonly code = 'dashboard.Config';
  readonly terminal = true;
}

/** Bull Board is served at the root: the fastify register prefix and setBasePath must agree. */
const BASE_PATH = '/';
/** Where kubectl reaper puts the dashboard's credentials when it comes through the API server. */
export const PROXIED_AUTH_HEADER = 'x-reaper-dashboard-authorization';
const DEFAULT_REFRESH_MS = 10_000;
/** The first discovery may delay the start by at most this long (Redis may still be connecting). */
const FIRST_DISCOVERY_WAIT_MS = 2_000;

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  [QueueNames.runs]: 'DaemonJob runs: flow parents, one per trigger',
  [QueueNames.nodeRuns]: 'DaemonJob node runs: flow children, one per node',
};

/** The credentials to enforce, or an error naming the settings that provide them. */
export function dashboardCredentials(config: Config): DashboardCredentials {
  const { username, password, token } = config.dashboard;
  const creds = { username, password: password || undefined, token: token || undefined };
  if (creds.password === undefined && creds.token === undefined) {
    throw new DashboardConfigError(
      'the dashboard needs a secret and none is configured: set DASHBOARD_PASSWORD (dashboard.password) ' +
        'for basic auth as dashboard.username, or DASHBOARD_TOKEN (dashboard.token) for bearer auth; ' +
        'or turn it off with dashboard.enabled: false (REAPER_FLOW__DASHBOARD__ENABLED=false)',
    );
  }
  return creds;
}

/**
 * Serves Bull Board for every reaper-flow queue under config.redis.prefix: the reconcile queues,
 * the DaemonJob run flows and one overlay queue per node (discovered with SCAN, refreshed every
 * refreshIntervalMs, plus `nodeNames()`). Every request, static assets included, must carry basic
 * auth or the bearer token: dashboard access is Redis access. With dashboard.readOnly the write
 * endpoints answer 405 and the UI hides its actions.
 */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const { config, redis } = opts;
  const logger = opts.logger.child({ component: 'dashboard' });
  const credentials = dashboardCredentials(config);
  const prefix = config.redis.prefix;
  const adapterOptions = { readOnlyMode: config.dashboard.readOnly };
  const health =
    opts.redisHealth ??
    new RedisHealth({ onError: (err, source) => logger.warn({ err, source }, 'dashboard redis error') });

  const queues = new Map<string, Queue>();
  const adapterFor = (name: string): BullMQAdapter => {
    // skipMetasUpdate: looking at a queue must not write to Redis (nor create a queue for a node).
    const queue = new Queue(name, { connection: redis, prefix, skipMetasUpdate: true });
    health.absorb(queue, `dashboard ${name}`);
    queues.set(name, queue);
    const description =
      DESCRIPTIONS[name] ?? (name.startsWith('overlay-node-') ? 'Overlay work of one node' : '');
    return new BullMQAdapter(queue, { ...adapterOptions, description });
  };

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BASE_PATH);
  const board = createBullBoard({
    queues: fixedQueueNames().map(adapterFor),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'reaper-flow',
        hideDocsLink: true,
        miscLinks: [{ text: 'DaemonJob DAG', url: `${BASE_PATH}dag` }],
      },
    },
  });

  let discovering: Promise<void> | undefined;
  const discover = async (): Promise<void> => {
    const found = new Set(await scanOverlayNodes(redis, prefix));
    if (opts.nodeNames) for (const node of await opts.nodeNames()) found.add(node);
    // Additive only: a node that left keeps its queue on the board, with whatever jobs wait there.
    for (const node of [...found].sort()) {
      const name = QueueNames.overlayNode(node);
      if (!queues.has(name)) {
        board.addQueue(adapterFor(name));
        logger.debug({ queue: name }, 'dashboard shows a new overlay queue');
      }
    }
  };
  // One discovery at a time: while Redis is away a SCAN on a worker connection waits for it.
  const refresh = (): Promise<void> => {
    discovering ??= discover()
      .catch((err: unknown) => {
        // While Redis is away the outage is reported once by the process's RedisHealth.
        const outage = !health.up || isRedisConnectionError(err);
        logger[outage ? 'debug' : 'warn']({ err }, 'dashboard could not look for overlay queues');
      })
      .finally(() => {
        discovering = undefined;
      });
    return discovering;
  };
  await Promise.race([
    refresh(),
    new Promise((resolve) => setTimeout(resolve, FIRST_DISCOVERY_WAIT_MS).unref()),
  ]);
  const timer = setInterval(() => void refresh(), opts.refreshIntervalMs ?? DEFAULT_REFRESH_MS);
  timer.unref();

  const app = Fastify({ logger: false, forceCloseConnections: true });
  // Registered on the root instance before Bull Board, so it runs first for every route.
  app.addHook('onRequest', async (request, reply) => {
    const decision = authorize(request.headers.authorization, credentials);
    if (decision.ok) return;
    // Through the API server's Service proxy the Authorization header is the API server's (and is
    // dropped before proxying): kubectl reaper sends the dashboard's credentials in this one.
    const proxied = request.headers[PROXIED_AUTH_HEADER];
    if (typeof proxied === 'string' && authorize(proxied, credentials).ok) return;
    if (decision.reason !== 'missing') {
      logger.info({ reason: decision.reason, ip: request.ip, url: request.url }, 'dashboard login refused');
    }
    return reply
      .code(401)
      .header('www-authenticate', BASIC_CHALLENGE)
      .type('text/plain; charset=utf-8')
      .send('authentication required\n');
  });
  app.addHook('onError', async (request, _reply, err) => {
    logger.warn({ err, method: request.method, url: request.url }, 'dashboard request failed');
  });
  registerDaemonJobRoutes(app, {
    redis,
    prefix,
    logMaxLen: config.queues.retention.eventLogMaxLen,
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: BASE_PATH });
  try {
    await app.listen({ host: config.dashboard.host, port: config.dashboard.port });
  } catch (err) {
    clearInterval(timer);
    await Promise.allSettled([...queues.values()].map((q) => q.close()));
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.dashboard.port;
  const url = `http://${urlHost(config.dashboard.host)}:${port}${BASE_PATH}`;
  logger.info({ url, readOnly: config.dashboard.readOnly, queues: queues.size }, 'dashboard listening');

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    queueNames: () => [...queues.keys()].sort(),
    refresh,
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await app.close();
        await Promise.allSettled([...queues.values()].map((q) => q.close()));
      })();
      return stopped;
    },
  };
}

/** The host part of a URL for a bind address (a wildcard bind is reached on loopback). */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
