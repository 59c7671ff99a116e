import type { FinishNodeRun, HoldNodeRun, StartNodeRun, TriggerRun } from './commands';
import { accepted, type Decision, duplicate, rejected, stale } from './decision';
import { blockMessage } from './dependency-block';
import type { DaemonJobEvent } from './events';
import { blocksEveryRun } from './plan-triggers';
import { type DaemonJobState, isActive, type NodeState, nodeOf } from './state';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Starts a run on the requested targets (default all; names that are not targets are dropped).
 * Rejected while a dependency is missing or cyclic, and a new generation also while one is not
 * Completed, so observedGeneration does not advance; other runs are gated per node (nodeGate). A node with an active
 * run is skipped (concurrencyPolicy Skip, its run kept) or replaced (Replace: queued for the new run;
 * the scheduler deletes the old ReaperPod). A generation newer than observedGeneration must cover
 * every target and emits GenerationStarted. Idempotent: a run id seen among the last
 * RECENT_RUN_IDS runs, or a Manual trigger with the last recorded trigger value, is a duplicate.
 */
export function decideTriggerRun(command: TriggerRun, state: DaemonJobState): Decision {
  const spec = state.spec;
  if (!spec) return rejected('SpecNotObserved', 'no ObserveSpec before the first TriggerRun');
  if (state.recentRunIds.includes(command.runId)) return duplicate;
  if (command.generation < spec.generation) {
    return stale(
      'StaleGeneration',
      `run planned for generation ${command.generation}, spec is at ${spec.generation}`,
    );
  }
  if (command.generation > spec.generation) {
    return rejected('GenerationNotObserved', `generation ${command.generation} not observed yet`);
  }
  if (spec.suspend === true) {
    return rejected('Suspended', 'spec.suspend is true: no run starts until it is false');
  }
  const startsGeneration =
    state.observedGeneration === undefined || command.generation > state.observedGeneration;
  const block = state.block;
  if (block.kind !== 'none' && (startsGeneration || blocksEveryRun(block))) {
    return rejected('DependenciesBlocked', blockMessage(block));
  }
  if (
    command.reason === 'Manual' &&
    command.triggerValue !== undefined &&
    command.triggerValue === state.lastTriggerValue
  ) {
    return duplicate;
  }
  if (command.reason === 'RetryFailed' && command.retryValue === state.lastRetryValue) return duplicate;

  const targets = Object.keys(state.nodes).sort(byName);
  const nodes = command.nodes
    ? [...new Set(command.nodes)].filter((name) => nodeOf(state, name) !== undefined).sort(byName)
    : targets;
  if (startsGeneration && nodes.length !== targets.length) {
    return rejected(
      'PartialGenerationStart',
      `generation ${command.generation} must start on all ${targets.length} targets, not ${nodes.length}`,
    );
  }
  const recordsTriggerValue =
    (command.triggerValue !== undefined && command.triggerValue !== state.lastTriggerValue) ||
    (command.retryValue !== undefined && command.retryValue !== state.lastRetryValue);
  if (nodes.length === 0 && !startsGeneration && !recordsTriggerValue) return accepted([]);

  const at = command.at;
  const runId = command.runId;
  const events: DaemonJobEvent[] = [
    {
      type: 'RunTriggered',
      runId,
      reason: command.reason,
      generation: command.generation,
      nodes,
      ...(command.triggerValue !== undefined && { triggerValue: command.triggerValue }),
      ...(command.retryValue !== undefined && { retryValue: command.retryValue }),
      at,
    },
  ];
  for (const name of nodes) {
    const node = nodeOf(state, name);
    if (node && isActive(node) && node.runId !== undefined) {
      if (spec.concurrencyPolicy === 'Skip') {
        events.push({ type: 'NodeRunSkipped', node: name, runId, keptRunId: node.runId, at });
        continue;
      }
      events.push({
        type: 'NodeRunReplaced',
        node: name,
        runId,
        oldRunId: node.runId,
        ...(node.phase === 'Running' &&
          node.reaperPodName !== undefined && { oldReaperPodName: node.reaperPodName }),
        at,
      });
    }
    events.push({ type: 'NodeRunQueued', node: name, runId, at });
  }
  if (startsGeneration) events.push({ type: 'GenerationStarted', generation: command.generation, at });
  return accepted(events);
}

/**
 * Checks shared by StartNodeRun and FinishNodeRun: a valid attempt number, the node targeted and
 * owned by this run, the attempt not superseded. Returns the node, or the decision to return.
 */
