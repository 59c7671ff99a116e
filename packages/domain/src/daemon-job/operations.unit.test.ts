// Operator controls of a DaemonJob: suspend, attempt deadlines, per-job rollout width, retry of
// the failed nodes; and the Complete / Failed conditions `kubectl wait` reads.
import { describe, expect, it } from 'vitest';
import type { ObserveSpec } from './commands';
import { decideCommand } from './decide';
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
import { kubeEventsFor } from './kube-events';
import { derivePhase } from './phase';
import { planTriggers, toTriggerRun } from './plan-triggers';
import { maxNodesInFlight } from './rollout-limit';
import { runSpecHash } from './run-spec';
import { toStatus } from './status';

const then = (events: readonly DaemonJobEvent[], more: Parameters<typeof history>[0]): DaemonJobEvent[] => [
  ...events,
  ...history(more, given(events)),
];

/** Decides every planned trigger (run ids `<prefix>-<i>`) and returns the events it added. */
const runPlans = (
  events: readonly DaemonJobEvent[],
  prefix: string,
  observation: Parameters<typeof planTriggers>[1] = {},
): DaemonJobEvent[] => {
  const plans = planTriggers(given(events), observation);
  return then(
    events,
    plans.map((plan, i) => toTriggerRun(plan, `${prefix}-${i}`, at(50))),
  ).slice(events.length);
};

/** A job whose Created run succeeded on every node of `nodes`. */
const completed = (nodes: readonly string[], spec: Partial<ObserveSpec> = {}): DaemonJobEvent[] =>
  then(
    triggered(nodes, spec),
    nodes.flatMap((node) => [start('run-1', node), finish('run-1', node, 'Succeeded')]),
  );

const conditionOf = (events: readonly DaemonJobEvent[], type: string) =>
  toStatus(given(events)).conditions.find((c) => c.type === type);

describe('runSpecHash', () => {
  const spec = { command: ['/bin/sh'], args: ['-c', 'true'], retryLimit: 1, nodeSelector: { a: 'b' } };

  it('ignores suspend, activeDeadlineSeconds, maxUnavailable and the order of keys', () => {
    const steered = { nodeSelector: { a: 'b' }, retryLimit: 1, args: ['-c', 'true'], command: ['/bin/sh'] };
    expect(runSpecHash({ ...steered, suspend: true, activeDeadlineSeconds: 5, maxUnavailable: '25%' })).toBe(
      runSpecHash(spec),
    );
  });

  it('changes with any field that defines the run', () => {
    expect(runSpecHash({ ...spec, args: ['-c', 'false'] })).not.toBe(runSpecHash(spec));
    expect(runSpecHash({ ...spec, retryLimit: 2 })).not.toBe(runSpecHash(spec));
    expect(runSpecHash({ ...spec, nodeSelector: { a: 'c' } })).not.toBe(runSpecHash(spec));
  });
});

describe('a new generation that changed only operational fields', () => {
  it('is adopted: observedGeneration follows and no SpecChanged run is planned', () => {
    const events = completed(['n1', 'n2']);
    const decision = when(events, observeSpec({ generation: 2, runSpecHash: 'spec-1', suspend: true }));
    expect(decision.events.map((e) => e.type)).toEqual([
      'SpecObserved',
      'GenerationAdopted',
      'DaemonJobSuspended',
    ]);
    const after = [...events, ...decision.events];
    expect(given(after).observedGeneration).toBe(2);
    expect(planTriggers(given(after))).toEqual([]);
    const resumed = then(after, [observeSpec({ generation: 3, runSpecHash: 'spec-1', suspend: false })]);
    expect(resumed.slice(after.length).map((e) => e.type)).toEqual([
      'SpecObserved',
      'GenerationAdopted',
      'DaemonJobResumed',
    ]);
    expect(planTriggers(given(resumed))).toEqual([]);
    expect(derivePhase(given(resumed))).toBe('Completed');
    expect(toStatus(given(resumed)).observedGeneration).toBe(3);
  });

  it('is not adopted when the fingerprint changed: the generation runs as SpecChanged', () => {
    const events = then(completed(['n1']), [observeSpec({ generation: 2, runSpecHash: 'other' })]);
    expect(events.some((e) => e.type === 'GenerationAdopted')).toBe(false);
    expect(planTriggers(given(events))).toEqual([{ reason: 'SpecChanged', generation: 2 }]);
  });

  it('is not adopted while the generation before it has not started: that one is still due', () => {
    const pending = history([observeSpec(), observeTargets(['n1'])]);
    const events = then(pending, [observeSpec({ generation: 2, runSpecHash: 'spec-1' })]);
    expect(events.some((e) => e.type === 'GenerationAdopted')).toBe(false);
    expect(planTriggers(given(events))).toEqual([{ reason: 'Created', generation: 2 }]);
  });

  it('is not adopted from a state saved before fingerprints existed', () => {
    const old = given(completed(['n1']));
    const spec = old.spec;
    if (!spec) throw new Error('no spec');
    const { runSpecHash: _dropped, ...legacySpec } = spec;
    const state = { ...old, spec: legacySpec };
    const decision = decideCommand(observeSpec({ generation: 2, runSpecHash: 'spec-1' }), state);
    expect(decision.events.map((e) => e.type)).toEqual(['SpecObserved']);
  });
});

