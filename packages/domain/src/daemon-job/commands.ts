import type { DependencyBlock } from '../dag/after-graph';
import type { ConcurrencyPolicyView, DaemonJobSpecView, TriggerOnView } from './views';

/**
 * Why a run was triggered. `NodeJoined` covers a new node, a node Ready again and a node that now
 * matches the selector: the decider forgets nodes that leave the targets (its state stays bounded
 * by the current target set), so it cannot tell these apart.
 */
export type TriggerReason =
  | 'Created'
  | 'SpecChanged'
  | 'NodeJoined'
  | 'NodeRebooted'
  | 'Manual'
  | 'RetryFailed';

/** The reconcile read the DaemonJob object; `generation` is `metadata.generation`. */
export type ObserveSpec = Readonly<{
  type: 'ObserveSpec';
  generation: number;
  after: readonly string[];
  retryLimit: number;
  concurrencyPolicy: ConcurrencyPolicyView;
  triggerOn: TriggerOnView;
  suspend: boolean;
  runSpecHash: string;
  at: string;
}>;

/** The reconcile computed the current target set (`targetNodes`), with each node's boot id. */
export type ObserveTargets = Readonly<{
  type: 'ObserveTargets';
  nodes: readonly Readonly<{ name: string; bootId?: string }>[];
  at: string;
}>;

/** The reconcile asked the namespace's AfterGraph why this job may not start. */
export type ObserveDependencies = Readonly<{
  type: 'ObserveDependencies';
  block: DependencyBlock;
  at: string;
}>;

/** Start a run on `nodes` (default: every target). `runId` is unique, chosen by the caller. */
export type TriggerRun = Readonly<{
  type: 'TriggerRun';
  runId: string;
  reason: TriggerReason;
  nodes?: readonly string[];
  generation: number;
  /** Value of the trigger annotation when the run was planned; recorded as lastTriggerValue. */
  triggerValue?: string;
  /** Value of the retry-failed annotation when the run was planned; recorded as lastRetryValue. */
  retryValue?: string;
  at: string;
}>;

/** A node-run worker created `reaperPodName` for attempt `attempt` (1-based) of `runId` on `node`. */
export type StartNodeRun = Readonly<{
  type: 'StartNodeRun';
  runId: string;
  node: string;
  attempt: number;
  reaperPodName: string;
  at: string;
}>;

/** The ReaperPod of an attempt finished. */
export type FinishNodeRun = Readonly<{
  type: 'FinishNodeRun';
  runId: string;
  node: string;
  attempt: number;
  outcome: 'Succeeded' | 'Failed';
  exitCode?: number;
  message?: string;
  /** Why a failed attempt ended when it is not the command's exit: `DeadlineExceeded`. */
  reason?: NodeFailureReason;
  /** Epoch ms before which a retry must not start: `at + retryDelayMs(retryCount + 1, ...)`. */
  retryAt?: number;
  at: string;
}>;

/**
 * A node-run worker found its node held by a dependency (nodeGate): `DependencyWaiting` while one
 * has not succeeded there yet, `DependencyFailed` when one exhausted its retries there; or held
 * because the job is suspended (`Suspended`: it would have started its attempt now).
 */
export type HoldNodeRun = Readonly<{
  type: 'HoldNodeRun';
  runId: string;
  node: string;
  reason: NodeHoldReason;
  message: string;
  at: string;
}>;

export type NodeHoldReason = 'DependencyWaiting' | 'DependencyFailed' | 'Suspended';

/** A failed attempt stopped by the engine: it ran longer than spec.activeDeadlineSeconds. */
export type NodeFailureReason = 'DeadlineExceeded';

/** Everything the scheduler may ask of one DaemonJob. */
export type DaemonJobCommand =
  | ObserveSpec
  | ObserveTargets
  | ObserveDependencies
  | TriggerRun
  | StartNodeRun
  | FinishNodeRun
  | HoldNodeRun;

/** The ObserveSpec command for a (defaulted) spec view. */
export function toObserveSpec(spec: DaemonJobSpecView, at: string): ObserveSpec {
  const { generation, after, retryLimit, concurrencyPolicy, triggerOn, suspend, runSpecHash } = spec;
  return {
    type: 'ObserveSpec',
    generation,
    after,
    retryLimit,
    concurrencyPolicy,
    triggerOn,
    suspend,
    runSpecHash,
    at,
  };
}
