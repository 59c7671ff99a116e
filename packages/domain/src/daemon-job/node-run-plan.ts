import type { Persisted } from '../schemas/object-meta';
import type { ReaperDaemonJob } from '../schemas/reaper-daemon-job';
import type { ReaperPod } from '../schemas/reaper-pod';
import { reaperPodNameFor } from '../translate/desired-reaper-pod';
import { type BackoffPolicy, retryDelayMs } from './backoff';
import type { FinishNodeRun, HoldNodeRun, StartNodeRun } from './commands';
import type { NodeGate } from './node-gate';
import { maxNodesInFlight } from './rollout-limit';
import { belongsTo } from './run-pod';

/**
 * One step of a node-run (one node's part of a DaemonJob run) as a pure plan; the shell is
 * apps/scheduler/src/daemon-job/node-run.ts. The step machine (kept in the BullMQ job's data):
 * - create: make the attempt's ReaperPod (unless the job is suspended, a dependency holds the node
 *   or no rollout slot is free: then park), report StartNodeRun, park until it changes;
 * - wait: when the attempt's ReaperPod has ended (or overrun its deadline), report FinishNodeRun and
 *   finish, or park until the retry's backoff has passed;
 * - backoff: the backoff is over: as create, with the next attempt.
 *
 * Some facts cost a read or a write with a result (registering as held before reading the gate,
 * acquiring a slot, creating the ReaperPod), and which are needed depends on the ones before. So
 * the plan asks: given the facts so far it returns the next question, or the step's end (park or
 * finish) with the effects to perform first. The shell answers each question and plans again, so
 * every read happens where it happened before and only when it is needed.
 */

/**
 * While parked, a node-run is woken by the watcher when its ReaperPod changes. The watchdog wakes it
 * anyway after this long, in case a wake-up was lost (watcher restarting): a safety net, not a poll.
 */
export const NODE_RUN_WATCHDOG_MS = 60_000;
/** The node status message of a node-run parked on the job's suspension. */
export const SUSPENDED_MESSAGE = 'waiting: the job is suspended';
/** A create that met a ReaperPod still being removed tries again this soon. */
export const RECREATE_DELAY_MS = 300;

/** Where a node-run stands (the queue's NodeRunData, as far as the plan reads it). */
export interface NodeRunStepState {
  readonly job: string;
  readonly runId: string;
  readonly node: string;
  /** 1-based attempt of this run on this node. */
  readonly attempt: number;
  readonly step: 'create' | 'wait' | 'backoff';
  /** Backoff step: epoch ms before which the next attempt must not start. */
  readonly notBefore?: number | undefined;
  /** The hold last reported: reported again only when it changes. */
  readonly held?: string | undefined;
}

/** What `ensureReaperPod` found: made now, made by an earlier try of this step, or an older one in the way (removed). */
export type EnsureReaperPodResult = 'created' | 'adopted' | 'blocked';

/** What the shell has found out in this step so far; each fact but the first two only when asked. */
export interface NodeRunFacts {
  /** The job, if it still exists as the incarnation this node-run belongs to. */
  readonly job: Persisted<ReaperDaemonJob> | undefined;
  /** The run that owns the node in the job's run index. */
  readonly currentRunId: string | undefined;
  /** Registered as parked on the suspension, then read the job again: still suspended? */
  readonly stillSuspended?: boolean;
  /** The per-node `after` gate (registered as held before the read). */
  readonly gate?: NodeGate;
  /** The number of targets the job's engine counted (its progress index), for a percentage maxUnavailable. */
  readonly rolloutTargets?: number;
  /** Whether a rollout slot is held now. */
  readonly slotAcquired?: boolean;
  readonly ensured?: EnsureReaperPodResult;
  /** The ReaperPod named for this node as last seen (the world, else the API). */
  readonly observed?: { readonly reaperPod: ReaperPod | undefined };
}

export interface NodeRunStepInput {
  readonly state: NodeRunStepState;
  readonly facts: NodeRunFacts;
  /** The clock now (epoch ms). */
  readonly nowMs: number;
  /** A number in 0..1 drawn once for the step (the retry's jitter). */
  readonly random01: number;
  readonly retry: BackoffPolicy;
  /** rollout.maxNodesInFlight, for a job without maxUnavailable (0: no limit). */
  readonly maxNodesInFlight: number;
}

