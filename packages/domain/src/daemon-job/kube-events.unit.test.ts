import { describe, expect, it } from 'vitest';
import { at, finish, given, history, start, trigger, triggered, when } from './decider.test-support';
import { kubeEventsFor } from './kube-events';

describe('kubeEventsFor', () => {
  it('records a Normal event when a run is triggered, and none per queued node', () => {
    const events = history([
      {
        type: 'ObserveSpec',
        generation: 1,
        after: [],
        retryLimit: 0,
        concurrencyPolicy: 'Skip',
        triggerOn: 'NodeReady',
        suspend: false,
        runSpecHash: 'spec-1',
        at: at(0),
      },
      { type: 'ObserveTargets', nodes: [{ name: 'n1' }, { name: 'n2' }], at: at(1) },
      trigger('run-1'),
    ]);
    expect(kubeEventsFor(events)).toEqual([
      {
        type: 'Normal',
        reason: 'RunTriggered',
        message: 'run run-1 (Created) started on 2 nodes for generation 1',
      },
    ]);
  });

  it('warns about a failed node, its exhaustion and the partial failure', () => {
    const events = [...triggered(['n1'])];
    events.push(...history([start('run-1', 'n1')], given(events)));
    expect(
      kubeEventsFor(when(events, { ...finish('run-1', 'n1', 'Failed'), message: 'boom' }).events),
    ).toEqual([
      {
        type: 'Warning',
        reason: 'NodeRunFailed',
        message: 'node n1 attempt 1 of run run-1 failed (exit 1): boom',
      },
      { type: 'Warning', reason: 'RetriesExhausted', message: 'node n1 failed after 0 retries (run run-1)' },
      {
        type: 'Warning',
        reason: 'PartiallyFailed',
        message: 'generation 1 partially failed: 0/1 nodes succeeded, 1 failed',
      },
    ]);
  });

  it('records a scheduled retry and a completion as Normal events', () => {
    const events = [...triggered(['n1'], { retryLimit: 1 })];
    events.push(
      ...history(
        [start('run-1', 'n1'), finish('run-1', 'n1', 'Failed'), start('run-1', 'n1', 2)],
        given(events),
      ),
    );
    expect(kubeEventsFor(events).map((event) => event.reason)).toEqual([
      'RunTriggered',
      'NodeRunFailed',
      'RetryScheduled',
    ]);
    expect(kubeEventsFor(when(events, finish('run-1', 'n1', 'Succeeded', 2)).events)).toEqual([
      { type: 'Normal', reason: 'Completed', message: 'generation 1 completed: 1/1 nodes succeeded' },
    ]);
  });

  it('groups skipped nodes into one event per run', () => {
    const events = [...triggered(['n1', 'n2', 'n3'])];
    const decided = when(events, trigger('run-2', { reason: 'Manual', triggerValue: 'v', at: at(9) })).events;
    expect(kubeEventsFor(decided)).toEqual([
      {
        type: 'Normal',
        reason: 'RunTriggered',
        message: 'run run-2 (Manual) started on 3 nodes for generation 1',
      },
      {
        type: 'Normal',
        reason: 'TriggerSkipped',
        message: 'run run-2 skipped on 3 nodes with an active run (concurrencyPolicy Skip): n1, n2, n3',
      },
    ]);
  });

  it('groups replaced nodes, listing at most five names', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
    const decided = when(
      triggered(nodes, { concurrencyPolicy: 'Replace' }),
      trigger('run-2', { reason: 'Manual' }),
    ).events;
    expect(kubeEventsFor(decided)[1]).toEqual({
      type: 'Normal',
      reason: 'TriggerReplaced',
      message:
        'run run-2 replaced the active run on 7 nodes (concurrencyPolicy Replace): n1, n2, n3, n4, n5 and 2 more',
    });
  });

  it('warns about a dependency cycle but not about waiting for a dependency', () => {
    expect(
      kubeEventsFor([
        {
          type: 'DependencyBlocked',
          reason: 'DependencyCycle',
          block: { kind: 'cycle', path: ['a', 'b', 'a'] },
          message: 'dependency cycle a -> b -> a',
          at: at(1),
        },
        {
          type: 'DependencyBlocked',
          reason: 'DependencyWaiting',
          block: { kind: 'waiting', names: ['a'], phases: { a: 'Running' } },
          message: 'waiting for dependency a (Running)',
          at: at(2),
        },
      ]).map((event) => `${event.type} ${event.reason}`),
    ).toEqual(['Warning DependencyCycle', 'Normal DependencyWaiting']);
  });
});
