import type { DependencyBlock } from '../dag/after-graph';
import type { NodeFailureReason, NodeHoldReason, TriggerReason } from './commands';
import type { ConcurrencyPolicyView, TriggerOnView } from './views';

/** Reason of a DependencyBlocked event and of the Blocked condition. */
export type DependencyBlockReason =
  | 'DependencyMissing'
  | 'DependencyCycle'
  | 'DependencyFailed'
  | 'DependencyWaiting';

/**
 * Facts appended to a DaemonJob's log. Every event is a plain JSON object; `at` is the ISO time the
 * command that produced it carried. Per-node events name the run they belong to, so a reader can
 * tell a current fact from one about a replaced run.
 */
export type DaemonJobEvent =
  | Readonly<{
      type: 'SpecObserved';
      generation: number;
      after: readonly string[];
      retryLimit: number;
      concurrencyPolicy: ConcurrencyPolicyView;
      triggerOn: TriggerOnView;
      suspend: boolean;
      runSpecHash: string;
      at: string;
    }>
  /**
   * The new generation changed only fields that do not define a run (suspend, maxUnavailable,
   * activeDeadlineSeconds): it is taken as started, with the runs of the generation before.
   */
  | Readonly<{ type: 'GenerationAdopted'; generation: number; at: string }>
  | Readonly<{ type: 'DaemonJobSuspended'; at: string }>
  | Readonly<{ type: 'DaemonJobResumed'; at: string }>
  | Readonly<{ type: 'NodeJoinedTargets'; node: string; bootId?: string; at: string }>
  | Readonly<{ type: 'NodeLeftTargets'; node: string; at: string }>
  | Readonly<{ type: 'NodeRebooted'; node: string; bootId: string; previousBootId: string; at: string }>
  | Readonly<{
      type: 'DependencyBlocked';
      reason: DependencyBlockReason;
      block: Exclude<DependencyBlock, { kind: 'none' }>;
      message: string;
      at: string;
    }>
  | Readonly<{ type: 'DependencyUnblocked'; at: string }>
  | Readonly<{
      type: 'RunTriggered';
      runId: string;
      reason: TriggerReason;
      generation: number;
      nodes: readonly string[];
      triggerValue?: string;
      retryValue?: string;
      at: string;
    }>
  | Readonly<{ type: 'GenerationStarted'; generation: number; at: string }>
  | Readonly<{ type: 'NodeRunQueued'; node: string; runId: string; at: string }>
  | Readonly<{ type: 'NodeRunSkipped'; node: string; runId: string; keptRunId: string; at: string }>
  | Readonly<{
      type: 'NodeRunReplaced';
      node: string;
      runId: string;
      oldRunId: string;
      /** The ReaperPod of the replaced attempt, to delete. */
      oldReaperPodName?: string;
      at: string;
    }>
  | Readonly<{
      type: 'NodeRunCancelled';
      node: string;
      runId: string;
      /** The ReaperPod of the cancelled attempt, to delete. */
      reaperPodName?: string;
      at: string;
    }>
  | Readonly<{
      type: 'NodeRunStarted';
      node: string;
      runId: string;
      attempt: number;
      reaperPodName: string;
      at: string;
    }>
  | Readonly<{
      type: 'NodeRunSucceeded';
      node: string;
      runId: string;
      attempt: number;
      exitCode?: number;
      at: string;
    }>
  | Readonly<{
      type: 'NodeRunFailed';
      node: string;
      runId: string;
      attempt: number;
      exitCode?: number;
      message?: string;
      reason?: NodeFailureReason;
      at: string;
    }>
  | Readonly<{
      type: 'NodeRunRetryScheduled';
      node: string;
      runId: string;
      retryCount: number;
      retryLimit: number;
      /** Epoch ms; absent means "as soon as possible". */
      notBefore?: number;
      at: string;
    }>
  | Readonly<{
      type: 'NodeRunHeld';
      node: string;
      runId: string;
      reason: NodeHoldReason;
      message: string;
      at: string;
    }>
  | Readonly<{ type: 'NodeRunExhausted'; node: string; runId: string; retryCount: number; at: string }>
  | Readonly<{
      type: 'DaemonJobCompleted';
      generation: number;
      succeededNodes: number;
      totalNodes: number;
      at: string;
    }>
  | Readonly<{
      type: 'DaemonJobPartiallyFailed';
      generation: number;
      succeededNodes: number;
      failedNodes: number;
      totalNodes: number;
      at: string;
    }>;

/** Discriminator of DaemonJobEvent. */
export type DaemonJobEventType = DaemonJobEvent['type'];

/** The member of DaemonJobEvent with discriminator `T`. */
export type DaemonJobEventOf<T extends DaemonJobEventType> = Extract<DaemonJobEvent, { type: T }>;