const ownedNode = (
  command: StartNodeRun | FinishNodeRun,
  state: DaemonJobState,
): Readonly<{ node: NodeState }> | Readonly<{ decision: Decision }> => {
  const { node: name, runId, attempt } = command;
  if (!Number.isInteger(attempt) || attempt < 1) {
    return { decision: rejected('AttemptNotDue', `attempt ${attempt} is not a positive integer`) };
  }
  const node = nodeOf(state, name);
  if (!node) return { decision: stale('NodeNotTargeted', `node ${name} is not a target`) };
  if (node.runId !== runId) {
    return { decision: stale('RunSuperseded', `run ${runId} no longer owns node ${name}`) };
  }
  if (attempt < node.attempt) {
    return { decision: stale('AttemptSuperseded', `attempt ${attempt} on node ${name} was superseded`) };
  }
  return { node };
};

/**
 * Records that an attempt's ReaperPod exists. Due attempt: 1 for a queued node, retryCount + 1 for
 * a node waiting for a retry. Re-delivery of a started attempt is a duplicate; a superseded run or
 * attempt is stale (the caller deletes the ReaperPod it created).
 */
export function decideStartNodeRun(command: StartNodeRun, state: DaemonJobState): Decision {
  const owned = ownedNode(command, state);
  if ('decision' in owned) return owned.decision;
  const node = owned.node;
  if (command.attempt === node.attempt) return duplicate;
  const due = node.phase === 'Queued' || node.phase === 'RetryWaiting' ? node.retryCount + 1 : undefined;
  if (due === undefined || command.attempt !== due) {
    return rejected(
      'AttemptNotDue',
      `attempt ${command.attempt} on node ${command.node} is not due (node ${node.phase}, attempt ${node.attempt})`,
    );
  }
  return accepted([
    {
      type: 'NodeRunStarted',
      node: command.node,
      runId: command.runId,
      attempt: command.attempt,
      reaperPodName: command.reaperPodName,
      at: command.at,
    },
  ]);
}

/**
 * Records an attempt's outcome. A failure is retried while retryCount < retryLimit (not before
 * `retryAt`), else the node is exhausted. Re-delivery of a finished attempt is a duplicate; results
 * of a superseded run or attempt are stale and change nothing.
 */
export function decideFinishNodeRun(command: FinishNodeRun, state: DaemonJobState): Decision {
  const owned = ownedNode(command, state);
  if ('decision' in owned) return owned.decision;
  const node = owned.node;
  if (command.attempt > node.attempt) {
    return rejected(
      'AttemptNotStarted',
      `attempt ${command.attempt} on node ${command.node} was not started`,
    );
  }
  if (node.phase !== 'Running') return duplicate;

  const { runId, attempt, at } = command;
  const exitCode = command.exitCode !== undefined ? { exitCode: command.exitCode } : {};
  if (command.outcome === 'Succeeded') {
    return accepted([{ type: 'NodeRunSucceeded', node: command.node, runId, attempt, ...exitCode, at }]);
  }
  const failed: DaemonJobEvent = {
    type: 'NodeRunFailed',
    node: command.node,
    runId,
    attempt,
    ...exitCode,
    ...(command.message !== undefined && { message: command.message }),
    ...(command.reason !== undefined && { reason: command.reason }),
    at,
  };
  const retryLimit = state.spec?.retryLimit ?? 0;
  if (node.retryCount < retryLimit) {
    return accepted([
      failed,
      {
        type: 'NodeRunRetryScheduled',
        node: command.node,
        runId,
        retryCount: node.retryCount + 1,
        retryLimit,
        ...(command.retryAt !== undefined && { notBefore: command.retryAt }),
        at,
      },
    ]);
  }
  return accepted([
    failed,
    { type: 'NodeRunExhausted', node: command.node, runId, retryCount: node.retryCount, at },
  ]);
}

/**
 * Records that a node's run waits for a dependency there (or is blocked by one that failed there),
 * so the status says why. Only a run that owns the node and has not started its next attempt can be
 * held; the same reason and message again is a duplicate (a woken node-run re-checks often).
 */
export function decideHoldNodeRun(command: HoldNodeRun, state: DaemonJobState): Decision {
  const node = nodeOf(state, command.node);
  if (!node) return stale('NodeNotTargeted', `node ${command.node} is not a target`);
  if (node.runId !== command.runId) {
    return stale('RunSuperseded', `run ${command.runId} no longer owns node ${command.node}`);
  }
  if (node.phase !== 'Queued' && node.phase !== 'RetryWaiting') return duplicate;
  if (node.held === command.reason && node.message === command.message) return duplicate;
  const { runId, reason, message, at } = command;
  return accepted([{ type: 'NodeRunHeld', node: command.node, runId, reason, message, at }]);
}
