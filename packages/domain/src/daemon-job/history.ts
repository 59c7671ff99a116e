import type { TriggerReason } from './commands';
import type { DaemonJobEvent } from './events';

/** How one attempt (one ReaperPod) ended, or that it has not yet. */
export type AttemptOutcome = 'Running' | 'Succeeded' | 'Failed' | 'Cancelled' | 'Replaced';

/** Where one node-run (a run on one node, with its retries) stands. */
export type NodeRunOutcome =
  | 'Queued'
  | 'Held'
  | 'Running'
  | 'Retrying'
  | 'Succeeded'
  | 'Failed'
  | 'Skipped'
  | 'Cancelled'
  | 'Replaced';

export interface AttemptHistory {
  /** 1-based, as the ReaperPod's reaper.io/attempt annotation. */
  readonly attempt: number;
  readonly reaperPodName?: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly exitCode?: number;
  readonly outcome: AttemptOutcome;
  /** Why a failed attempt was stopped by the engine (DeadlineExceeded), not by its own exit. */
  readonly reason?: string;
  readonly message?: string;
}

export interface NodeRunHistory {
  readonly runId: string;
  /** Why the run was triggered; Unknown when its RunTriggered was trimmed from the log. */
  readonly reason: TriggerReason | 'Unknown';
  readonly triggeredAt?: string;
  /** The reaper.io/trigger value of a Manual run. */
  readonly triggerValue?: string;
  readonly queuedAt?: string;
  readonly outcome: NodeRunOutcome;
  /** Why a Held node-run waits. */
  readonly message?: string;
  readonly attempts: readonly AttemptHistory[];
}

export interface NodeHistory {
  readonly node: string;
  /** Oldest first. */
  readonly runs: readonly NodeRunHistory[];
}

type MutableAttempt = { -readonly [K in keyof AttemptHistory]: AttemptHistory[K] };
type MutableRun = Omit<{ -readonly [K in keyof NodeRunHistory]: NodeRunHistory[K] }, 'attempts'> & {
  attempts: MutableAttempt[];
};

const KNOWN_TYPES: ReadonlySet<string> = new Set<DaemonJobEvent['type']>([
  'SpecObserved',
  'NodeJoinedTargets',
  'NodeLeftTargets',
  'NodeRebooted',
  'DependencyBlocked',
  'DependencyUnblocked',
  'RunTriggered',
  'GenerationStarted',
  'NodeRunQueued',
  'NodeRunSkipped',
  'NodeRunReplaced',
  'NodeRunCancelled',
  'NodeRunStarted',
  'NodeRunSucceeded',
  'NodeRunFailed',
  'NodeRunRetryScheduled',
  'NodeRunHeld',
  'NodeRunExhausted',
  'DaemonJobCompleted',
  'DaemonJobPartiallyFailed',
  'GenerationAdopted',
  'DaemonJobSuspended',
  'DaemonJobResumed',
]);

/** Whether a value read back from a job's log looks like one of its events. */
export function isDaemonJobEvent(value: unknown): value is DaemonJobEvent {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && KNOWN_TYPES.has(type);
}

/**
 * Folds a DaemonJob's event log (oldest first) into its history per node: every run that touched
 * the node, why it was triggered, and each attempt with its start, end, exit code and outcome.
 * Values that are not events (a log written by a newer version) are ignored. Nodes sorted by name.
 */
