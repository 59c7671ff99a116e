import type { DaemonJobCommand } from './commands';
import { decideObserveDependencies, decideObserveSpec, decideObserveTargets } from './decide-observe';
import { decideFinishNodeRun, decideHoldNodeRun, decideStartNodeRun, decideTriggerRun } from './decide-runs';
import type { Decision } from './decision';
import type { DaemonJobEvent } from './events';
import { fold } from './evolve';
import { derivePhase } from './phase';
import { type DaemonJobState, targetCount } from './state';

const decideOnly = (command: DaemonJobCommand, state: DaemonJobState): Decision => {
  switch (command.type) {
    case 'ObserveSpec':
      return decideObserveSpec(command, state);
    case 'ObserveTargets':
      return decideObserveTargets(command, state);
    case 'ObserveDependencies':
      return decideObserveDependencies(command, state);
    case 'TriggerRun':
      return decideTriggerRun(command, state);
    case 'StartNodeRun':
      return decideStartNodeRun(command, state);
    case 'FinishNodeRun':
      return decideFinishNodeRun(command, state);
    case 'HoldNodeRun':
      return decideHoldNodeRun(command, state);
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
};

/**
 * Appends DaemonJobCompleted / DaemonJobPartiallyFailed when the events move the job into that
 * phase (the last active node finished, a failed node left the targets, a run on zero nodes...).
 */
const withOutcome = (
  state: DaemonJobState,
  events: readonly DaemonJobEvent[],
  at: string,
): DaemonJobEvent[] => {
  const before = derivePhase(state);
  const after = fold(events, state);
  const phase = derivePhase(after);
  if (phase === before) return [...events];
  const generation = after.observedGeneration ?? 0;
  const totalNodes = targetCount(after);
  const succeededNodes = after.counts.Succeeded;
  if (phase === 'Completed') {
    return [...events, { type: 'DaemonJobCompleted', generation, succeededNodes, totalNodes, at }];
  }
  if (phase === 'PartiallyFailed') {
    const failedNodes = after.counts.Failed;
    return [
      ...events,
      { type: 'DaemonJobPartiallyFailed', generation, succeededNodes, failedNodes, totalNodes, at },
    ];
  }
  return [...events];
};

/**
 * The DaemonJob decider with the command's fate: the events to append (empty for a duplicate,
 * stale or rejected command) and a result the caller acts on (e.g. delete the ReaperPod it created
 * for a stale run). Pure: time and ids come in the command.
 */
export function decideCommand(command: DaemonJobCommand, state: DaemonJobState): Decision {
  const decision = decideOnly(command, state);
  if (decision.events.length === 0) return decision;
  return { ...decision, events: withOutcome(state, decision.events, command.at) };
}

/** `decide(command, state) -> events`: the events of decideCommand. */
export function decide(command: DaemonJobCommand, state: DaemonJobState): readonly DaemonJobEvent[] {
  return decideCommand(command, state).events;
}
