import type { DependencyBlock } from '../dag/after-graph';
import type { TriggerRun } from './commands';
import { generationPending } from './phase';
import type { DaemonJobState, NodeTriggerReason } from './state';

/** A TriggerRun without the parts the caller supplies (`runId`, `at`). */
export type PlannedTrigger = Readonly<Omit<TriggerRun, 'type' | 'runId' | 'at'>>;

/** What the reconcile read besides what the state already knows. */
export type TriggerObservation = Readonly<{
  /** Current value of the DaemonJob's trigger annotation, if set. */
  triggerValue?: string;
  /** Current value of the DaemonJob's retry-failed annotation, if set. */
  retryValue?: string;
}>;

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Which runs are due, from the state after ObserveSpec / ObserveTargets / ObserveDependencies.
 * Level-triggered: once the returned triggers are decided, planning again returns nothing.
 * - Nothing while no spec is observed, or a dependency is missing or on a cycle.
 * - Generation not started: one run on every target, `Created` (first) or `SpecChanged`, once every
 *   dependency is Completed (the seed's job-wide rule for the first run anywhere).
 * - Once the generation has started, a dependency that is running or failed somewhere does not hold
 *   the whole job back: the runs below are queued, and each node-run waits on its own node until
 *   every dependency succeeded there (nodeGate).
 * - Trigger annotation differs from lastTriggerValue: one `Manual` run on every target, whatever
 *   triggerOn says (the annotation is how a user forces a re-run).
 * - triggerOn NodeReady: one run per reason on the nodes that joined (new, Ready again, newly
 *   matching) or rebooted since their last run. A node joining a finished job runs alone.
 * - Retry-failed annotation differs from lastRetryValue: one `RetryFailed` run on the nodes that
 *   exhausted their retries in their current run (none: the value is only recorded).
 * - triggerOn Manual: node facts alone start nothing.
 * - spec.suspend: nothing; what is due stays due (a new generation, annotation values, joined and
 *   rebooted nodes) and is planned on resume.
 * Every trigger carries the current annotation values, so a run never re-fires for a value it saw.
 */
export function planTriggers(state: DaemonJobState, observation: TriggerObservation = {}): PlannedTrigger[] {
  const spec = state.spec;
  if (!spec || spec.suspend === true || blocksEveryRun(state.block)) return [];
  const generation = spec.generation;
  const value = observation.triggerValue;
  const retry = observation.retryValue;
  const triggerValue = {
    ...(value !== undefined && { triggerValue: value }),
    ...(retry !== undefined && { retryValue: retry }),
  };

  if (generationPending(state)) {
    if (state.block.kind !== 'none') return [];
    return [
      {
        reason: state.observedGeneration === undefined ? 'Created' : 'SpecChanged',
        generation,
        ...triggerValue,
      },
    ];
  }
  if (value !== undefined && value !== state.lastTriggerValue) {
    return [{ reason: 'Manual', generation, ...triggerValue }];
  }
  if (retry !== undefined && retry !== state.lastRetryValue) {
    const failed = Object.entries(state.nodes)
      .filter(([, node]) => node.phase === 'Failed')
      .map(([name]) => name)
      .sort(byName);
    return [{ reason: 'RetryFailed', nodes: failed, generation, ...triggerValue }];
  }
  if (spec.triggerOn !== 'NodeReady' || state.counts.needsRun === 0) return [];

  const byReason: Record<NodeTriggerReason, string[]> = { NodeJoined: [], NodeRebooted: [] };
  for (const [name, node] of Object.entries(state.nodes)) {
    if (node.needsRun) byReason[node.needsRun].push(name);
  }
  const plans: PlannedTrigger[] = [];
  for (const reason of ['NodeJoined', 'NodeRebooted'] as const) {
    const nodes = byReason[reason].sort(byName);
    if (nodes.length > 0) plans.push({ reason, nodes, generation, ...triggerValue });
  }
  return plans;
}

/** Completes a planned trigger into the command to decide. */
export function toTriggerRun(plan: PlannedTrigger, runId: string, at: string): TriggerRun {
  return { type: 'TriggerRun', ...plan, runId, at };
}

/**
 * A missing dependency or a cycle holds every run, whatever triggers it; waiting and failed ones
 * hold only the start of a generation (later runs are gated per node).
 */
export function blocksEveryRun(block: DependencyBlock): boolean {
  return block.kind === 'missing' || block.kind === 'cycle';
}