export type NodeRunQuestion =
  | Readonly<{ kind: 'stillSuspended' }>
  | Readonly<{ kind: 'dependencyGate' }>
  | Readonly<{ kind: 'rolloutTargets' }>
  | Readonly<{ kind: 'acquireSlot'; max: number }>
  | Readonly<{ kind: 'ensureReaperPod' }>
  | Readonly<{ kind: 'observeReaperPod' }>;

/** What the shell performs, in order, before the step parks or finishes. */
export type NodeRunEffect =
  /** Append to the job's inbox and enqueue the job's key, so its reconcile folds the fact. */
  | Readonly<{ type: 'report'; command: StartNodeRun | FinishNodeRun | HoldNodeRun }>
  /** Free this node-run's rollout slot and wake the oldest waiter. */
  | Readonly<{ type: 'releaseSlot' }>
  /** Delete this attempt's ReaperPod (only if it still is this attempt's). */
  | Readonly<{ type: 'deleteAttemptPod' }>
  /** Wake the node-run of another run of this job on this node. */
  | Readonly<{ type: 'wake'; runId: string }>
  | Readonly<{ type: 'count'; metric: 'nodeRuns'; outcome: 'Succeeded' | 'Failed' }>
  | Readonly<{ type: 'count'; metric: 'nodeRunRetries' }>
  | Readonly<{
      type: 'log';
      level: 'debug' | 'info';
      message: string;
      fields?: Readonly<Record<string, unknown>>;
    }>;

/** Changes to the step state, saved before parking. */
export type NodeRunStepChange = Partial<Pick<NodeRunStepState, 'step' | 'attempt' | 'notBefore' | 'held'>>;

export type NodeRunStepOutcome = 'Succeeded' | 'Failed' | 'Superseded';

export type NodeRunPlan =
  | Readonly<{ kind: 'ask'; question: NodeRunQuestion }>
  /** Park (a delayed job: no worker slot) until `untilMs` or an earlier wake; `next` saved first. */
  | Readonly<{ kind: 'park'; untilMs: number; next?: NodeRunStepChange; effects: readonly NodeRunEffect[] }>
  | Readonly<{
      kind: 'finish';
      outcome: NodeRunStepOutcome;
      exitCode?: number;
      effects: readonly NodeRunEffect[];
    }>;

const ask = (question: NodeRunQuestion): NodeRunPlan => ({ kind: 'ask', question });

/** The next question of a node-run step, or how it ends. */
export function planNodeRunStep(input: NodeRunStepInput): NodeRunPlan {
  const { state, facts } = input;
  const owner = facts.job;
  if (!owner || facts.currentRunId !== state.runId) return planSuperseded(state, facts);
  if (state.step === 'backoff' && state.notBefore !== undefined && input.nowMs < state.notBefore) {
    // Woken early (e.g. the failed attempt's pod changed): the backoff still applies.
    return { kind: 'park', untilMs: state.notBefore, effects: [] };
  }
  if (state.step === 'create' || state.step === 'backoff') return planStart(input, owner);
  return planWait(input, owner);
}

/** Replaced, cancelled (the node left the targets) or the job is gone: remove our attempt's pod. */
function planSuperseded(state: NodeRunStepState, facts: NodeRunFacts): NodeRunPlan {
  const current = facts.currentRunId;
  const effects: NodeRunEffect[] = [
    {
      type: 'log',
      level: 'debug',
      message: 'node-run superseded',
      fields: { current, jobFound: Boolean(facts.job) },
    },
    { type: 'deleteAttemptPod' },
  ];
  // The run that replaced us may be waiting for our pod to go away.
  if (current && current !== state.runId) effects.push({ type: 'wake', runId: current });
  effects.push({ type: 'releaseSlot' });
  return { kind: 'finish', outcome: 'Superseded', effects };
}

