import { type DaemonJobEventOf, foldHistory, isDaemonJobEvent, waitingFor } from '@reaper-flow/domain';
import { DaemonJobStore, QueueNames, type RedisClient, runJobId, WorldStore } from '@reaper-flow/queue';
import type { FastifyInstance } from 'fastify';
import { type DagJob, layoutDag } from './dag-layout';
import { dagPage } from './dag-page';

interface DaemonJobLike {
  metadata: { name: string };
  spec?: { after?: string[]; suspend?: boolean };
  status?: {
    phase?: string;
    readyNodes?: number;
    totalNodes?: number;
    failedNodes?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    nodeStatuses?: {
      nodeName: string;
      phase?: string;
      retryCount?: number;
      exitCode?: number;
      reaperPodName?: string;
      message?: string;
    }[];
  };
}

/** A DaemonJob as the DAG page shows it (what it waits for: suspension, else the Blocked condition). */
function toDagJob(job: DaemonJobLike): DagJob {
  const s = job.status ?? {};
  return {
    name: job.metadata.name,
    phase: s.phase ?? 'Pending',
    ready: s.readyNodes ?? 0,
    total: s.totalNodes ?? 0,
    failed: s.failedNodes ?? 0,
    after: job.spec?.after ?? [],
    suspended: job.spec?.suspend === true,
    waitingFor: waitingFor(job),
    nodes: (s.nodeStatuses ?? []).map((n) => ({
      node: n.nodeName,
      phase: n.phase ?? 'Pending',
      attempts: n.reaperPodName ? (n.retryCount ?? 0) + 1 : 0,
      ...(n.exitCode !== undefined && { exitCode: n.exitCode }),
      ...(n.message && { message: n.message }),
    })),
  };
}

const isRunTriggered = (e: unknown): e is DaemonJobEventOf<'RunTriggered'> =>
  isDaemonJobEvent(e) && e.type === 'RunTriggered';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface DaemonJobRoutesOptions {
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly logMaxLen: number;
}

/**
 * The DaemonJob views next to Bull Board, behind the same authentication (the root onRequest hook):
 * - `GET /api/v1/namespaces/:ns/reaperdaemonjobs/:name/history`: the job's event log in Redis folded
 *   per node (runs, attempts, start, end, exit code, outcome); still there after the job's deletion
 *   for queues.retention.deletedJobLogSeconds; 404 when there is no log;
 * - `GET /api/v1/namespaces/:ns/dag`: the namespace's jobs laid out as the `after` DAG;
 * - `GET /dag?namespace=NS`: the page drawing it, polling the JSON every 2 s.
 */
export function registerDaemonJobRoutes(app: FastifyInstance, opts: DaemonJobRoutesOptions): void {
  const store = new DaemonJobStore(opts.redis, opts.prefix, opts.logMaxLen);
  // The DAG page draws the DaemonJobs as the watcher stored them: no API request per poll and no
  // list permission, like the scheduler's reconciles. A view a moment behind the API is harmless.
  const world = new WorldStore(opts.redis, opts.prefix, opts.logMaxLen);

  app.get<{ Params: { namespace: string; name: string } }>(
    '/api/v1/namespaces/:namespace/reaperdaemonjobs/:name/history',
    async (request, reply) => {
      const { namespace, name } = request.params;
      if (!DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(name)) {
        return reply.code(400).send({ message: 'namespace and name must be Kubernetes names' });
      }
      const log = await store.readLog(namespace, name);
      if (log.length === 0) {
        return reply.code(404).send({ message: `no history of reaperdaemonjob ${namespace}/${name}` });
      }
      // The latest run's flow parent in Bull Board (a relative URL, as the page's own links).
      const lastRun = log.filter(isRunTriggered).at(-1);
      const flowPath = lastRun
        ? `queue/${QueueNames.runs}/${encodeURIComponent(runJobId(namespace, name, lastRun.runId))}`
        : undefined;
      return { namespace, name, ...(flowPath && { flowPath }), nodes: foldHistory(log) };
    },
  );

  app.get<{ Params: { namespace: string } }>('/api/v1/namespaces/:namespace/dag', async (request, reply) => {
    const { namespace } = request.params;
    if (!DNS_LABEL.test(namespace))
      return reply.code(400).send({ message: 'namespace must be a Kubernetes name' });
    const stored = await world.list<DaemonJobLike>('ReaperDaemonJob', namespace);
    const jobs = stored.map(toDagJob).sort((a, b) => a.name.localeCompare(b.name));
    return { namespace, ...layoutDag(jobs) };
  });

  app.get<{ Querystring: { namespace?: string } }>('/dag', async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(dagPage());
  });
}
