import type { NodeHistory } from '@reaper-flow/domain';
import { ApiError, Resources } from '@reaper-flow/k8s';
import type { Context } from './context';
import { table } from './style';

export interface HistoryFlags {
  readonly job: string;
  readonly node?: string | undefined;
  readonly output?: string | undefined;
  readonly historyUrl?: string | undefined;
}

/** What the scheduler's dashboard answers on the history endpoint. */
interface HistoryResponse {
  readonly namespace: string;
  readonly name: string;
  readonly nodes: readonly NodeHistory[];
}

/**
 * Where the scheduler's dashboard is reached through the API server by default (infra/deploy). No
 * port: the Service has one, and RBAC matches the path's name segment as written, so a Role with
 * `resourceNames: [reaper-flow-dashboard]` allows exactly this path (`name:port` would need
 * `reaper-flow-dashboard:3000` there).
 */
const DEFAULT_DASHBOARD_SERVICE = 'reaper-system/reaper-flow-dashboard';
const DASHBOARD_SECRET = 'reaper-flow-dashboard';
/**
 * The header the dashboard also reads credentials from: the API server authenticates the caller
 * and then drops the Authorization header before proxying, so the dashboard's own credentials
 * travel in this one.
 */
const PROXIED_AUTH_HEADER = 'x-reaper-dashboard-authorization';

const historyPath = (namespace: string, name: string) =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/reaperdaemonjobs/${encodeURIComponent(name)}/history`;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The dashboard credentials from the environment, if set there. */
function envAuthorization(env: NodeJS.ProcessEnv): string | undefined {
  if (env.REAPER_DASHBOARD_TOKEN) return `Bearer ${env.REAPER_DASHBOARD_TOKEN}`;
  if (env.REAPER_DASHBOARD_PASSWORD)
    return basic(env.REAPER_DASHBOARD_USER ?? 'admin', env.REAPER_DASHBOARD_PASSWORD);
  return undefined;
}

/**
 * Reads the job's per-node history from the scheduler. Directly at `--history-url` (or
 * $REAPER_HISTORY_URL: the local cluster, where the scheduler is a process), otherwise through the
 * API server's Service proxy to $REAPER_DASHBOARD_SERVICE (`namespace/name[:port]`, default
 * reaper-system/reaper-flow-dashboard), so kubectl access (get on services/proxy of that Service,
 * and get on the dashboard Secret unless the credentials are in the environment) is all an
 * operator needs.
 */
async function fetchHistory(ctx: Context, flags: HistoryFlags): Promise<HistoryResponse | string> {
  const path = historyPath(ctx.namespace, flags.job);
  const base = flags.historyUrl ?? ctx.env.REAPER_HISTORY_URL;
  if (base) {
    const auth = envAuthorization(ctx.env);
    const res = await fetch(new URL(path.slice(1), base.endsWith('/') ? base : `${base}/`), {
      headers: auth ? { authorization: auth } : {},
      signal: ctx.signal,
    });
    if (res.status === 404)
      return `no history of reaperdaemonjob "${flags.job}" (never run, or past its retention)`;
    if (!res.ok) return `the history endpoint answered ${res.status}: ${(await res.text()).trim()}`;
    return (await res.json()) as HistoryResponse;
  }
  const service = ctx.env.REAPER_DASHBOARD_SERVICE ?? DEFAULT_DASHBOARD_SERVICE;
  const m = /^([^/:]+)\/([^/:]+)(?::([\w-]+))?$/.exec(service);
  if (!m)
    return `REAPER_DASHBOARD_SERVICE must look like namespace/name or namespace/name:port, got "${service}"`;
  const [, svcNs = '', svcName = '', port] = m;
  let auth = envAuthorization(ctx.env);
  if (!auth) {
    const secret = await ctx.kube.get<{ data?: Record<string, string> }>(
      Resources.secrets,
      DASHBOARD_SECRET,
      {
        namespace: svcNs,
      },
    );
    const password = secret?.data?.password;
    if (!password)
      return `no dashboard credentials: set REAPER_DASHBOARD_PASSWORD or REAPER_DASHBOARD_TOKEN, or allow reading the Secret ${svcNs}/${DASHBOARD_SECRET}`;
    auth = basic(ctx.env.REAPER_DASHBOARD_USER ?? 'admin', Buffer.from(password, 'base64').toString('utf8'));
  }
  try {
    const text = await ctx.kube.request<string>(
      'GET',
      `/api/v1/namespaces/${svcNs}/services/${port ? `${svcName}:${port}` : svcName}/proxy${path}`,
      { raw: true, headers: { [PROXIED_AUTH_HEADER]: auth }, signal: ctx.signal },
    );
    return JSON.parse(text) as HistoryResponse;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NotFound') {
      return `no history of reaperdaemonjob "${flags.job}" (never run, past its retention, or no Service ${service})`;
    }
    throw err;
  }
}

const shortTime = (iso: string | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-');

/** The history as a table: one line per attempt, and one per run that never started an attempt. */
function renderHistory(nodes: readonly NodeHistory[]): string {
  const rows: string[][] = [['NODE', 'RUN', 'TRIGGER', 'ATTEMPT', 'STARTED', 'ENDED', 'EXIT', 'OUTCOME']];
  for (const node of nodes) {
    for (const run of node.runs) {
      if (run.attempts.length === 0) {
        rows.push([node.node, run.runId, run.reason, '-', '-', '-', '-', run.outcome]);
        continue;
      }
      for (const a of run.attempts) {
        rows.push([
          node.node,
          run.runId,
          run.reason,
          String(a.attempt),
          shortTime(a.startedAt || undefined),
          shortTime(a.endedAt),
          a.exitCode === undefined ? '-' : String(a.exitCode),
          a.outcome === 'Failed' && (a.reason || a.message) ? `Failed: ${a.reason ?? a.message}` : a.outcome,
        ]);
      }
    }
  }
  return rows.length === 1 ? 'No runs recorded.\n' : table(rows);
}

/** `history rdjob/NAME [--node N]`: every run and attempt per node from the job's durable log. */
export async function historyCommand(ctx: Context, flags: HistoryFlags): Promise<number> {
  const history = await fetchHistory(ctx, flags);
  if (typeof history === 'string') {
    ctx.err.write(`${history}\n`);
    return 1;
  }
  const nodes = history.nodes.filter((n) => flags.node === undefined || n.node === flags.node);
  if (flags.output === 'json') {
    ctx.out.write(`${JSON.stringify({ ...history, nodes }, null, 2)}\n`);
    return 0;
  }
  ctx.out.write(renderHistory(nodes));
  return 0;
}