/** The create (and after-backoff) step: suspension, dependency gate, rollout slot, then the ReaperPod. */
function planStart(input: NodeRunStepInput, owner: Persisted<ReaperDaemonJob>): NodeRunPlan {
  const { state, facts, nowMs } = input;
  const at = new Date(nowMs).toISOString();
  const watchdog = nowMs + NODE_RUN_WATCHDOG_MS;
  if (owner.spec.suspend) {
    if (facts.stillSuspended === undefined) return ask({ kind: 'stillSuspended' });
    if (facts.stillSuspended) {
      // Suspended: this attempt's ReaperPod is not made. Parked without a rollout slot (one kept
      // from a failed attempt is given back), registered so that any reconcile of the job that
      // finds it no longer suspended wakes it; the status says why the node waits.
      const effects: NodeRunEffect[] = [
        { type: 'log', level: 'debug', message: 'node-run waits: the job is suspended' },
      ];
      if (state.held !== SUSPENDED_MESSAGE) {
        effects.push({ type: 'report', command: hold(state, 'Suspended', SUSPENDED_MESSAGE, at) });
      }
      effects.push({ type: 'releaseSlot' });
      return { kind: 'park', untilMs: watchdog, next: { held: SUSPENDED_MESSAGE }, effects };
    }
  }
  // `after` on this node: every dependency that targets it must have succeeded here in its newest
  // run. A held node-run parks (no slot taken) until a dependency's progress wakes it.
  if ((owner.spec.after ?? []).length > 0) {
    const gate = facts.gate;
    if (gate === undefined) return ask({ kind: 'dependencyGate' });
    if (gate.kind !== 'open') {
      const effects: NodeRunEffect[] = [];
      if (state.held !== gate.message) {
        const reason = gate.kind === 'failed' ? 'DependencyFailed' : 'DependencyWaiting';
        effects.push({ type: 'report', command: hold(state, reason, gate.message, at) });
      }
      effects.push({
        type: 'log',
        level: 'debug',
        message: 'node-run held by a dependency',
        fields: { gate: gate.message },
      });
      return { kind: 'park', untilMs: watchdog, next: { held: gate.message }, effects };
    }
  }
  // Rollout throttle: at most maxUnavailable (else rollout.maxNodesInFlight) nodes of this job run
  // at once (0: no limit). A node-run without a slot parks; the one that frees a slot wakes it.
  const maxUnavailable = owner.spec.maxUnavailable;
  const percentage = typeof maxUnavailable === 'string';
  if (percentage && facts.rolloutTargets === undefined) return ask({ kind: 'rolloutTargets' });
  const max = maxNodesInFlight(
    maxUnavailable,
    percentage ? (facts.rolloutTargets ?? 0) : 0,
    input.maxNodesInFlight,
  );
  if (max > 0) {
    if (facts.slotAcquired === undefined) return ask({ kind: 'acquireSlot', max });
    if (!facts.slotAcquired) return { kind: 'park', untilMs: watchdog, effects: [] };
  }
  if (facts.ensured === undefined) return ask({ kind: 'ensureReaperPod' });
  if (facts.ensured === 'blocked') {
    return { kind: 'park', untilMs: nowMs + RECREATE_DELAY_MS, next: { step: 'create' }, effects: [] };
  }
  const start: StartNodeRun = {
    type: 'StartNodeRun',
    runId: state.runId,
    node: state.node,
    attempt: state.attempt,
    reaperPodName: reaperPodNameFor(state.job, state.node),
    at,
  };
  // A ReaperPod this step found rather than made (a step repeated after a crash) may have ended
  // already, and the wake for that was served before this step: look at it again at once.
  const untilMs = facts.ensured === 'adopted' ? nowMs : watchdog;
  return { kind: 'park', untilMs, next: { step: 'wait' }, effects: [{ type: 'report', command: start }] };
}

