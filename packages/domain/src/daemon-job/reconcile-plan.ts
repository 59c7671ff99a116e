import type { DependencyBlock } from '../dag/after-graph';
import type { Persisted } from '../schemas/object-meta';
import type { ReaperDaemonJob } from '../schemas/reaper-daemon-job';
import { reaperPodNameFor } from '../translate/desired-reaper-pod';
import { RETRY_FAILED_ANNOTATION, TRIGGER_ANNOTATION } from '../translate/labels';
import { type DaemonJobCommand, toObserveSpec } from './commands';
import { decideAndEvolve } from './decide';
import type { CommandResult } from './decision';
import type { EngineState, PendingFlow, RunPodRef } from './engine-state';
import type { DaemonJobEvent } from './events';
import { FoldSession } from './evolve';
import { progressIndexChanges } from './node-gate';
import { planTriggers, toTriggerRun } from './plan-triggers';
import { runSpecHash } from './run-spec';
import { type DaemonJobState, initialState, nodeOf } from './state';
import { toStatus } from './status';
import { decideStatusWrite, type StatusWrite, statusMark, type WrittenStatusMark } from './status-coalescing';

/**
 * A DaemonJob reconcile as a pure plan and a thin shell (apps/scheduler/src/daemon-job/reconcile.ts
 * reads, calls these, and performs what they return; the overlay's decideOverlay has the same
 * shape). `planReconcile` folds what the node-run workers reported, observes the spec, the targets
 * and the `after` dependencies, triggers what is due, and returns the new state with the intents
 * the shell must carry out (save, then act). `planStatus` decides the status write.
 */

/** One inbox entry as the shell read it: its id, and the command it parsed (undefined: rejected). */
export interface PlanInboxEntry {
  readonly id: string;
  readonly command: DaemonJobCommand | undefined;
}

export interface ReconcileInput {
  readonly job: Persisted<ReaperDaemonJob>;
  /** The saved engine state (initialEngineState for a new job) and its inbox cursor. */
  readonly previous: EngineState;
  readonly inboxCursor: string;
  /** What node-run workers appended since the cursor, oldest first. */
  readonly inbox: readonly PlanInboxEntry[];
  /**
   * The target nodes, when the shell read them (see `targetsOutdated`); undefined: the Nodes and
   * the spec generation have not changed since the targets were last observed.
   */
  readonly targets?: readonly { readonly name: string; readonly bootId?: string }[] | undefined;
  readonly nodesRevision: string;
  /** Why the namespace's `after` graph holds this job. */
  readonly dependencyBlock: DependencyBlock;
  readonly now: Date;
  /** A fresh unique run id per trigger (the shell's randomness). */
  readonly newRunId: () => string;
}

/** Hash changes of an index saved with the snapshot. */
export type IndexChanges = Readonly<{ set: Readonly<Record<string, string>>; del: readonly string[] }>;

export interface ReconcilePlan {
  readonly domain: DaemonJobState;
  /** The domain events decided now, appended to the job's log by the save. */
  readonly events: readonly DaemonJobEvent[];
  readonly inboxCursor: string;
  /** The state to save before acting: the decisions with every intent they imply. */
  readonly intents: EngineState;
  /** Runs started now (their flows are among intents.pendingFlows). */
  readonly newFlows: readonly PendingFlow[];
  readonly runIndex: IndexChanges;
  readonly progressIndex: IndexChanges;
}

/** Whether the targets must be observed again: a Node or the spec generation changed since. */
export function targetsOutdated(previous: EngineState, nodesRevision: string, generation: number): boolean {
  const seen = previous.targetsSeenAt;
  return !seen || seen.nodesRevision !== nodesRevision || seen.generation !== generation;
}

