import type { DaemonJobPhaseView } from '../dag/after-graph';
import type { NodeHoldReason } from './commands';
import { blockMessage, blockReasonName } from './dependency-block';
import { activeCount, derivePhase, generationPending, owedCount } from './phase';
import { type DaemonJobState, type NodeRunPhase, type NodeState, targetCount } from './state';
import type {
  ConditionView,
  DaemonJobConditionType,
  DaemonJobStatusView,
  NodeStatusPhase,
  NodeStatusView,
} from './views';

/**
 * Default bound of `status.nodeStatuses`. The status lives in one etcd object (1.5 MiB limit, and
 * every write ships the whole object): 100 entries of ~150 bytes keep it small on any cluster size.
 */
export const DEFAULT_MAX_NODE_STATUSES = 100;

/** Options of toStatus. */
export type StatusOptions = Readonly<{ maxNodeStatuses?: number }>;

/** How many failed nodes the message names before "and N more". */
const FAILED_NODES_IN_MESSAGE = 3;

const NODE_STATUS_PHASE: Record<NodeRunPhase, NodeStatusPhase> = {
  Idle: 'Pending',
  Queued: 'Pending',
  RetryWaiting: 'Pending',
  Running: 'Running',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
};

/** Failed first (what needs attention), then unfinished, then succeeded. */
const GROUP: Record<NodeStatusPhase, number> = { Failed: 0, Running: 1, Pending: 1, Succeeded: 2 };

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const nodeStatus = (name: string, node: NodeState): NodeStatusView => ({
  nodeName: name,
  phase: NODE_STATUS_PHASE[node.phase],
  ...(node.reaperPodName !== undefined && { reaperPodName: node.reaperPodName }),
  ...(node.exitCode !== undefined && { exitCode: node.exitCode }),
  retryCount: node.retryCount,
  ...(node.message !== undefined && { message: node.message }),
});

/**
 * `status.nodeStatuses`, bounded to `max` entries: failed nodes first, then running/pending, then
 * succeeded, by name within a group. Only the list is cut; readyNodes, failedNodes and totalNodes
 * stay exact, so the status of a 5000-node job is still small and still correct.
 */
const boundedNodeStatuses = (state: DaemonJobState, max: number): NodeStatusView[] =>
  Object.entries(state.nodes)
    .map(([name, node]) => nodeStatus(name, node))
    .sort((a, b) => GROUP[a.phase] - GROUP[b.phase] || byName(a.nodeName, b.nodeName))
    .slice(0, Math.max(0, max));

const failedDetail = (state: DaemonJobState): string => {
  const failed = Object.entries(state.nodes)
    .filter(([, node]) => node.phase === 'Failed')
    .sort(([a], [b]) => byName(a, b));
  const shown = failed.slice(0, FAILED_NODES_IN_MESSAGE).map(([name, node]) => {
    if (node.exitCode !== undefined) return `${name} exit ${node.exitCode}`;
    return node.message !== undefined ? `${name}: ${node.message}` : name;
  });
  const more = failed.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
};

const progressMessage = (state: DaemonJobState): string => {
  const c = state.counts;
  const parts = [`${c.Succeeded}/${targetCount(state)} nodes succeeded`];
  if (c.Running > 0) parts.push(`${c.Running} running`);
  if (c.Queued > 0) parts.push(`${c.Queued} queued`);
  const blocked = c.Queued + c.RetryWaiting > 0 ? heldCount(state, 'DependencyFailed') : 0;
  if (blocked > 0) parts.push(`${blocked} blocked by a dependency that failed there`);
  if (c.RetryWaiting > 0) parts.push(`${c.RetryWaiting} waiting to retry`);
  if (owedCount(state) > 0) parts.push(`${owedCount(state)} about to run`);
  if (c.Failed > 0) parts.push(`${c.Failed} failed (${failedDetail(state)})`);
  return parts.join(', ');
};

const heldCount = (state: DaemonJobState, reason: NodeHoldReason): number =>
  Object.values(state.nodes).filter((node) => node.held === reason).length;

const isHeldBack = (state: DaemonJobState): boolean =>
  state.block.kind !== 'none' &&
  activeCount(state) === 0 &&
  (generationPending(state) || owedCount(state) > 0);