export function foldHistory(log: readonly unknown[]): NodeHistory[] {
  const triggers = new Map<string, { reason: TriggerReason; at: string; triggerValue?: string }>();
  const nodes = new Map<string, Map<string, MutableRun>>();

  const runOf = (node: string, runId: string): MutableRun => {
    let runs = nodes.get(node);
    if (!runs) {
      runs = new Map();
      nodes.set(node, runs);
    }
    let run = runs.get(runId);
    if (!run) {
      const trigger = triggers.get(runId);
      run = {
        runId,
        reason: trigger?.reason ?? 'Unknown',
        ...(trigger && { triggeredAt: trigger.at }),
        ...(trigger?.triggerValue !== undefined && { triggerValue: trigger.triggerValue }),
        outcome: 'Queued',
        attempts: [],
      };
      runs.set(runId, run);
    }
    return run;
  };
  const attemptOf = (run: MutableRun, attempt: number): MutableAttempt | undefined =>
    run.attempts.find((a) => a.attempt === attempt);
  const endRunning = (run: MutableRun, outcome: AttemptOutcome, at: string): void => {
    for (const a of run.attempts) {
      if (a.outcome === 'Running') {
        a.outcome = outcome;
        a.endedAt = at;
      }
    }
  };

  for (const event of log) {
    if (!isDaemonJobEvent(event)) continue;
    switch (event.type) {
      case 'RunTriggered':
        triggers.set(event.runId, {
          reason: event.reason,
          at: event.at,
          ...(event.triggerValue !== undefined && { triggerValue: event.triggerValue }),
        });
        break;
      case 'NodeRunQueued': {
        const run = runOf(event.node, event.runId);
        run.queuedAt ??= event.at;
        break;
      }
      case 'NodeRunSkipped':
        runOf(event.node, event.runId).outcome = 'Skipped';
        break;
      case 'NodeRunReplaced': {
        const old = runOf(event.node, event.oldRunId);
        old.outcome = 'Replaced';
        endRunning(old, 'Replaced', event.at);
        const run = runOf(event.node, event.runId);
        run.queuedAt ??= event.at;
        break;
      }
      case 'NodeRunCancelled': {
        const run = runOf(event.node, event.runId);
        run.outcome = 'Cancelled';
        endRunning(run, 'Cancelled', event.at);
        break;
      }
      case 'NodeRunHeld': {
        const run = runOf(event.node, event.runId);
        run.outcome = 'Held';
        run.message = event.message;
        break;
      }
      case 'NodeRunStarted': {
        const run = runOf(event.node, event.runId);
        run.outcome = 'Running';
        delete run.message;
        if (!attemptOf(run, event.attempt)) {
          run.attempts.push({
            attempt: event.attempt,
            reaperPodName: event.reaperPodName,
            startedAt: event.at,
            outcome: 'Running',
          });
          run.attempts.sort((a, b) => a.attempt - b.attempt);
        }
        break;
      }
      case 'NodeRunSucceeded':
      case 'NodeRunFailed': {
        const run = runOf(event.node, event.runId);
        const succeeded = event.type === 'NodeRunSucceeded';
        run.outcome = succeeded ? 'Succeeded' : 'Failed';
        let attempt = attemptOf(run, event.attempt);
        if (!attempt) {
          // Its NodeRunStarted was trimmed from the log: the end is still worth showing.
          attempt = { attempt: event.attempt, startedAt: '', outcome: 'Running' };
          run.attempts.push(attempt);
          run.attempts.sort((a, b) => a.attempt - b.attempt);
        }
        attempt.outcome = succeeded ? 'Succeeded' : 'Failed';
        attempt.endedAt = event.at;
        if (event.exitCode !== undefined) attempt.exitCode = event.exitCode;
        if (event.type === 'NodeRunFailed') {
          if (event.reason !== undefined) attempt.reason = event.reason;
          if (event.message !== undefined) attempt.message = event.message;
        }
        break;
      }
      case 'NodeRunRetryScheduled':
        runOf(event.node, event.runId).outcome = 'Retrying';
        break;
      case 'NodeRunExhausted':
        runOf(event.node, event.runId).outcome = 'Failed';
        break;
      case 'SpecObserved':
      case 'NodeJoinedTargets':
      case 'NodeLeftTargets':
      case 'NodeRebooted':
      case 'DependencyBlocked':
      case 'DependencyUnblocked':
      case 'GenerationStarted':
      case 'DaemonJobCompleted':
      case 'DaemonJobPartiallyFailed':
      case 'GenerationAdopted':
      case 'DaemonJobSuspended':
      case 'DaemonJobResumed':
        break;
      default: {
        const unhandled: never = event;
        void unhandled;
      }
    }
  }
  return [...nodes.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([node, runs]) => ({ node, runs: [...runs.values()] }));
}
