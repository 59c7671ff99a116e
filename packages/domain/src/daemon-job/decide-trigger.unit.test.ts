import { describe, expect, it } from 'vitest';
import type { ObserveSpec } from './commands';
import {
  at,
  finish,
  given,
  history,
  observeSpec,
  observeTargets,
  start,
  trigger,
  triggered,
  when,
} from './decider.test-support';
import type { DaemonJobEvent } from './events';
import { planTriggers, toTriggerRun } from './plan-triggers';
import { toStatus } from './status';

const then = (events: readonly DaemonJobEvent[], more: Parameters<typeof history>[0]): DaemonJobEvent[] => [
  ...events,
  ...history(more, given(events)),
];

const waitingOnMount = { kind: 'waiting', names: ['mount'], phases: { mount: 'Running' } } as const;

describe('TriggerRun', () => {
  it('given a spec and two targets, when the Created run is triggered, then every node is queued and generation 1 starts', () => {
    const events = history([observeSpec(), observeTargets(['n1', 'n2'])]);
    expect(when(events, trigger('run-1')).events).toEqual([
      {
        type: 'RunTriggered',
        runId: 'run-1',
        reason: 'Created',
        generation: 1,
        nodes: ['n1', 'n2'],
        at: at(2),
      },
      { type: 'NodeRunQueued', node: 'n1', runId: 'run-1', at: at(2) },
      { type: 'NodeRunQueued', node: 'n2', runId: 'run-1', at: at(2) },
      { type: 'GenerationStarted', generation: 1, at: at(2) },
    ]);
  });

  it('given no target nodes, when the Created run is triggered, then the job completes at once', () => {
    const events = history([observeSpec(), observeTargets([])]);
    expect(when(events, trigger('run-1')).events).toEqual([
      { type: 'RunTriggered', runId: 'run-1', reason: 'Created', generation: 1, nodes: [], at: at(2) },
      { type: 'GenerationStarted', generation: 1, at: at(2) },
      { type: 'DaemonJobCompleted', generation: 1, succeededNodes: 0, totalNodes: 0, at: at(2) },
    ]);
  });

  it('given a dependency blocks, when a run is triggered, then it is rejected and observedGeneration does not advance', () => {
    const events = history([
      observeSpec({ after: ['mount'] }),
      observeTargets(['n1']),
      { type: 'ObserveDependencies', block: waitingOnMount, at: at(1) },
    ]);
    const decision = when(events, trigger('run-1'));
    expect(decision.events).toEqual([]);
    expect(decision.result).toEqual({
      kind: 'rejected',
      reason: 'DependenciesBlocked',
      message: 'waiting for dependency mount (Running)',
    });
    expect(toStatus(given(events))).toMatchObject({
      phase: 'Pending',
      message: 'waiting for dependency mount (Running)',
    });
    expect(toStatus(given(events)).observedGeneration).toBeUndefined();
  });

  it('given generation 1 completed and generation 2 blocked, when it is unblocked, then the SpecChanged run starts generation 2', () => {
    const spec2: Partial<ObserveSpec> = { generation: 2, after: ['mount'], at: at(10) };
    let events = then(triggered(['n1']), [start('run-1', 'n1'), finish('run-1', 'n1', 'Succeeded')]);
    events = then(events, [
      observeSpec(spec2),
      { type: 'ObserveDependencies', block: waitingOnMount, at: at(10) },
    ]);
    expect(when(events, trigger('run-2', { reason: 'SpecChanged', generation: 2 })).result.kind).toBe(
      'rejected',
    );
    expect(toStatus(given(events))).toMatchObject({ phase: 'Pending', observedGeneration: 1 });
    expect(planTriggers(given(events))).toEqual([]);

    events = then(events, [{ type: 'ObserveDependencies', block: { kind: 'none' }, at: at(11) }]);
    const [plan] = planTriggers(given(events));
    expect(plan).toEqual({ reason: 'SpecChanged', generation: 2 });
    const decided = when(
      events,
      toTriggerRun(plan ?? { reason: 'SpecChanged', generation: 2 }, 'run-2', at(12)),
    );
    expect(decided.events.map((event) => event.type)).toEqual([
      'RunTriggered',
      'NodeRunQueued',
      'GenerationStarted',
    ]);
    expect(toStatus(given([...events, ...decided.events])).observedGeneration).toBe(2);
  });

  it('given the same run id was already triggered, when it is delivered again, then it is a duplicate', () => {
    const decision = when(triggered(['n1']), trigger('run-1'));
    expect(decision).toEqual({ events: [], result: { kind: 'duplicate' } });
  });

  it('given the spec is at generation 2, when a run planned for generation 1 arrives, then it is stale', () => {
    const events = then(triggered(['n1']), [observeSpec({ generation: 2 })]);
    expect(when(events, trigger('run-2', { generation: 1 })).result).toMatchObject({
      kind: 'stale',
      reason: 'StaleGeneration',
    });
  });

  it('given two targets, when a new generation is triggered on one node only, then it is rejected', () => {
    const events = history([observeSpec(), observeTargets(['n1', 'n2'])]);
    expect(when(events, trigger('run-1', { nodes: ['n1'] })).result).toMatchObject({
      kind: 'rejected',
      reason: 'PartialGenerationStart',
    });
  });

  it('given no spec observed, when a run is triggered, then it is rejected', () => {
    expect(when([], trigger('run-1')).result).toMatchObject({ kind: 'rejected', reason: 'SpecNotObserved' });
  });
});

