import type { DaemonJobPhaseView } from '../dag/after-graph';
import type { TargetingSpec } from './targets';

/** `spec.concurrencyPolicy`: what a re-trigger does to a node whose run is still active. */
export type ConcurrencyPolicyView = 'Skip' | 'Replace';

/** `spec.triggerOn`: which facts start runs besides creation and spec changes. */
export type TriggerOnView = 'NodeReady' | 'Manual';

/**
 * The parts of a ReaperDaemonJob the domain logic reads, already defaulted (`after: []`,
 * `retryLimit: 0`, `concurrencyPolicy: 'Skip'`, `triggerOn: 'NodeReady'`). Defined here rather than
 * inferred from the zod schema so that the decider does not depend on the schema module.
 */
export type DaemonJobSpecView = TargetingSpec &
  Readonly<{
    /** `metadata.generation`. */
    generation: number;
    after: readonly string[];
    retryLimit: number;
    concurrencyPolicy: ConcurrencyPolicyView;
    triggerOn: TriggerOnView;
    /** `spec.suspend`: no new node run starts while true. */
    suspend: boolean;
    /**
     * Fingerprint of the spec fields that define a run (runSpecHash): a new generation that leaves
     * it unchanged (only suspend, maxUnavailable or activeDeadlineSeconds changed) starts no run.
     */
    runSpecHash: string;
  }>;

/** Phase of one node in `status.nodeStatuses[]`. */
export type NodeStatusPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** One entry of `status.nodeStatuses[]`. */
export type NodeStatusView = {
  nodeName: string;
  phase: NodeStatusPhase;
  reaperPodName?: string;
  exitCode?: number;
  retryCount: number;
  /** Why the node waits (a dependency on this node) or how its last attempt failed. */
  message?: string;
};

/** Condition types the DaemonJob status carries. */
export type DaemonJobConditionType = 'Blocked' | 'Progressing' | 'Complete' | 'Failed' | 'Suspended';

/** One entry of `status.conditions[]` (metav1.Condition). */
export type ConditionView = {
  type: DaemonJobConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
};

/**
 * `status` of a ReaperDaemonJob. Built fresh by `toStatus`, with mutable arrays so that it is
 * assignable to the CRD status type inferred from the schema.
 */
export type DaemonJobStatusView = {
  phase: DaemonJobPhaseView;
  readyNodes: number;
  totalNodes: number;
  failedNodes: number;
  observedGeneration?: number;
  nodeStatuses: NodeStatusView[];
  message?: string;
  lastTriggerValue?: string;
  lastRetryValue?: string;
  conditions: ConditionView[];
};