describe('spec.suspend', () => {
  it('plans nothing while suspended and remembers what is due: joins and the manual trigger run on resume', () => {
    const suspended = then(completed(['n1']), [
      observeSpec({ generation: 2, runSpecHash: 'spec-1', suspend: true }),
      observeTargets(['n1', 'n2'], at(20)),
    ]);
    expect(planTriggers(given(suspended), { triggerValue: 'now' })).toEqual([]);
    expect(given(suspended).nodes.n2?.needsRun).toBe('NodeJoined');
    const resumed = then(suspended, [observeSpec({ generation: 3, runSpecHash: 'spec-1' })]);
    expect(planTriggers(given(resumed), { triggerValue: 'now' })).toEqual([
      { reason: 'Manual', generation: 3, triggerValue: 'now' },
    ]);
  });

  it('a node-run held by the suspension says so in its node status until the resume', () => {
    const events = then(triggered(['n1', 'n2']), [
      start('run-1', 'n1'),
      observeSpec({ generation: 2, runSpecHash: 'spec-1', suspend: true, at: at(5) }),
      {
        type: 'HoldNodeRun',
        runId: 'run-1',
        node: 'n2',
        reason: 'Suspended',
        message: 'waiting: the job is suspended',
        at: at(6),
      },
    ]);
    const nodeStatus = (e: readonly DaemonJobEvent[]) =>
      toStatus(given(e)).nodeStatuses.find((n) => n.nodeName === 'n2');
    expect(nodeStatus(events)).toMatchObject({ phase: 'Pending', message: 'waiting: the job is suspended' });
    // Routine, like waiting for a dependency: no Kubernetes Event per node.
    expect(kubeEventsFor(events.slice(-1))).toEqual([]);
    const resumed = then(events, [observeSpec({ generation: 3, runSpecHash: 'spec-1', at: at(7) })]);
    expect(resumed.map((e) => e.type)).toContain('DaemonJobResumed');
    expect(nodeStatus(resumed)?.message).toBeUndefined();
    expect(given(resumed).nodes.n2?.held).toBeUndefined();
  });

  it('rejects a TriggerRun while suspended', () => {
    const events = then(triggered(['n1']), [
      observeSpec({ generation: 2, runSpecHash: 'spec-1', suspend: true }),
    ]);
    const decision = when(
      events,
      toTriggerRun({ reason: 'Manual', generation: 2, triggerValue: 'x' }, 'r2', at(9)),
    );
    expect(decision.result).toMatchObject({ kind: 'rejected', reason: 'Suspended' });
  });

  it('keeps the phase, says Suspended in a condition and the message, and lets running attempts finish', () => {
    const events = then(triggered(['n1', 'n2']), [
      start('run-1', 'n1'),
      observeSpec({ generation: 2, runSpecHash: 'spec-1', suspend: true, at: at(5) }),
    ]);
    const status = toStatus(given(events));
    expect(status.phase).toBe('Running');
    expect(status.message).toMatch(/^suspended: 0\/2 nodes succeeded, 1 running/);
    expect(conditionOf(events, 'Suspended')).toMatchObject({
      status: 'True',
      reason: 'Suspended',
      lastTransitionTime: at(5),
    });
    const finished = then(events, [finish('run-1', 'n1', 'Succeeded', 1, at(6))]);
    expect(given(finished).nodes.n1?.phase).toBe('Succeeded');
    const resumed = then(finished, [observeSpec({ generation: 3, runSpecHash: 'spec-1', at: at(7) })]);
    expect(conditionOf(resumed, 'Suspended')).toMatchObject({ status: 'False', reason: 'NotSuspended' });
    expect(kubeEventsFor(resumed.slice(finished.length)).map((e) => e.reason)).toEqual(['Resumed']);
  });

  it('holds back a job created suspended: Pending, nothing planned', () => {
    const events = history([observeSpec({ suspend: true }), observeTargets(['n1'])]);
    expect(planTriggers(given(events))).toEqual([]);
    expect(derivePhase(given(events))).toBe('Pending');
  });
});

describe('activeDeadlineSeconds', () => {
  it('a DeadlineExceeded failure is retried like any failure and named in the status and the Event', () => {
    const events = then(triggered(['n1'], { retryLimit: 1 }), [start('run-1', 'n1')]);
    const message =
      'DeadlineExceeded: the attempt ran longer than activeDeadlineSeconds (2s) and was stopped';
    const decision = when(events, {
      type: 'FinishNodeRun',
      runId: 'run-1',
      node: 'n1',
      attempt: 1,
      outcome: 'Failed',
      message,
      reason: 'DeadlineExceeded',
      retryAt: 2000,
      at: at(8),
    });
    expect(decision.events.map((e) => e.type)).toEqual(['NodeRunFailed', 'NodeRunRetryScheduled']);
    expect(decision.events[0]).toMatchObject({ reason: 'DeadlineExceeded', message });
    expect(kubeEventsFor(decision.events)[0]).toMatchObject({ type: 'Warning', reason: 'DeadlineExceeded' });
    const after = given([...events, ...decision.events]);
    expect(toStatus(after).nodeStatuses[0]).toMatchObject({ nodeName: 'n1', retryCount: 1 });
  });
});

