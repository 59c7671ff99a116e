import type { AfterJob, DaemonJobPhaseView, NodeView } from '@reaper-flow/domain';
import type { WorldNode } from '@reaper-flow/queue';

/** What targeting reads of a Node of the world. */
export function toNodeView(node: WorldNode): NodeView {
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