describe('re-trigger while running', () => {
  const runningOnN1 = (policy: 'Skip' | 'Replace') =>
    then(triggered(['n1', 'n2'], { concurrencyPolicy: policy }), [
      start('run-1', 'n1'),
      start('run-1', 'n2'),
      finish('run-1', 'n2', 'Succeeded'),
    ]);
  const manual = trigger('run-2', { reason: 'Manual', triggerValue: 'v1', at: at(20) });

  it('given Skip, when re-triggered, then the running node keeps its run and the idle node is queued', () => {
    expect(when(runningOnN1('Skip'), manual).events).toEqual([
      {
        type: 'RunTriggered',
        runId: 'run-2',
        reason: 'Manual',
        generation: 1,
        nodes: ['n1', 'n2'],
        triggerValue: 'v1',
        at: at(20),
      },
      { type: 'NodeRunSkipped', node: 'n1', runId: 'run-2', keptRunId: 'run-1', at: at(20) },
      { type: 'NodeRunQueued', node: 'n2', runId: 'run-2', at: at(20) },
    ]);
  });

  it('given Replace, when re-triggered, then the running node is replaced, naming the ReaperPod to delete', () => {
    expect(when(runningOnN1('Replace'), manual).events.slice(1)).toEqual([
      {
        type: 'NodeRunReplaced',
        node: 'n1',
        runId: 'run-2',
        oldRunId: 'run-1',
        oldReaperPodName: 'job-n1',
        at: at(20),
      },
      { type: 'NodeRunQueued', node: 'n1', runId: 'run-2', at: at(20) },
      { type: 'NodeRunQueued', node: 'n2', runId: 'run-2', at: at(20) },
    ]);
  });

  it('given Replace replaced run-1, when run-1 reports its result, then the result is stale and ignored', () => {
    const events = then(runningOnN1('Replace'), [manual]);
    const decision = when(events, finish('run-1', 'n1', 'Failed'));
    expect(decision.events).toEqual([]);
    expect(decision.result).toMatchObject({ kind: 'stale', reason: 'RunSuperseded' });
  });

  it('given Skip kept run-1, when run-1 finishes, then it counts for the node', () => {
    const events = then(runningOnN1('Skip'), [
      manual,
      start('run-2', 'n2'),
      finish('run-2', 'n2', 'Succeeded'),
    ]);
    const decision = when(events, finish('run-1', 'n1', 'Succeeded', 1, at(30)));
    expect(decision.events.map((event) => event.type)).toEqual(['NodeRunSucceeded', 'DaemonJobCompleted']);
  });
});

describe('Manual trigger values', () => {
  const completed = then(triggered(['n1', 'n2'], { triggerOn: 'Manual' }), [
    start('run-1', 'n1'),
    finish('run-1', 'n1', 'Succeeded'),
    start('run-1', 'n2'),
    finish('run-1', 'n2', 'Succeeded'),
    trigger('run-2', { reason: 'Manual', triggerValue: 'v1', at: at(10) }),
    start('run-2', 'n1'),
    finish('run-2', 'n1', 'Succeeded'),
    start('run-2', 'n2'),
    finish('run-2', 'n2', 'Succeeded'),
  ]);

  it('given value v1 was acted on, when v1 is triggered again, then nothing runs', () => {
    expect(when(completed, trigger('run-3', { reason: 'Manual', triggerValue: 'v1' }))).toEqual({
      events: [],
      result: { kind: 'duplicate' },
    });
  });

  it('given value v1 was acted on, when v2 is triggered, then every target runs and v2 is recorded', () => {
    const decision = when(completed, trigger('run-3', { reason: 'Manual', triggerValue: 'v2', at: at(30) }));
    expect(decision.events.map((event) => event.type)).toEqual([
      'RunTriggered',
      'NodeRunQueued',
      'NodeRunQueued',
    ]);
    expect(toStatus(given([...completed, ...decision.events])).lastTriggerValue).toBe('v2');
  });
});