/** Human-readable summary of the status. */
export function statusMessage(state: DaemonJobState, phase: DaemonJobPhaseView = derivePhase(state)): string {
  switch (phase) {
    case 'Pending': {
      if (state.block.kind !== 'none' && isHeldBack(state)) {
        const text = blockMessage(state.block);
        return state.block.kind === 'waiting' ? text : `blocked: ${text}`;
      }
      if (activeCount(state) > 0) {
        const blocked = heldCount(state, 'DependencyFailed');
        const queued = `${activeCount(state)} node runs queued`;
        return blocked > 0 ? `${queued}, ${blocked} blocked by a dependency that failed there` : queued;
      }
      if (state.observedGeneration === undefined || !state.spec) return 'not started';
      return `generation ${state.spec.generation} not started`;
    }
    case 'Completed': {
      const total = targetCount(state);
      if (total === 0) return 'no nodes match';
      const awaiting = state.counts.Idle;
      const base = `${state.counts.Succeeded}/${total} nodes succeeded`;
      return awaiting > 0 ? `${base}, ${awaiting} awaiting a manual trigger` : base;
    }
    case 'Running':
    case 'PartiallyFailed':
      return progressMessage(state);
    default: {
      const unknown: never = phase;
      return unknown;
    }
  }
}

const conditionDetail = (
  type: DaemonJobConditionType,
  state: DaemonJobState,
  phase: DaemonJobPhaseView,
  message: string,
): Readonly<{ reason: string; message: string }> => {
  switch (type) {
    case 'Blocked':
      if (state.block.kind !== 'none') {
        return { reason: blockReasonName(state.block), message: blockMessage(state.block) };
      }
      return (state.spec?.after.length ?? 0) > 0
        ? { reason: 'DependenciesCompleted', message: 'all dependencies are Completed' }
        : { reason: 'NoDependencies', message: 'no dependencies' };
    case 'Progressing':
      if (phase === 'Running') return { reason: 'NodeRunsActive', message };
      if (activeCount(state) > 0) return { reason: 'NodeRunsQueued', message };
      if (phase === 'Pending') return { reason: isHeldBack(state) ? 'Blocked' : 'NotStarted', message };
      return { reason: 'RunsFinished', message };
    case 'Complete':
      if (phase === 'Completed') {
        return { reason: targetCount(state) === 0 ? 'NoNodesMatch' : 'AllNodesSucceeded', message };
      }
      return { reason: phase, message };
    case 'Failed':
      if (phase === 'PartiallyFailed') return { reason: 'RetriesExhausted', message };
      if (state.counts.Failed > 0) {
        return {
          reason: 'NodeRunsActive',
          message: `${state.counts.Failed} failed, other node runs still active`,
        };
      }
      return { reason: 'NoNodeExhausted', message: 'no node has exhausted its retries' };
    case 'Suspended':
      if (state.spec?.suspend === true) {
        const running = state.counts.Running;
        return {
          reason: 'Suspended',
          message: `spec.suspend is true: no new node run starts (${running} running attempts finish)`,
        };
      }
      return { reason: 'NotSuspended', message: 'spec.suspend is false' };
    default: {
      const unknown: never = type;
      return unknown;
    }
  }
};

const CONDITION_ORDER: readonly DaemonJobConditionType[] = [
  'Blocked',
  'Progressing',
  'Complete',
  'Failed',
  'Suspended',
];

/**
 * The CRD status of a DaemonJob: `toStatus(fold(events))`. Phase and counts are exact; the node
 * list is bounded (see boundedNodeStatuses); conditions carry the time their status last changed.
 */
export function toStatus(state: DaemonJobState, options: StatusOptions = {}): DaemonJobStatusView {
  const phase = derivePhase(state);
  const progress = statusMessage(state, phase);
  // The phase stays what it is while suspended (a Running job with attempts still finishing is
  // Running); the Suspended condition and this prefix say that nothing new starts.
  const message = state.spec?.suspend === true ? `suspended: ${progress}` : progress;
  const conditions: ConditionView[] = [];
  for (const type of CONDITION_ORDER) {
    const tracked = state.conditions[type];
    if (!tracked) continue;
    conditions.push({
      type,
      status: tracked.status,
      ...conditionDetail(type, state, phase, message),
      lastTransitionTime: tracked.since,
      ...(state.observedGeneration !== undefined && { observedGeneration: state.observedGeneration }),
    });
  }
  return {
    phase,
    readyNodes: state.counts.Succeeded,
    totalNodes: targetCount(state),
    failedNodes: state.counts.Failed,
    ...(state.observedGeneration !== undefined && { observedGeneration: state.observedGeneration }),
    nodeStatuses: boundedNodeStatuses(state, options.maxNodeStatuses ?? DEFAULT_MAX_NODE_STATUSES),
    message,
    ...(state.lastTriggerValue !== undefined && { lastTriggerValue: state.lastTriggerValue }),
    ...(state.lastRetryValue !== undefined && { lastRetryValue: state.lastRetryValue }),
    conditions,
  };
}