describe('maxNodesInFlight (maxUnavailable)', () => {
  it('takes an integer as is, a percentage of the targets rounded up (at least 1), else the fallback', () => {
    expect(maxNodesInFlight(3, 10, 50)).toBe(3);
    expect(maxNodesInFlight('25%', 10, 50)).toBe(3);
    expect(maxNodesInFlight('100%', 7, 0)).toBe(7);
    expect(maxNodesInFlight('1%', 0, 50)).toBe(1);
    expect(maxNodesInFlight(undefined, 10, 50)).toBe(50);
    expect(maxNodesInFlight(undefined, 10, 0)).toBe(0);
  });
});

describe('retry-failed annotation', () => {
  /** n1 succeeded, n2 exhausted its one retry. */
  const partiallyFailed = (): DaemonJobEvent[] =>
    then(triggered(['n1', 'n2'], { retryLimit: 1 }), [
      start('run-1', 'n1'),
      finish('run-1', 'n1', 'Succeeded'),
      start('run-1', 'n2'),
      finish('run-1', 'n2', 'Failed'),
      start('run-1', 'n2', 2, at(6)),
      finish('run-1', 'n2', 'Failed', 2, at(7)),
    ]);

  it('re-runs only the exhausted nodes with fresh retry counts, then the job is Completed', () => {
    const events = partiallyFailed();
    expect(derivePhase(given(events))).toBe('PartiallyFailed');
    expect(conditionOf(events, 'Failed')).toMatchObject({ status: 'True' });
    expect(conditionOf(events, 'Complete')).toMatchObject({ status: 'False' });
    expect(planTriggers(given(events), { retryValue: 'r1' })).toEqual([
      { reason: 'RetryFailed', nodes: ['n2'], generation: 1, retryValue: 'r1' },
    ]);
    const retried = [...events, ...runPlans(events, 'retry', { retryValue: 'r1' })];
    const state = given(retried);
    expect(state.nodes.n2).toMatchObject({ phase: 'Queued', runId: 'retry-0', retryCount: 0 });
    expect(state.nodes.n1).toMatchObject({ phase: 'Succeeded', runId: 'run-1' });
    expect(toStatus(state).lastRetryValue).toBe('r1');
    expect(planTriggers(state, { retryValue: 'r1' })).toEqual([]);

    const done = then(retried, [
      start('retry-0', 'n2', 1, at(60)),
      finish('retry-0', 'n2', 'Succeeded', 1, at(61)),
    ]);
    expect(derivePhase(given(done))).toBe('Completed');
    expect(done.at(-1)).toMatchObject({ type: 'DaemonJobCompleted', succeededNodes: 2 });
    expect(conditionOf(done, 'Complete')).toMatchObject({ status: 'True' });
    expect(conditionOf(done, 'Failed')).toMatchObject({ status: 'False' });
  });

  it('a value seen once is not acted on again, even after another failure', () => {
    const events = partiallyFailed();
    const retried = [...events, ...runPlans(events, 'retry', { retryValue: 'r1' })];
    const again = when(
      retried,
      toTriggerRun({ reason: 'RetryFailed', nodes: ['n2'], generation: 1, retryValue: 'r1' }, 'dup', at(70)),
    );
    expect(again.result.kind).toBe('duplicate');
  });

  it('with no failed node only records the value', () => {
    const events = completed(['n1']);
    const added = runPlans(events, 'retry', { retryValue: 'r1' });
    expect(added.map((e) => e.type)).toEqual(['RunTriggered']);
    expect(given([...events, ...added]).lastRetryValue).toBe('r1');
  });

  it('leaves nodes held by a failed dependency alone (only exhausted nodes re-run)', () => {
    const events = then(triggered(['n1', 'n2']), [
      start('run-1', 'n1'),
      finish('run-1', 'n1', 'Failed'),
      {
        type: 'HoldNodeRun',
        runId: 'run-1',
        node: 'n2',
        reason: 'DependencyFailed',
        message: 'blocked',
        at: at(5),
      },
    ]);
    expect(planTriggers(given(events), { retryValue: 'r1' })).toEqual([
      { reason: 'RetryFailed', nodes: ['n1'], generation: 1, retryValue: 'r1' },
    ]);
  });

  it('is carried by a generation start, so the same value does not re-run later', () => {
    const events = history([observeSpec(), observeTargets(['n1'])]);
    expect(planTriggers(given(events), { retryValue: 'r0' })).toEqual([
      { reason: 'Created', generation: 1, retryValue: 'r0' },
    ]);
  });
});
