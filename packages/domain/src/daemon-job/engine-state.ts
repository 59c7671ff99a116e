import { type DaemonJobState, initialState } from './state';
import type { WrittenStatusMark } from './status-coalescing';

/** A DaemonJob ReaperPod of one run (and, optionally, one attempt of it). */
export interface RunPodRef {
  readonly name: string;
  readonly runId: string;
  readonly attempt?: number | undefined;
}

/** A run whose flow must exist in BullMQ: recorded before the flow is added, cleared after. */
export interface PendingFlow {
  readonly runId: string;
  readonly generation: number;
  readonly nodes: readonly string[];
}

/**
 * What the engine keeps per DaemonJob besides the domain state. `pendingFlows` makes adding a run's
 * flow crash-safe: the decision (runs queued) and the intent (flows to add) are saved together,
 * the flows are added (idempotent: deterministic job ids), then the intent is cleared. A crash in
 * between only re-adds the same flows, which BullMQ ignores.
 */
export interface EngineState {
  readonly domain: DaemonJobState;
  readonly pendingFlows: readonly PendingFlow[];
  /** ReaperPods to delete (replaced, cancelled, stale): same crash-safety as pendingFlows. */
  readonly pendingDeletes: readonly RunPodRef[];
  /** ReaperPods of nodes that left the targets, to delete whatever their state. */
  readonly leftNodePods?: readonly string[];
  /**
   * The Node revision and spec generation the targets were last observed at: while both stand
   * still the targets cannot have changed, and the reconcile skips reading every Node.
   */
  readonly targetsSeenAt?: { readonly nodesRevision: string; readonly generation: number };
  /** Last status phase written, to write phase changes at once (coalescing only the rest). */
  readonly lastWrittenPhase?: string;
  /**
   * The settled counts and state key of the last status written, to batch progress writes
   * (decideStatusWrite). A snapshot saved by a version without it lacks it: its next change is
   * written once `coalesceMs` passed, which records it.
   */
  readonly lastWrittenStatus?: WrittenStatusMark;
  /**
   * The progress index (what dependents gate on) holds every node of `domain`. A snapshot saved by
   * a version without the index lacks it: its next save writes the index whole.
   */
  readonly progressIndexed?: true;
}

export const initialEngineState: EngineState = { domain: initialState, pendingFlows: [], pendingDeletes: [] };
