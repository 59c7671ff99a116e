import { describe, expect, it } from 'vitest';
import { at, finish, given, history, start, trigger, triggered, when } from './decider.test-support';
import type { DaemonJobEvent } from './events';
import { toStatus } from './status';

const then = (events: readonly DaemonJobEvent[], more: Parameters<typeof history>[0]): DaemonJobEvent[] => [
  ...events,
  ...history(more, given(events)),
];

describe('StartNodeRun', () => {
  it('given a queued node, when attempt 1 starts, then NodeRunStarted records its ReaperPod', () => {
    expect(when(triggered(['n1']), start('run-1', 'n1')).events).toEqual([
      { type: 'NodeRunStarted', node: 'n1', runId: 'run-1', attempt: 1, reaperPodName: 'job-n1', at: at(3) },
    ]);
  });

  it('given attempt 1 started, when the same start is delivered again, then it is a duplicate', () => {
    const events = then(triggered(['n1']), [start('run-1', 'n1')]);
    expect(when(events, start('run-1', 'n1', 1, at(9)))).toEqual({
      events: [],
      result: { kind: 'duplicate' },
    });
  });

  it('given a queued node, when attempt 2 arrives first, then it is rejected as not due', () => {
    expect(when(triggered(['n1']), start('run-1', 'n1', 2)).result).toMatchObject({
      kind: 'rejected',
      reason: 'AttemptNotDue',
    });
  });

  it('given a node that left the targets, when its start arrives, then it is stale', () => {
    expect(when(triggered(['n1']), start('run-1', 'gone')).result).toMatchObject({
      kind: 'stale',
      reason: 'NodeNotTargeted',
    });
  });

  it('given a node run by run-1, when a start for another run arrives, then it is stale', () => {
    expect(when(triggered(['n1']), start('run-0', 'n1')).result).toMatchObject({
      kind: 'stale',
      reason: 'RunSuperseded',
    });
  });

  it('given a node named constructor, when it runs, then it is an ordinary node', () => {
    const events = then(triggered(['constructor']), [start('run-1', 'constructor')]);
    expect(
      when(events, finish('run-1', 'constructor', 'Succeeded')).events.map((event) => event.type),
    ).toEqual(['NodeRunSucceeded', 'DaemonJobCompleted']);
    expect(when(triggered(['n1']), start('run-1', 'constructor')).result).toMatchObject({ kind: 'stale' });
  });
});

