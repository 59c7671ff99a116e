// The shape of a DaemonJob's folded state and read-only lookups on it. evolve/fold live in
// evolve.ts: they need phase.ts, which reads this shape, and one file would be an import cycle.
import type { DependencyBlock } from '../dag/after-graph';
import type { NodeHoldReason, TriggerReason } from './commands';
import type { ConcurrencyPolicyView, DaemonJobConditionType, TriggerOnView } from './views';

/**
 * Where a targeted node stands in its latest run.
 * Idle: no run since it joined (or its run was cancelled); Queued: a run owns it, no attempt yet;
 * Running: an attempt's ReaperPod exists; RetryWaiting: an attempt failed, the next waits for
 * `notBefore`; Succeeded / Failed: the run finished (Failed = retries exhausted).
 */
export type NodeRunPhase = 'Idle' | 'Queued' | 'Running' | 'RetryWaiting' | 'Succeeded' | 'Failed';

/** Node facts that ask for a run on that node (acted on when triggerOn is NodeReady). */
export type NodeTriggerReason = 'NodeJoined' | 'NodeRebooted';

/** One targeted node. Absent keys are omitted rather than set to undefined (compact JSON). */
export type NodeState = Readonly<{
  phase: NodeRunPhase;
  /** Run that owns the node; results of any other run are stale. */
  runId?: string;
  /** Last started attempt of `runId` (1-based); 0 before the first start. */
  attempt: number;
  retryCount: number;
  exitCode?: number;
  message?: string;
  reaperPodName?: string;
  bootId?: string;
  /** Epoch ms before which the next attempt must not start (RetryWaiting). */
  notBefore?: number;
  /** The run waits for a dependency on this node (nodeGate); `message` says which and why. */
  held?: NodeHoldReason;
  /** Set when the node joined or rebooted and no run has covered it since. */
  needsRun?: NodeTriggerReason;
  lastTransitionAt: string;
}>;

/** The spec fields the decider needs, from the latest SpecObserved. */
export type SpecState = Readonly<{
  generation: number;
  after: readonly string[];
  retryLimit: number;
  concurrencyPolicy: ConcurrencyPolicyView;
  triggerOn: TriggerOnView;
  suspend: boolean;
  /** Absent in a state saved before fingerprints existed: the next new generation then runs. */
  runSpecHash?: string;
}>;

/** Node counts per phase, plus how many nodes have `needsRun`, kept in step with `nodes`. */
type NodeCounts = Readonly<Record<NodeRunPhase, number> & { needsRun: number }>;

/** Status of a condition and the `at` of the event that last changed it. */
type ConditionState = Readonly<{ status: 'True' | 'False'; since: string }>;

/**
 * State of one DaemonJob, folded from its events. A plain JSON object: the scheduler snapshots it.
 * `nodes` holds the current targets only, so it stays bounded by the cluster size; the counters let
 * the phase be derived in O(1) per event.
 */
export type DaemonJobState = Readonly<{
  spec?: SpecState;
  /** Generation whose runs were last started (GenerationStarted), not merely observed. */
  observedGeneration?: number;
  /** A NodeRunStarted happened since the last GenerationStarted. */
  generationRunStarted: boolean;
  block: DependencyBlock;
  lastTriggerValue?: string;
  lastRetryValue?: string;
  lastRun?: Readonly<{ runId: string; reason: TriggerReason; generation: number; at: string }>;
  /** The last RECENT_RUN_IDS run ids, to recognise a re-delivered TriggerRun. */
  recentRunIds: readonly string[];
  nodes: Readonly<Record<string, NodeState>>;
  counts: NodeCounts;
  conditions: Readonly<Partial<Record<DaemonJobConditionType, ConditionState>>>;
  /** Number of events folded; the scheduler can use it as the snapshot's stream position check. */
  version: number;
}>;

/** How many run ids the state remembers for TriggerRun idempotency. */
export const RECENT_RUN_IDS = 16;

/** State of a DaemonJob before any event. */
export const initialState: DaemonJobState = {
  generationRunStarted: false,
  block: { kind: 'none' },
  recentRunIds: [],
  nodes: {},
  counts: { Idle: 0, Queued: 0, Running: 0, RetryWaiting: 0, Succeeded: 0, Failed: 0, needsRun: 0 },
  conditions: {},
  version: 0,
};

/** The node `name`, if targeted. Own-property lookup: node names such as `constructor` are valid. */
export function nodeOf(state: DaemonJobState, name: string): NodeState | undefined {
  return Object.hasOwn(state.nodes, name) ? state.nodes[name] : undefined;
}

/** True while a run owns the node and has not finished. */
export function isActive(node: NodeState): boolean {
  return node.phase === 'Queued' || node.phase === 'Running' || node.phase === 'RetryWaiting';
}

/** Number of targeted nodes. */
export function targetCount(state: DaemonJobState): number {
  const c = state.counts;
  return c.Idle + c.Queued + c.Running + c.RetryWaiting + c.Succeeded + c.Failed;
}
