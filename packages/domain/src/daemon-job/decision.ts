import type { DaemonJobEvent } from './events';

/** Why a command arrived too late to matter; the caller cleans up what it created for it. */
export type StaleReason = 'NodeNotTargeted' | 'RunSuperseded' | 'AttemptSuperseded' | 'StaleGeneration';

/** Why a command cannot be applied now; retrying it unchanged later may succeed. */
export type RejectReason =
  | 'SpecNotObserved'
  | 'GenerationNotObserved'
  | 'DependenciesBlocked'
  | 'PartialGenerationStart'
  | 'AttemptNotDue'
  | 'AttemptNotStarted'
  | 'Suspended';

/**
 * What became of a command besides its events.
 * - accepted: its events (possibly none: an observation that changed nothing) were decided;
 * - duplicate: it was already applied (at-least-once delivery); no events;
 * - stale: it concerns a run, attempt or generation that has been superseded; no events;
 * - rejected: it does not apply to the current state; no events.
 */
export type CommandResult =
  | Readonly<{ kind: 'accepted' }>
  | Readonly<{ kind: 'duplicate' }>
  | Readonly<{ kind: 'stale'; reason: StaleReason; message: string }>
  | Readonly<{ kind: 'rejected'; reason: RejectReason; message: string }>;

/** Events to append, and how the command fared. */
export type Decision = Readonly<{ events: readonly DaemonJobEvent[]; result: CommandResult }>;

/** A decision with events. */
export const accepted = (events: readonly DaemonJobEvent[]): Decision => ({
  events,
  result: { kind: 'accepted' },
});

/** A re-delivered command. */
export const duplicate: Decision = { events: [], result: { kind: 'duplicate' } };

/** A superseded command. */
export const stale = (reason: StaleReason, message: string): Decision => ({
  events: [],
  result: { kind: 'stale', reason, message },
});

/** A command that does not apply now. */
export const rejected = (reason: RejectReason, message: string): Decision => ({
  events: [],
  result: { kind: 'rejected', reason, message },
});
