import { describe, expect, it } from 'vitest';
import { toObserveSpec } from './commands';
import {
  at,
  finish,
  given,
  history,
  observeSpec,
  observeTargets,
  start,
  triggered,
  when,
} from './decider.test-support';
import { toStatus } from './status';

describe('ObserveSpec', () => {
  it('given no events, when the spec is observed, then SpecObserved records it with sorted dependencies', () => {
    expect(when([], observeSpec({ after: ['b', 'a', 'b'], retryLimit: 2 })).events).toEqual([
      {
        type: 'SpecObserved',
        generation: 1,
        after: ['a', 'b'],
        retryLimit: 2,
        concurrencyPolicy: 'Skip',
        triggerOn: 'NodeReady',
        suspend: false,
        runSpecHash: 'spec-1',
        at: at(0),
      },
    ]);
  });

  it('given no events, when a defaulted spec view is observed, then only the fields the decider uses are kept', () => {
    const spec = {
      generation: 3,
      nodeSelector: { role: 'compute' },
      tolerations: [],
      after: ['mount'],
      retryLimit: 1,
      concurrencyPolicy: 'Replace',
      triggerOn: 'Manual',
      suspend: false,
      runSpecHash: 'abc',
    } as const;
    expect(when([], toObserveSpec(spec, at(0))).events).toEqual([
      {
        type: 'SpecObserved',
        generation: 3,
        after: ['mount'],
        retryLimit: 1,
        concurrencyPolicy: 'Replace',
        triggerOn: 'Manual',
        suspend: false,
        runSpecHash: 'abc',
        at: at(0),
      },
    ]);
  });

  it('given the spec was observed, when the same spec is observed again, then nothing happens', () => {
    const decision = when(history([observeSpec()]), observeSpec({ at: at(9) }));
    expect(decision).toEqual({ events: [], result: { kind: 'accepted' } });
  });

  it('given generation 2 was observed, when a stale cache shows generation 1, then it is ignored as stale', () => {
    const decision = when(history([observeSpec({ generation: 2 })]), observeSpec({ generation: 1 }));
    expect(decision.events).toEqual([]);
    expect(decision.result).toMatchObject({ kind: 'stale', reason: 'StaleGeneration' });
  });

  it('given generation 1 ran, when generation 2 is observed, then observedGeneration stays 1 until its run starts', () => {
    const events = [
      ...triggered(['n1']),
      ...history([observeSpec({ generation: 2, at: at(5) })], given(triggered(['n1']))),
    ];
    const status = toStatus(given(events));
    expect(status.observedGeneration).toBe(1);
    expect(status.phase).toBe('Pending');
  });
});

