import type { AfterJob, DaemonJobPhaseView, NodeView, TaintView } from '@reaper-flow/domain';

/** A Node as the watcher stores it (see apps/watcher/src/projection.ts). */
export interface StoredNode {
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: { readonly taints?: readonly TaintView[]; readonly unschedulable?: boolean };
  readonly status?: {
    readonly conditions?: readonly { readonly type: string; readonly status: string }[];
    readonly nodeInfo?: { readonly bootID?: string };
  };
}

/** What targeting reads of a stored Node. */
export function toNodeView(node: StoredNode): NodeView {
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const bootId = node.status?.nodeInfo?.bootID;
  return {
    name: node.metadata.name,
    labels: node.metadata.labels ?? {},
    taints: node.spec?.taints ?? [],
    ready,
    ...(bootId ? { bootId } : {}),
    ...(node.spec?.unschedulable ? { unschedulable: true } : {}),
  };
}

/** A ReaperDaemonJob of the namespace as stored by the watcher, as far as `after` needs it. */
export interface StoredJobForGraph {
  readonly metadata: { readonly name: string; readonly generation?: number };
  readonly spec?: { readonly after?: readonly string[] };
  readonly status?: { readonly phase?: string; readonly observedGeneration?: number };
}

const PHASES: readonly DaemonJobPhaseView[] = ['Pending', 'Running', 'Completed', 'PartiallyFailed'];

/**
 * The `after` graph input. A job whose status has not caught up with its latest spec
 * (observedGeneration < generation) counts as Pending, whatever its status still says: right after a
 * spec change its old Completed must not release its dependents.
 */
export function toAfterJob(job: StoredJobForGraph): AfterJob {
  const status = job.status;
  const current = (status?.observedGeneration ?? 0) >= (job.metadata.generation ?? 1);
  const phase = PHASES.find((p) => p === status?.phase);
  return {
    name: job.metadata.name,
    after: job.spec?.after ?? [],
    phase: current && phase ? phase : 'Pending',
  };
}