/** The wait step: has this attempt's ReaperPod ended (or overrun its deadline)? */
function planWait(input: NodeRunStepInput, owner: Persisted<ReaperDaemonJob>): NodeRunPlan {
  const { state, facts, nowMs } = input;
  if (facts.observed === undefined) return ask({ kind: 'observeReaperPod' });
  const seen = facts.observed.reaperPod;
  const ours = seen && belongsTo(seen, { runId: state.runId, attempt: state.attempt }) ? seen : undefined;
  const phase = ours?.status?.phase;
  const ended = phase === 'Succeeded' || phase === 'Failed';
  const deadlineAt = attemptDeadline(owner, ours);
  const overdue = ours !== undefined && deadlineAt !== undefined && nowMs >= deadlineAt;
  if (ours && !ended && !overdue) {
    // Woken by the ReaperPod's changes; at the latest by its deadline, or the watchdog.
    return {
      kind: 'park',
      untilMs: Math.min(nowMs + NODE_RUN_WATCHDOG_MS, deadlineAt ?? Infinity),
      effects: [],
    };
  }
  const effects: NodeRunEffect[] = [];
  const deadlineExceeded = overdue && !ended;
  if (deadlineExceeded) {
    // Deleting the ReaperPod deletes its Pod, which stops the command on the node.
    effects.push(
      {
        type: 'log',
        level: 'info',
        message: 'attempt exceeded its deadline',
        fields: { activeDeadlineSeconds: owner.spec.activeDeadlineSeconds },
      },
      { type: 'deleteAttemptPod' },
    );
  }
  const exitCode = deadlineExceeded ? undefined : ours?.status?.exitCode;
  const withExit = exitCode === undefined ? {} : { exitCode };
  if (phase === 'Succeeded') {
    effects.push(
      { type: 'report', command: finish(state, 'Succeeded', nowMs, exitCode) },
      { type: 'count', metric: 'nodeRuns', outcome: 'Succeeded' },
      { type: 'releaseSlot' },
    );
    return { kind: 'finish', outcome: 'Succeeded', ...withExit, effects };
  }
  const message = deadlineExceeded
    ? `DeadlineExceeded: the attempt ran longer than activeDeadlineSeconds (${owner.spec.activeDeadlineSeconds}s) and was stopped`
    : ours
      ? ours.status?.message
      : 'the ReaperPod was deleted before it finished';
  const failed: FinishNodeRun = {
    ...finish(state, 'Failed', nowMs, exitCode, message),
    ...(deadlineExceeded && { reason: 'DeadlineExceeded' as const }),
  };
  if (state.attempt - 1 < owner.spec.retryLimit) {
    const retryAt = nowMs + retryDelayMs(state.attempt, input.retry, input.random01);
    effects.push(
      { type: 'report', command: { ...failed, retryAt } },
      { type: 'count', metric: 'nodeRunRetries' },
    );
    return {
      kind: 'park',
      untilMs: retryAt,
      next: { step: 'backoff', attempt: state.attempt + 1, notBefore: retryAt },
      effects,
    };
  }
  effects.push(
    { type: 'report', command: failed },
    { type: 'count', metric: 'nodeRuns', outcome: 'Failed' },
    { type: 'releaseSlot' },
  );
  return { kind: 'finish', outcome: 'Failed', ...withExit, effects };
}

function hold(
  state: NodeRunStepState,
  reason: HoldNodeRun['reason'],
  message: string,
  at: string,
): HoldNodeRun {
  return { type: 'HoldNodeRun', runId: state.runId, node: state.node, reason, message, at };
}

function finish(
  state: NodeRunStepState,
  outcome: 'Succeeded' | 'Failed',
  nowMs: number,
  exitCode?: number,
  message?: string,
): FinishNodeRun {
  return {
    type: 'FinishNodeRun',
    runId: state.runId,
    node: state.node,
    attempt: state.attempt,
    outcome,
    at: new Date(nowMs).toISOString(),
    ...(exitCode === undefined ? {} : { exitCode }),
    ...(message ? { message } : {}),
  };
}

/**
 * When this attempt must have ended (epoch ms): its ReaperPod's creation plus
 * spec.activeDeadlineSeconds. Read from the ReaperPod, so a repeated step or a restarted scheduler
 * keeps the same deadline.
 */
export function attemptDeadline(
  owner: Persisted<ReaperDaemonJob>,
  rpod: Pick<ReaperPod, 'metadata'> | undefined,
): number | undefined {
  const seconds = owner.spec.activeDeadlineSeconds;
  const created = rpod?.metadata.creationTimestamp;
  if (seconds === undefined || created === undefined) return undefined;
  const ms = Date.parse(created);
  return Number.isNaN(ms) ? undefined : ms + seconds * 1000;
}
