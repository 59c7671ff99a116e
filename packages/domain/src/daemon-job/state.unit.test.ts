import { describe, expect, it } from 'vitest';
import { at, finish, given, history, start, triggered } from './decider.test-support';
import type { DaemonJobEvent, DaemonJobEventType } from './events';
import { evolve, fold, UnknownEventError } from './evolve';
import { type DaemonJobState, initialState } from './state';

/** One event of every type: adding an event type without a sample here fails to compile. */
const samples: { [T in DaemonJobEventType]: Extract<DaemonJobEvent, { type: T }> } = {
  SpecObserved: {
    type: 'SpecObserved',
    generation: 2,
    after: [],
    retryLimit: 1,
    concurrencyPolicy: 'Replace',
    triggerOn: 'Manual',
    suspend: false,
    runSpecHash: 'h2',
    at: at(10),
  },
  GenerationAdopted: { type: 'GenerationAdopted', generation: 2, at: at(10) },
  DaemonJobSuspended: { type: 'DaemonJobSuspended', at: at(10) },
  DaemonJobResumed: { type: 'DaemonJobResumed', at: at(10) },
  NodeJoinedTargets: { type: 'NodeJoinedTargets', node: 'n9', bootId: 'b', at: at(10) },
  NodeLeftTargets: { type: 'NodeLeftTargets', node: 'n1', at: at(10) },
  NodeRebooted: { type: 'NodeRebooted', node: 'n1', bootId: 'b2', previousBootId: 'boot-n1', at: at(10) },
  DependencyBlocked: {
    type: 'DependencyBlocked',
    reason: 'DependencyMissing',
    block: { kind: 'missing', names: ['x'] },
    message: 'dependency not found: x',
    at: at(10),
  },
  DependencyUnblocked: { type: 'DependencyUnblocked', at: at(10) },
  RunTriggered: {
    type: 'RunTriggered',
    runId: 'r',
    reason: 'Manual',
    generation: 1,
    nodes: ['n1'],
    at: at(10),
  },
  GenerationStarted: { type: 'GenerationStarted', generation: 2, at: at(10) },
  NodeRunQueued: { type: 'NodeRunQueued', node: 'n1', runId: 'r', at: at(10) },
  NodeRunSkipped: { type: 'NodeRunSkipped', node: 'n1', runId: 'r', keptRunId: 'run-1', at: at(10) },
  NodeRunReplaced: { type: 'NodeRunReplaced', node: 'n1', runId: 'r', oldRunId: 'run-1', at: at(10) },
  NodeRunCancelled: { type: 'NodeRunCancelled', node: 'n1', runId: 'run-1', at: at(10) },
  NodeRunStarted: {
    type: 'NodeRunStarted',
    node: 'n1',
    runId: 'run-1',
    attempt: 1,
    reaperPodName: 'p',
    at: at(10),
  },
  NodeRunSucceeded: { type: 'NodeRunSucceeded', node: 'n1', runId: 'run-1', attempt: 1, at: at(10) },
  NodeRunHeld: {
    type: 'NodeRunHeld',
    node: 'n1',
    runId: 'run-1',
    reason: 'DependencyWaiting',
    message: 'waiting for dependency a is running here',
    at: at(10),
  },
  NodeRunFailed: { type: 'NodeRunFailed', node: 'n1', runId: 'run-1', attempt: 1, exitCode: 2, at: at(10) },
  NodeRunRetryScheduled: {
    type: 'NodeRunRetryScheduled',
    node: 'n1',
    runId: 'run-1',
    retryCount: 1,
    retryLimit: 1,
    notBefore: 5,
    at: at(10),
  },
  NodeRunExhausted: { type: 'NodeRunExhausted', node: 'n1', runId: 'run-1', retryCount: 0, at: at(10) },
  DaemonJobCompleted: {
    type: 'DaemonJobCompleted',
    generation: 1,
    succeededNodes: 1,
    totalNodes: 1,
    at: at(10),
  },
  DaemonJobPartiallyFailed: {
    type: 'DaemonJobPartiallyFailed',
    generation: 1,
    succeededNodes: 0,
    failedNodes: 1,
    totalNodes: 1,
    at: at(10),
  },
};

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
};

const countsMatchNodes = (state: DaemonJobState): boolean => {
  const phases = Object.values(state.nodes).map((node) => node.phase);
  const needsRun = Object.values(state.nodes).filter((node) => node.needsRun).length;
  return (
    (['Idle', 'Queued', 'Running', 'RetryWaiting', 'Succeeded', 'Failed'] as const).every(
      (phase) => state.counts[phase] === phases.filter((p) => p === phase).length,
    ) && state.counts.needsRun === needsRun
  );
};

describe('evolve', () => {
  const base = given(triggered(['n1', 'n2']));

  it.each(Object.values(samples))('is total: $type yields a state with consistent counters', (event) => {
    const next = evolve(base, event);
    expect(next.version).toBe(base.version + 1);
    expect(countsMatchNodes(next)).toBe(true);
  });

  it('throws UnknownEventError with a stable code for an event type it does not know', () => {
    const unknown = { type: 'NodeTeleported', at: at(1) } as unknown as DaemonJobEvent;
    expect(() => evolve(initialState, unknown)).toThrow(UnknownEventError);
    expect(() => evolve(initialState, unknown)).toThrow(
      expect.objectContaining({ code: 'daemonJob.UnknownEvent' }),
    );
  });

  it('never mutates the state it is given', () => {
    const frozen = deepFreeze(given(triggered(['n1', 'n2'])));
    const events = history([start('run-1', 'n1'), finish('run-1', 'n1', 'Failed')], frozen);
    expect(() => fold(events, frozen)).not.toThrow();
    expect(() => Object.values(samples).map((event) => evolve(frozen, event))).not.toThrow();
  });
});

describe('fold', () => {
  it('equals reducing evolve over the events', () => {
    const events = [...triggered(['n1', 'n2', 'n3'])];
    events.push(...history([start('run-1', 'n1'), finish('run-1', 'n1', 'Succeeded')], given(events)));
    expect(fold(events)).toStrictEqual(events.reduce(evolve, initialState));
  });

  it('keeps the counters in step with the nodes', () => {
    expect(countsMatchNodes(fold([...triggered(['n1', 'n2']), ...Object.values(samples)]))).toBe(true);
  });
});
