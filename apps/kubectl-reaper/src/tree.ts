import { waitingFor } from '@reaper-flow/domain';
import type { DaemonJobObject, ReaperPodObject } from './objects';
import { duration, type Style, table } from './style';

/** One node of a job, as `tree --nodes` and `-o json` show it. */
export interface NodeView {
  readonly node: string;
  readonly phase: string;
  readonly attempts: number;
  readonly exitCode?: number;
  readonly duration?: string;
  readonly reaperPod?: string;
  readonly message?: string;
}

/** One job, as `get`/`tree` show it. */
export interface JobView {
  readonly namespace: string;
  readonly name: string;
  readonly phase: string;
  readonly ready: number;
  readonly total: number;
  readonly failed: number;
  readonly after: readonly string[];
  readonly suspended: boolean;
  /** What it waits for: a dependency, a cycle, a failed dependency, or suspension; '' when nothing. */
  readonly waitingFor: string;
  readonly nodes?: readonly NodeView[];
}

/** The view of a job; `pods` (by name) give the nodes' durations. */
export function jobView(
  job: DaemonJobObject,
  pods: ReadonlyMap<string, ReaperPodObject> | undefined,
  fallbackNamespace: string,
): JobView {
  const status = job.status ?? {};
  const suspended = job.spec?.suspend === true;
  const view: JobView = {
    namespace: job.metadata.namespace ?? fallbackNamespace,
    name: job.metadata.name,
    phase: status.phase ?? 'Pending',
    ready: status.readyNodes ?? 0,
    total: status.totalNodes ?? 0,
    failed: status.failedNodes ?? 0,
    after: job.spec?.after ?? [],
    suspended,
    waitingFor: waitingFor(job),
  };
  if (!pods) return view;
  const nodes = (status.nodeStatuses ?? []).map((n): NodeView => {
    const pod = n.reaperPodName ? pods.get(n.reaperPodName) : undefined;
    const took = duration(pod?.status?.startTime, pod?.status?.completionTime);
    return {
      node: n.nodeName,
      phase: n.phase ?? 'Pending',
      attempts: n.reaperPodName ? (n.retryCount ?? 0) + 1 : 0,
      ...(n.exitCode !== undefined && { exitCode: n.exitCode }),
      ...(took && { duration: took }),
      ...(n.reaperPodName && { reaperPod: n.reaperPodName }),
      ...(n.message && { message: n.message }),
    };
  });
  return { ...view, nodes };
}

/** One line of the tree: its job, the drawing before the name, and the drawing before its node lines. */
interface TreeLine {
  readonly job: JobView;
  readonly prefix: string;
  /** Already drawn above (a second dependency) or closing a cycle: named only. */
  readonly repeat: boolean;
  readonly detailLead: string;
}

/**
 * The `after` DAG as a tree: jobs without (known) dependencies at the top, each job under the
 * jobs it waits for. A job with several dependencies is drawn in full under the first and named
 * again (`↑`) under the others; jobs only reachable through a cycle are drawn at the top.
 */
export function treeOrder(jobs: readonly JobView[]): TreeLine[] {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const children = new Map<string, JobView[]>();
  for (const job of jobs) {
    for (const dep of job.after) {
      if (!byName.has(dep)) continue;
      const list = children.get(dep) ?? [];
      list.push(job);
      children.set(dep, list);
    }
  }
  const sorted = (list: readonly JobView[]) => [...list].sort((a, b) => a.name.localeCompare(b.name));
  const out: TreeLine[] = [];
  const drawn = new Set<string>();
  const walk = (job: JobView, lead: string, branch: string, path: ReadonlySet<string>) => {
    const repeat = drawn.has(job.name) || path.has(job.name);
    const kids = repeat ? [] : sorted(children.get(job.name) ?? []);
    const nextLead = lead + (branch === '' ? '' : branch.startsWith('└') ? '   ' : '│  ');
    out.push({
      job,
      prefix: lead + branch,
      repeat,
      detailLead: nextLead + (kids.length > 0 ? '│  ' : '   '),
    });
    if (repeat) return;
    drawn.add(job.name);
    for (const [i, kid] of kids.entries()) {
      walk(kid, nextLead, i === kids.length - 1 ? '└─ ' : '├─ ', new Set([...path, job.name]));
    }
  };
  const roots = sorted(jobs.filter((j) => j.after.every((d) => !byName.has(d))));
  for (const root of roots) walk(root, '', '', new Set());
  // What is left waits on a cycle: draw it from its first member.
  for (const job of sorted(jobs)) if (!drawn.has(job.name)) walk(job, '', '', new Set());
  return out;
}

/**
 * The trees as one table (columns line up across namespaces); with nodes, one indented line per
 * node under its job. With `allNamespaces`, one tree per namespace and a NAMESPACE column.
 */
export function renderTrees(jobs: readonly JobView[], style: Style, allNamespaces: boolean): string {
  if (jobs.length === 0) return 'No ReaperDaemonJobs found.\n';
  const namespaces = [...new Set(jobs.map((j) => j.namespace))].sort();
  const ordered = namespaces.flatMap((ns) => treeOrder(jobs.filter((j) => j.namespace === ns)));
  const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'PHASE', 'READY', 'FAILED', 'WAITING FOR'];
  const rows: string[][] = [header];
  for (const { job, prefix, repeat, detailLead } of ordered) {
    const ns = allNamespaces ? [job.namespace] : [];
    if (repeat) {
      rows.push([...ns, `${prefix}${job.name} ↑`, '', '', '', '']);
      continue;
    }
    const phase = job.suspended ? `${job.phase} (suspended)` : job.phase;
    rows.push([
      ...ns,
      `${prefix}${style.bold(job.name)}`,
      style.phase(phase, job.suspended ? 'Suspended' : job.phase),
      `${job.ready}/${job.total}`,
      String(job.failed),
      job.waitingFor,
    ]);
    for (const n of job.nodes ?? []) {
      const detail = [
        `attempts=${n.attempts}`,
        ...(n.exitCode !== undefined ? [`exit=${n.exitCode}`] : []),
        ...(n.duration ? [`took=${n.duration}`] : []),
      ].join(' ');
      rows.push([
        ...ns,
        style.dim(`${detailLead}${n.node}`),
        style.phase(n.phase, n.phase),
        '',
        '',
        n.message ? `${detail}  ${n.message}` : detail,
      ]);
    }
  }
  return table(rows);
}
