import { DaemonJobEventReason as Reason } from './event-reasons';
import type { DaemonJobEvent, DaemonJobEventOf } from './events';

/** A Kubernetes Event to record on the DaemonJob object. */
export type KubeEventView = Readonly<{ type: 'Normal' | 'Warning'; reason: Reason; message: string }>;

/** How many node names a grouped Event lists before "and N more". */
const NAMES_IN_EVENT = 5;

const listNames = (names: readonly string[]): string => {
  const shown = names.slice(0, NAMES_IN_EVENT).join(', ');
  return names.length > NAMES_IN_EVENT ? `${shown} and ${names.length - NAMES_IN_EVENT} more` : shown;
};

const nodes = (count: number): string => (count === 1 ? '1 node' : `${count} nodes`);

type Grouped = 'NodeRunSkipped' | 'NodeRunReplaced' | 'NodeRunCancelled';

/** One Event per run for the per-node events a trigger or a target change emits by the hundred. */
const groupedEvent = (type: Grouped, group: readonly DaemonJobEventOf<Grouped>[]): KubeEventView => {
  const names = group.map((event) => event.node);
  const runId = group[0]?.runId ?? '';
  switch (type) {
    case 'NodeRunSkipped':
      return {
        type: 'Normal',
        reason: Reason.TriggerSkipped,
        message: `run ${runId} skipped on ${nodes(names.length)} with an active run (concurrencyPolicy Skip): ${listNames(names)}`,
      };
    case 'NodeRunReplaced':
      return {
        type: 'Normal',
        reason: Reason.TriggerReplaced,
        message: `run ${runId} replaced the active run on ${nodes(names.length)} (concurrencyPolicy Replace): ${listNames(names)}`,
      };
    case 'NodeRunCancelled':
      return {
        type: 'Normal',
        reason: Reason.RunCancelled,
        message: `active run cancelled on ${nodes(names.length)} that left the targets: ${listNames(names)}`,
      };
    default: {
      const unknown: never = type;
      return unknown;
    }
  }
};

const single = (event: DaemonJobEvent): KubeEventView | undefined => {
  switch (event.type) {
    case 'RunTriggered':
      return {
        type: 'Normal',
        reason: Reason.RunTriggered,
        message: `run ${event.runId} (${event.reason}) started on ${nodes(event.nodes.length)} for generation ${event.generation}`,
      };
    case 'NodeRunFailed': {
      const exit = event.exitCode !== undefined ? ` (exit ${event.exitCode})` : '';
      const why = event.message !== undefined ? `: ${event.message}` : '';
      return {
        type: 'Warning',
        reason: event.reason ?? Reason.NodeRunFailed,
        message: `node ${event.node} attempt ${event.attempt} of run ${event.runId} failed${exit}${why}`,
      };
    }
    case 'NodeRunRetryScheduled':
      return {
        type: 'Normal',
        reason: Reason.RetryScheduled,
        message: `node ${event.node}: retry ${event.retryCount}/${event.retryLimit} of run ${event.runId} scheduled`,
      };
    case 'NodeRunExhausted':
      return {
        type: 'Warning',
        reason: Reason.RetriesExhausted,
        message: `node ${event.node} failed after ${event.retryCount} retries (run ${event.runId})`,
      };
    case 'DaemonJobCompleted':
      return {
        type: 'Normal',
        reason: Reason.Completed,
        message:
          event.totalNodes === 0
            ? `generation ${event.generation} completed: no nodes match`
            : `generation ${event.generation} completed: ${event.succeededNodes}/${event.totalNodes} nodes succeeded`,
      };
    case 'DaemonJobPartiallyFailed':
      return {
        type: 'Warning',
        reason: Reason.PartiallyFailed,
        message: `generation ${event.generation} partially failed: ${event.succeededNodes}/${event.totalNodes} nodes succeeded, ${event.failedNodes} failed`,
      };
    case 'DependencyBlocked':
      // Waiting for a dependency is the normal course of `after`; missing, failed and cyclic ones
      // need a human.
      return {
        type: event.reason === Reason.DependencyWaiting ? 'Normal' : 'Warning',
        reason: event.reason,
        message: event.message,
      };
    case 'DependencyUnblocked':
      return {
        type: 'Normal',
        reason: Reason.DependenciesCompleted,
        message: 'all dependencies are Completed',
      };
    case 'NodeRunHeld':
      // Waiting on a node is routine (no Event per node); a dependency that failed there needs a human.
      return event.reason === Reason.DependencyFailed
        ? {
            type: 'Warning',
            reason: Reason.DependencyFailedOnNode,
            message: `node ${event.node}: ${event.message}`,
          }
        : undefined;
    case 'DaemonJobSuspended':
      return { type: 'Normal', reason: Reason.Suspended, message: 'suspended: no new node run starts' };
    case 'DaemonJobResumed':
      return { type: 'Normal', reason: Reason.Resumed, message: 'resumed: waiting node runs start' };
    case 'GenerationAdopted':
    case 'NodeRunSkipped':
    case 'NodeRunReplaced':
    case 'NodeRunCancelled':
    case 'SpecObserved':
    case 'NodeJoinedTargets':
    case 'NodeLeftTargets':
    case 'NodeRebooted':
    case 'GenerationStarted':
    case 'NodeRunQueued':
    case 'NodeRunStarted':
    case 'NodeRunSucceeded':
      return undefined;
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
};

/**
 * Kubernetes Events for the events of one decision, in order. Per-node events that come in bulk
 * (skipped, replaced, cancelled) are grouped into one Event per kind and run; routine progress
 * (queued, started, succeeded, membership) records none, the status shows it.
 */
export function kubeEventsFor(events: readonly DaemonJobEvent[]): KubeEventView[] {
  type Group = { type: Grouped; members: DaemonJobEventOf<Grouped>[] };
  const slots: (KubeEventView | Group)[] = [];
  const groups = new Map<string, Group>();
  for (const event of events) {
    if (
      event.type === 'NodeRunSkipped' ||
      event.type === 'NodeRunReplaced' ||
      event.type === 'NodeRunCancelled'
    ) {
      // Cancellations concern each node's own run: one group for all of them.
      const key = event.type === 'NodeRunCancelled' ? event.type : `${event.type}/${event.runId}`;
      const group = groups.get(key);
      if (group) group.members.push(event);
      else {
        const created: Group = { type: event.type, members: [event] };
        groups.set(key, created);
        slots.push(created);
      }
      continue;
    }
    const kubeEvent = single(event);
    if (kubeEvent) slots.push(kubeEvent);
  }
  return slots.map((slot) => ('members' in slot ? groupedEvent(slot.type, slot.members) : slot));
}