describe('FinishNodeRun with retryLimit 2', () => {
  const retrying = triggered(['n1'], { retryLimit: 2 });

  it('given attempt 1 running, when it fails, then retry 1 is scheduled not before retryAt', () => {
    const events = then(retrying, [start('run-1', 'n1')]);
    expect(when(events, finish('run-1', 'n1', 'Failed')).events).toEqual([
      { type: 'NodeRunFailed', node: 'n1', runId: 'run-1', attempt: 1, exitCode: 1, at: at(4) },
      {
        type: 'NodeRunRetryScheduled',
        node: 'n1',
        runId: 'run-1',
        retryCount: 1,
        retryLimit: 2,
        notBefore: 1000,
        at: at(4),
      },
    ]);
  });

  it('given a node that failed twice, when attempt 3 passes, then the job is Completed with retryCount 2', () => {
    const events = then(retrying, [
      start('run-1', 'n1', 1),
      finish('run-1', 'n1', 'Failed', 1),
      start('run-1', 'n1', 2),
      finish('run-1', 'n1', 'Failed', 2),
      start('run-1', 'n1', 3),
    ]);
    const decision = when(events, finish('run-1', 'n1', 'Succeeded', 3, at(30)));
    expect(decision.events).toEqual([
      { type: 'NodeRunSucceeded', node: 'n1', runId: 'run-1', attempt: 3, exitCode: 0, at: at(30) },
      { type: 'DaemonJobCompleted', generation: 1, succeededNodes: 1, totalNodes: 1, at: at(30) },
    ]);
    const status = toStatus(given([...events, ...decision.events]));
    expect(status).toMatchObject({ phase: 'Completed', readyNodes: 1, failedNodes: 0, totalNodes: 1 });
    expect(status.nodeStatuses).toEqual([
      { nodeName: 'n1', phase: 'Succeeded', reaperPodName: 'job-n1', exitCode: 0, retryCount: 2 },
    ]);
  });

  it('given a node that failed twice, when attempt 3 fails, then it is exhausted and the job PartiallyFailed', () => {
    const events = then(triggered(['n1', 'n2'], { retryLimit: 2 }), [
      start('run-1', 'n2'),
      finish('run-1', 'n2', 'Succeeded'),
      start('run-1', 'n1', 1),
      finish('run-1', 'n1', 'Failed', 1),
      start('run-1', 'n1', 2),
      finish('run-1', 'n1', 'Failed', 2),
      start('run-1', 'n1', 3),
    ]);
    const decision = when(events, finish('run-1', 'n1', 'Failed', 3, at(40)));
    expect(decision.events).toEqual([
      { type: 'NodeRunFailed', node: 'n1', runId: 'run-1', attempt: 3, exitCode: 1, at: at(40) },
      { type: 'NodeRunExhausted', node: 'n1', runId: 'run-1', retryCount: 2, at: at(40) },
      {
        type: 'DaemonJobPartiallyFailed',
        generation: 1,
        succeededNodes: 1,
        failedNodes: 1,
        totalNodes: 2,
        at: at(40),
      },
    ]);
    expect(toStatus(given([...events, ...decision.events]))).toMatchObject({
      phase: 'PartiallyFailed',
      readyNodes: 1,
      failedNodes: 1,
      message: '1/2 nodes succeeded, 1 failed (n1 exit 1)',
      nodeStatuses: [
        { nodeName: 'n1', phase: 'Failed', exitCode: 1, retryCount: 2 },
        { nodeName: 'n2', phase: 'Succeeded', retryCount: 0 },
      ],
    });
  });

  it('given attempt 1 failed and was retried, when its result is delivered again, then it is stale', () => {
    const events = then(retrying, [
      start('run-1', 'n1', 1),
      finish('run-1', 'n1', 'Failed', 1),
      start('run-1', 'n1', 2),
    ]);
    expect(when(events, finish('run-1', 'n1', 'Failed', 1)).result).toMatchObject({
      kind: 'stale',
      reason: 'AttemptSuperseded',
    });
  });

  it('given attempt 1 failed, when the failure is delivered again, then it is a duplicate', () => {
    const events = then(retrying, [start('run-1', 'n1', 1), finish('run-1', 'n1', 'Failed', 1)]);
    expect(when(events, finish('run-1', 'n1', 'Failed', 1))).toEqual({
      events: [],
      result: { kind: 'duplicate' },
    });
  });

  it('given a queued node, when a result arrives before its start, then it is rejected', () => {
    expect(when(retrying, finish('run-1', 'n1', 'Succeeded')).result).toMatchObject({
      kind: 'rejected',
      reason: 'AttemptNotStarted',
    });
  });
});

describe('idempotency', () => {
  it('every command of a whole run, delivered twice in a row, produces events only the first time', () => {
    const commands = [
      trigger('run-1'),
      start('run-1', 'n1'),
      finish('run-1', 'n1', 'Succeeded'),
      { type: 'ObserveTargets', nodes: [{ name: 'n1', bootId: 'boot-n1' }], at: at(9) } as const,
    ];
    let events = history([
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
      { type: 'ObserveTargets', nodes: [{ name: 'n1', bootId: 'boot-n1' }], at: at(1) },
    ]);
    for (const command of commands) {
      events = then(events, [command]);
      expect(when(events, command).events).toEqual([]);
    }
  });
});
