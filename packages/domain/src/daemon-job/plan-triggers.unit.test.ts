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

/** Job whose Created run succeeded on `nodes`. */
const completed = (nodes: readonly string[], spec: Partial<ObserveSpec> = {}): DaemonJobEvent[] =>
  then(
    triggered(nodes, spec),
    nodes.flatMap((node) => [start('run-1', node), finish('run-1', node, 'Succeeded')]),
  );

/** Decides every planned trigger, with run ids `<prefix>-<i>`. */
const runPlans = (
  events: readonly DaemonJobEvent[],
  prefix: string,
  triggerValue?: string,
): DaemonJobEvent[] => {
  const plans = planTriggers(given(events), triggerValue === undefined ? {} : { triggerValue });
  return then(
    events,
    plans.map((plan, i) => toTriggerRun(plan, `${prefix}-${i}`, at(50))),
  ).slice(events.length);
};

describe('planTriggers', () => {
  it('plans the Created run on every target, carrying the annotation value', () => {
    const events = history([observeSpec(), observeTargets(['n1', 'n2'])]);
    expect(planTriggers(given(events), { triggerValue: 'v1' })).toEqual([
      { reason: 'Created', generation: 1, triggerValue: 'v1' },
    ]);
  });

  it('plans nothing once the planned run was decided (level-triggered)', () => {
    const events = history([observeSpec(), observeTargets(['n1'])]);
    const decided = [...events, ...runPlans(events, 'run', 'v1')];
    expect(planTriggers(given(decided), { triggerValue: 'v1' })).toEqual([]);
  });

  it('plans nothing while a dependency blocks', () => {
    const events = history([
      observeSpec({ after: ['a'] }),
      observeTargets(['n1']),
      { type: 'ObserveDependencies', block: { kind: 'missing', names: ['a'] }, at: at(1) },
    ]);
    expect(planTriggers(given(events))).toEqual([]);
  });

  it('plans a SpecChanged run on every target for a new generation', () => {
    const events = then(completed(['n1', 'n2']), [observeSpec({ generation: 2 })]);
    expect(planTriggers(given(events))).toEqual([{ reason: 'SpecChanged', generation: 2 }]);
  });
});

describe('triggerOn NodeReady', () => {
  it('runs only the node that joins after the job Completed', () => {
    const events = then(completed(['n1', 'n2']), [observeTargets(['n1', 'n2', 'n3'], at(40))]);
    expect(toStatus(given(events)).phase).toBe('Running');
    const decided = runPlans(events, 'join');
    expect(decided).toEqual([
      {
        type: 'RunTriggered',
        runId: 'join-0',
        reason: 'NodeJoined',
        generation: 1,
        nodes: ['n3'],
        at: at(50),
      },
      { type: 'NodeRunQueued', node: 'n3', runId: 'join-0', at: at(50) },
    ]);
    const done = then([...events, ...decided], [start('join-0', 'n3'), finish('join-0', 'n3', 'Succeeded')]);
    expect(toStatus(given(done))).toMatchObject({ phase: 'Completed', readyNodes: 3, totalNodes: 3 });
  });

  it('re-runs a node that rebooted', () => {
    const events = then(completed(['n1', 'n2']), [observeTargets(['n1=boot-2', 'n2'], at(40))]);
    expect(planTriggers(given(events))).toEqual([{ reason: 'NodeRebooted', nodes: ['n1'], generation: 1 }]);
  });

  it('re-runs a node that went NotReady and came back', () => {
    const events = then(completed(['n1', 'n2']), [
      observeTargets(['n2'], at(40)),
      observeTargets(['n1', 'n2'], at(41)),
    ]);
    expect(planTriggers(given(events))).toEqual([{ reason: 'NodeJoined', nodes: ['n1'], generation: 1 }]);
  });

  it('queues a joined node while a dependency runs elsewhere: its node-run waits on that node', () => {
    const waiting = { kind: 'waiting', names: ['mount'], phases: { mount: 'Running' } } as const;
    const events = then(completed(['n1'], { after: ['mount'] }), [
      observeTargets(['n1', 'n2'], at(40)),
      { type: 'ObserveDependencies', block: waiting, at: at(40) },
    ]);
    expect(planTriggers(given(events))).toEqual([{ reason: 'NodeJoined', nodes: ['n2'], generation: 1 }]);
  });

  it('holds every run while a dependency is missing or on a cycle', () => {
    const events = then(completed(['n1'], { after: ['mount'] }), [
      observeTargets(['n1', 'n2'], at(40)),
      { type: 'ObserveDependencies', block: { kind: 'cycle', path: ['mount', 'x', 'mount'] }, at: at(40) },
    ]);
    expect(planTriggers(given(events), { triggerValue: 'again' })).toEqual([]);
    expect(toStatus(given(events))).toMatchObject({ phase: 'Pending' });
  });
});

describe('triggerOn Manual', () => {
  const manual = { triggerOn: 'Manual' } as const;

  it('does not run a node that joins', () => {
    const events = then(completed(['n1', 'n2'], manual), [observeTargets(['n1', 'n2', 'n3'], at(40))]);
    expect(planTriggers(given(events))).toEqual([]);
    expect(toStatus(given(events))).toMatchObject({
      phase: 'Completed',
      readyNodes: 2,
      totalNodes: 3,
      message: '2/3 nodes succeeded, 1 awaiting a manual trigger',
    });
  });

  it('does not re-run a node that rebooted', () => {
    const events = then(completed(['n1'], manual), [observeTargets(['n1=boot-2'], at(40))]);
    expect(planTriggers(given(events))).toEqual([]);
  });

  it('runs every target when the annotation value changes, and not again for the same value', () => {
    const events = then(completed(['n1', 'n2'], manual), [observeTargets(['n1', 'n2', 'n3'], at(40))]);
    expect(planTriggers(given(events), { triggerValue: 'v1' })).toEqual([
      { reason: 'Manual', generation: 1, triggerValue: 'v1' },
    ]);
    const decided = [...events, ...runPlans(events, 'manual', 'v1')];
    expect(toStatus(given(decided)).lastTriggerValue).toBe('v1');
    expect(planTriggers(given(decided), { triggerValue: 'v1' })).toEqual([]);
    expect(
      when(decided, toTriggerRun({ reason: 'Manual', generation: 1, triggerValue: 'v1' }, 'again', at(60)))
        .events,
    ).toEqual([]);
  });

  it('runs a job created with the annotation once, not twice', () => {
    const events = history([observeSpec(manual), observeTargets(['n1'])]);
    const decided = [...events, ...runPlans(events, 'created', 'v1')];
    expect(decided.filter((event) => event.type === 'RunTriggered')).toHaveLength(1);
    expect(planTriggers(given(decided), { triggerValue: 'v1' })).toEqual([]);
  });
});