export function planReconcile(input: ReconcileInput): ReconcilePlan {
  const { job, previous } = input;
  const name = job.metadata.name;
  const spec = job.spec;
  // One fold session for the whole plan: the node map is copied once, then updated in place, so
  // n inbox commands cost O(n) and not O(n) each. Safe because `domain` is the only intermediate
  // state kept: every step continues from the latest one, planTriggers returns plain arrays, and
  // `previous.domain` (read again below for the index changes) came from outside the session.
  const session = new FoldSession();
  let domain = previous.domain;
  const events: DaemonJobEvent[] = [];
  const apply = (command: DaemonJobCommand): CommandResult => {
    const { decision, state } = decideAndEvolve(command, domain, session);
    domain = state;
    events.push(...decision.events);
    return decision.result;
  };
  const withEvents = (command: DaemonJobCommand) => {
    const before = events.length;
    apply(command);
    return events.slice(before);
  };

  // 1. What node-run workers reported since the last save.
  let inboxCursor = input.inboxCursor;
  const pendingDeletes: RunPodRef[] = [...previous.pendingDeletes];
  for (const entry of input.inbox) {
    inboxCursor = entry.id;
    const command = entry.command;
    if (!command) continue;
    const result = apply(command);
    if (command.type === 'StartNodeRun' && result.kind === 'stale') {
      // A worker created a ReaperPod for a run that lost the node meanwhile: remove that pod only.
      pendingDeletes.push({ name: command.reaperPodName, runId: command.runId, attempt: command.attempt });
    }
  }

  // 2. Observe the spec, the targets (when they may have changed) and the dependencies.
  const at = input.now.toISOString();
  const generation = job.metadata.generation ?? 1;
  apply(
    toObserveSpec(
      {
        generation,
        after: spec.after ?? [],
        retryLimit: spec.retryLimit,
        concurrencyPolicy: spec.concurrencyPolicy,
        triggerOn: spec.triggerOn,
        suspend: spec.suspend,
        runSpecHash: runSpecHash(spec),
        ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
        ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
      },
      at,
    ),
  );
  if (input.targets) apply({ type: 'ObserveTargets', nodes: input.targets, at });
  apply({ type: 'ObserveDependencies', block: input.dependencyBlock, at });

  // 3. Trigger what is due.
  const newFlows: PendingFlow[] = [];
  const triggerValue = job.metadata.annotations?.[TRIGGER_ANNOTATION];
  const retryValue = job.metadata.annotations?.[RETRY_FAILED_ANNOTATION];
  const observation = {
    ...(triggerValue !== undefined && { triggerValue }),
    ...(retryValue !== undefined && { retryValue }),
  };
  for (const plan of planTriggers(domain, observation)) {
    const runId = input.newRunId();
    const queued = withEvents(toTriggerRun(plan, runId, at)).flatMap((e) =>
      e.type === 'NodeRunQueued' ? [e.node] : [],
    );
    if (queued.length > 0) newFlows.push({ runId, generation: plan.generation, nodes: queued });
  }
  const leftNodes: string[] = [];
  for (const event of events) {
    if (event.type === 'NodeRunCancelled' && event.reaperPodName) {
      pendingDeletes.push({ name: event.reaperPodName, runId: event.runId });
    }
    if (event.type === 'NodeLeftTargets') leftNodes.push(reaperPodNameFor(name, event.node));
  }

  const intents: EngineState = {
    domain,
    pendingFlows: [...previous.pendingFlows, ...newFlows],
    pendingDeletes,
    leftNodePods: [...(previous.leftNodePods ?? []), ...leftNodes],
    targetsSeenAt: { nodesRevision: input.nodesRevision, generation },
    ...(previous.lastWrittenPhase ? { lastWrittenPhase: previous.lastWrittenPhase } : {}),
    ...(previous.lastWrittenStatus ? { lastWrittenStatus: previous.lastWrittenStatus } : {}),
    progressIndexed: true,
  };
  return {
    domain,
    events,
    inboxCursor,
    intents,
    newFlows,
    // Only the nodes the session touched can differ from `previous.domain`; an index never written
    // (not progressIndexed) is built from scratch.
    runIndex: runIndexChanges(previous.domain, domain, session.touched),
    progressIndex: previous.progressIndexed
      ? progressIndexChanges(previous.domain, domain, session.touched)
      : progressIndexChanges(initialState, domain),
  };
}

