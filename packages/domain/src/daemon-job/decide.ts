import type { DaemonJobPhaseView } from '../dag/after-graph';
import type { DaemonJobCommand } from './commands';
import { decideObserveDependencies, decideObserveSpec, decideObserveTargets } from './decide-observe';
import { decideFinishNodeRun, decideHoldNodeRun, decideStartNodeRun, decideTriggerRun } from './decide-runs';
import type { Decision } from './decision';
import type { DaemonJobEvent } from './events';
import { FoldSession } from './evolve';
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
 * The outcome event when `events` move the job into Completed / PartiallyFailed (the last active
 * node finished, a failed node left the targets, a run on zero nodes...), undefined otherwise.
 */
const outcomeEvent = (
  before: DaemonJobPhaseView,
  after: DaemonJobState,
  at: string,
): DaemonJobEvent | undefined => {
  const phase = derivePhase(after);
  if (phase === before) return undefined;
  const generation = after.observedGeneration ?? 0;
  const totalNodes = targetCount(after);
  const succeededNodes = after.counts.Succeeded;
  if (phase === 'Completed')
    return { type: 'DaemonJobCompleted', generation, succeededNodes, totalNodes, at };
  if (phase === 'PartiallyFailed') {
    const failedNodes = after.counts.Failed;
    return { type: 'DaemonJobPartiallyFailed', generation, succeededNodes, failedNodes, totalNodes, at };
  }
  return undefined;
};

/** A command's decision and the state after its events. */
export type Decided = Readonly<{ decision: Decision; state: DaemonJobState }>;

/**
 * decideCommand, also returning the state after the decision's events (which deciding the outcome
 * event folds anyway). With a `session`, the fold is that session's (see FoldSession): `state` must
 * then be the session's latest state or one from outside it, and is stale once this returns; the
 * caller continues from the returned state. Without one, `state` is left as it was.
 */
export function decideAndEvolve(
  command: DaemonJobCommand,
  state: DaemonJobState,
  session: FoldSession = new FoldSession(),
): Decided {
  const decision = decideOnly(command, state);
  if (decision.events.length === 0) return { decision, state };
  const before = derivePhase(state);
  const after = session.fold(decision.events, state);
  const outcome = outcomeEvent(before, after, command.at);
  if (!outcome) return { decision: { ...decision, events: [...decision.events] }, state: after };
  return {
    decision: { ...decision, events: [...decision.events, outcome] },
    state: session.fold([outcome], after),
  };
}

/**
 * The DaemonJob decider with the command's fate: the events to append (empty for a duplicate,
 * stale or rejected command) and a result the caller acts on (e.g. delete the ReaperPod it created
 * for a stale run). Pure: time and ids come in the command.
 */
export function decideCommand(command: DaemonJobCommand, state: DaemonJobState): Decision {
  return decideAndEvolve(command, state).decision;
}

/** `decide(command, state) -> events`: the events of decideCommand. */
export function decide(command: DaemonJobCommand, state: DaemonJobState): readonly DaemonJobEvent[] {
  return decideCommand(command, state).events;
}