describe('ObserveTargets', () => {
  it('given no targets, when nodes are observed, then each joins in name order', () => {
    expect(when(history([observeSpec()]), observeTargets(['n2', 'n1'])).events).toEqual([
      { type: 'NodeJoinedTargets', node: 'n1', bootId: 'boot-n1', at: at(1) },
      { type: 'NodeJoinedTargets', node: 'n2', bootId: 'boot-n2', at: at(1) },
    ]);
  });

  it('given three finished nodes, when one leaves, one reboots and one joins, then each fact is recorded', () => {
    const events = [
      ...triggered(['n1', 'n2', 'n3']),
      ...history(
        ['n1', 'n2', 'n3'].flatMap((node) => [start('run-1', node), finish('run-1', node, 'Succeeded')]),
        given(triggered(['n1', 'n2', 'n3'])),
      ),
    ];
    expect(when(events, observeTargets(['n1', 'n2=boot-n2-again', 'n4'], at(7))).events).toEqual([
      { type: 'NodeLeftTargets', node: 'n3', at: at(7) },
      { type: 'NodeRebooted', node: 'n2', bootId: 'boot-n2-again', previousBootId: 'boot-n2', at: at(7) },
      { type: 'NodeJoinedTargets', node: 'n4', bootId: 'boot-n4', at: at(7) },
    ]);
  });

  it('given a node running, when it leaves the targets, then its run is cancelled naming the ReaperPod to delete', () => {
    const events = [
      ...triggered(['n1', 'n2']),
      ...history([start('run-1', 'n1')], given(triggered(['n1', 'n2']))),
    ];
    const decision = when(events, observeTargets(['n2'], at(8)));
    expect(decision.events).toEqual([
      { type: 'NodeRunCancelled', node: 'n1', runId: 'run-1', reaperPodName: 'job-n1', at: at(8) },
      { type: 'NodeLeftTargets', node: 'n1', at: at(8) },
    ]);
    const status = toStatus(given([...events, ...decision.events]));
    expect(status.totalNodes).toBe(1);
    expect(status.nodeStatuses.map((node) => node.nodeName)).toEqual(['n2']);
  });

  it('given the only unfinished node is running, when it leaves, then the job completes on the rest', () => {
    const base = triggered(['n1', 'n2']);
    const events = [
      ...base,
      ...history(
        [start('run-1', 'n1'), start('run-1', 'n2'), finish('run-1', 'n2', 'Succeeded')],
        given(base),
      ),
    ];
    expect(when(events, observeTargets(['n2'], at(8))).events.at(-1)).toEqual({
      type: 'DaemonJobCompleted',
      generation: 1,
      succeededNodes: 1,
      totalNodes: 1,
      at: at(8),
    });
  });

  it('given the targets were observed, when the same targets are observed again, then nothing happens', () => {
    const events = history([observeSpec(), observeTargets(['n1', 'n2'])]);
    expect(when(events, observeTargets(['n2', 'n1'], at(9))).events).toEqual([]);
  });

  it('given a node seen without boot id, when a boot id appears, then it is not taken for a reboot', () => {
    const events = history([observeSpec(), { type: 'ObserveTargets', nodes: [{ name: 'n1' }], at: at(1) }]);
    expect(when(events, observeTargets(['n1'])).events).toEqual([]);
  });
});

describe('ObserveDependencies', () => {
  const cycle = { kind: 'cycle', path: ['a', 'b', 'a'] } as const;

  it('given no block, when a cycle is observed, then DependencyBlocked names the cycle path', () => {
    const decision = when(history([observeSpec({ after: ['b'] })]), {
      type: 'ObserveDependencies',
      block: cycle,
      at: at(3),
    });
    expect(decision.events).toEqual([
      {
        type: 'DependencyBlocked',
        reason: 'DependencyCycle',
        block: cycle,
        message: 'dependency cycle a -> b -> a',
        at: at(3),
      },
    ]);
  });

  it('given a cycle block, when the same block is observed, then nothing happens', () => {
    const events = history([observeSpec(), { type: 'ObserveDependencies', block: cycle, at: at(3) }]);
    expect(when(events, { type: 'ObserveDependencies', block: cycle, at: at(4) }).events).toEqual([]);
  });

  it('given a waiting block, when the dependency changes phase, then the new block is recorded', () => {
    const waiting = (phase: 'Pending' | 'Running') =>
      ({ kind: 'waiting', names: ['mount'], phases: { mount: phase } }) as const;
    const events = history([
      observeSpec(),
      { type: 'ObserveDependencies', block: waiting('Pending'), at: at(3) },
    ]);
    expect(
      when(events, { type: 'ObserveDependencies', block: waiting('Running'), at: at(4) }).events,
    ).toEqual([
      {
        type: 'DependencyBlocked',
        reason: 'DependencyWaiting',
        block: waiting('Running'),
        message: 'waiting for dependency mount (Running)',
        at: at(4),
      },
    ]);
  });

  it('given a block, when dependencies are Completed, then DependencyUnblocked', () => {
    const events = history([observeSpec(), { type: 'ObserveDependencies', block: cycle, at: at(3) }]);
    expect(when(events, { type: 'ObserveDependencies', block: { kind: 'none' }, at: at(5) }).events).toEqual([
      { type: 'DependencyUnblocked', at: at(5) },
    ]);
  });
});