/** Which nodes changed owner run between two states (the index node-run steps read). */
export function runIndexChanges(
  before: DaemonJobState,
  after: DaemonJobState,
  /** When given, the only nodes whose entry may differ (a FoldSession's `touched`). */
  names?: Iterable<string>,
): IndexChanges {
  const set: Record<string, string> = {};
  const del: string[] = [];
  for (const node of names ?? new Set([...Object.keys(after.nodes), ...Object.keys(before.nodes)])) {
    const runId = nodeOf(after, node)?.runId;
    if (runId && nodeOf(before, node)?.runId !== runId) set[node] = runId;
    if (!runId && nodeOf(before, node)?.runId) del.push(node);
  }
  return { set, del };
}

export interface StatusPlan {
  readonly status: ReturnType<typeof toStatus>;
  /** Fingerprint of `status`, saved so an unchanged status is never written again. */
  readonly hash: string;
  readonly write: StatusWrite;
  /** What settledState records once `status` is written. */
  readonly written: WrittenStatus;
}

/** A status written, as the EngineState remembers it (its phase and its coalescing mark). */
export interface WrittenStatus {
  readonly phase: string;
  readonly mark: WrittenStatusMark;
}

/** The status of `domain` and whether to write it now, later (coalesced) or not at all. */
export function planStatus(input: {
  readonly domain: DaemonJobState;
  readonly lastWrittenPhase: string | undefined;
  /** The saved state's `lastWrittenStatus`. */
  readonly lastWritten: WrittenStatusMark | undefined;
  readonly lastStatusHash: string;
  readonly lastStatusWriteAt: number;
  readonly nowMs: number;
  readonly coalesceMs: number;
  readonly maxNodeStatuses: number;
}): StatusPlan {
  const status = toStatus(input.domain, { maxNodeStatuses: input.maxNodeStatuses });
  const hash = JSON.stringify(status);
  const mark = statusMark(status);
  const write = decideStatusWrite({
    phase: status.phase,
    lastWrittenPhase: input.lastWrittenPhase,
    changed: hash !== input.lastStatusHash,
    mark,
    totalNodes: status.totalNodes,
    lastWritten: input.lastWritten,
    nowMs: input.nowMs,
    lastWriteAtMs: input.lastStatusWriteAt,
    coalesceMs: input.coalesceMs,
  });
  return { status, hash, write, written: { phase: status.phase, mark } };
}

/**
 * The state saved after acting: the intents carried out, the status write recorded (`written`:
 * the StatusPlan's, when its status was written). Undefined when there is nothing to clear and no
 * status was written (the first save already holds everything, so a state that is large on big
 * clusters is not written twice).
 */
export function settledState(
  intents: EngineState,
  written: WrittenStatus | undefined,
): EngineState | undefined {
  const intentsDone =
    intents.pendingFlows.length > 0 ||
    intents.pendingDeletes.length > 0 ||
    (intents.leftNodePods?.length ?? 0) > 0;
  if (!intentsDone && written === undefined) return undefined;
  const lastWrittenPhase = written?.phase ?? intents.lastWrittenPhase;
  const lastWrittenStatus = written?.mark ?? intents.lastWrittenStatus;
  return {
    domain: intents.domain,
    pendingFlows: [],
    pendingDeletes: [],
    leftNodePods: [],
    ...(intents.targetsSeenAt ? { targetsSeenAt: intents.targetsSeenAt } : {}),
    ...(lastWrittenPhase ? { lastWrittenPhase } : {}),
    ...(lastWrittenStatus ? { lastWrittenStatus } : {}),
    progressIndexed: true,
  };
}
