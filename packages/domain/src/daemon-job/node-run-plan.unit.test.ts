import { describe, expect, it } from 'vitest';
import type { Persisted } from '../schemas/object-meta';
import { parseReaperDaemonJob, type ReaperDaemonJob } from '../schemas/reaper-daemon-job';
import type { ReaperPod } from '../schemas/reaper-pod';
import { ATTEMPT_ANNOTATION, RUN_ID_ANNOTATION } from '../translate/labels';
import { DEFAULT_BACKOFF, retryDelayMs } from './backoff';
import {
  NODE_RUN_WATCHDOG_MS,
  type NodeRunFacts,
  type NodeRunPlan,
  type NodeRunStepState,
  planNodeRunStep,
  RECREATE_DELAY_MS,
  SUSPENDED_MESSAGE,
} from './node-run-plan';

const NOW = Date.parse('2025-01-01T00:10:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function job(spec: Record<string, unknown> = {}): Persisted<ReaperDaemonJob> {
  const parsed = parseReaperDaemonJob({
    apiVersion: 'reaper.io/v1alpha1',
    kind: 'ReaperDaemonJob',
    metadata: { name: 'setup', namespace: 'ns', uid: 'uid-1', generation: 1 },
    spec: { command: ['/bin/true'], ...spec },
  });
  if (!parsed.ok) throw new Error(parsed.issues.join('; '));
  return parsed.value as Persisted<ReaperDaemonJob>;
}

const create: NodeRunStepState = { job: 'setup', runId: 'r1', node: 'n1', attempt: 1, step: 'create' };
const waiting: NodeRunStepState = { ...create, step: 'wait' };

/** The ReaperPod `setup-n1` of run r1 (attempt 1 unless given). */
function rpod(status: ReaperPod['status'], opts: { attempt?: number; created?: number } = {}): ReaperPod {
  return {
    apiVersion: 'reaper.io/v1alpha1',
    kind: 'ReaperPod',
    metadata: {
      name: 'setup-n1',
      namespace: 'ns',
      annotations: { [RUN_ID_ANNOTATION]: 'r1', [ATTEMPT_ANNOTATION]: String(opts.attempt ?? 1) },
      creationTimestamp: iso(opts.created ?? NOW - 5_000),
    },
    spec: { command: ['/bin/true'], nodeName: 'n1' },
    ...(status && { status }),
  } as ReaperPod;
}

type Answers = Omit<NodeRunFacts, 'job' | 'currentRunId'>;

/**
 * Runs one step as the shell would: answers each question from `answers` (a question without an
 * answer fails the test) and returns the questions asked with the plan's end.
 */
function step(
  state: NodeRunStepState,
  owner: Persisted<ReaperDaemonJob> | undefined,
  answers: Answers = {},
  opts: { currentRunId?: string | undefined; maxNodesInFlight?: number; nowMs?: number } = {},
) {
  let facts: NodeRunFacts = {
    job: owner,
    currentRunId: 'currentRunId' in opts ? opts.currentRunId : 'r1',
  };
  const asked: string[] = [];
  for (;;) {
    const plan: NodeRunPlan = planNodeRunStep({
      state,
      facts,
      nowMs: opts.nowMs ?? NOW,
      random01: 0.5,
      retry: DEFAULT_BACKOFF,
      maxNodesInFlight: opts.maxNodesInFlight ?? 0,
    });
    if (plan.kind !== 'ask') return { asked, plan };
    const q = plan.question;
    asked.push(q.kind === 'acquireSlot' ? `acquireSlot(${q.max})` : q.kind);
    if (asked.length > 10) throw new Error(`asked too often: ${asked.join(', ')}`);
    const fact: Partial<NodeRunFacts> = {
      stillSuspended: { stillSuspended: answers.stillSuspended },
      dependencyGate: { gate: answers.gate },
      rolloutTargets: { rolloutTargets: answers.rolloutTargets },
      acquireSlot: { slotAcquired: answers.slotAcquired },
      ensureReaperPod: { ensured: answers.ensured },
      observeReaperPod: { observed: answers.observed },
    }[q.kind];
    if (!fact || Object.values(fact)[0] === undefined) throw new Error(`no answer for ${q.kind}`);
    facts = { ...facts, ...fact };
  }
}

const reports = (plan: NodeRunPlan) =>
  plan.kind === 'ask' ? [] : plan.effects.flatMap((e) => (e.type === 'report' ? [e.command] : []));
const effectTypes = (plan: NodeRunPlan) => (plan.kind === 'ask' ? [] : plan.effects.map((e) => e.type));

describe('planNodeRunStep: create', () => {
  it('creates the ReaperPod, reports StartNodeRun and parks until it changes (watchdog)', () => {
    const { asked, plan } = step(create, job(), { ensured: 'created' });
    expect(asked).toEqual(['ensureReaperPod']);
    expect(plan).toEqual({
      kind: 'park',
      untilMs: NOW + NODE_RUN_WATCHDOG_MS,
      next: { step: 'wait' },
      effects: [
        {
          type: 'report',
          command: {
            type: 'StartNodeRun',
            runId: 'r1',
            node: 'n1',
            attempt: 1,
            reaperPodName: 'setup-n1',
            at: iso(NOW),
          },
        },
      ],
    });
  });

  it('a ReaperPod found rather than made (a repeated step) is looked at again at once', () => {
    const { plan } = step(create, job(), { ensured: 'adopted' });
    expect(plan).toMatchObject({ kind: 'park', untilMs: NOW, next: { step: 'wait' } });
    expect(reports(plan).map((r) => r.type)).toEqual(['StartNodeRun']);
  });

  it('an older attempt in the way (removed now) makes it try again shortly, reporting nothing', () => {
    const { plan } = step({ ...create, step: 'backoff', attempt: 2 }, job(), { ensured: 'blocked' });
    expect(plan).toEqual({
      kind: 'park',
      untilMs: NOW + RECREATE_DELAY_MS,
      next: { step: 'create' },
      effects: [],
    });
  });

  it('a job that is gone: the step finishes Superseded, removing its pod and freeing its slot', () => {
    const { asked, plan } = step(create, undefined);
    expect(asked).toEqual([]);
    expect(plan).toMatchObject({ kind: 'finish', outcome: 'Superseded' });
    expect(effectTypes(plan)).toEqual(['log', 'deleteAttemptPod', 'releaseSlot']);
  });

  it('a run replaced on the node: Superseded, and the replacing run is woken', () => {
    const { plan } = step(waiting, job(), {}, { currentRunId: 'r2' });
    expect(plan).toMatchObject({ kind: 'finish', outcome: 'Superseded' });
    expect(plan.effects).toContainEqual({ type: 'wake', runId: 'r2' });
    expect(effectTypes(plan)).toEqual(['log', 'deleteAttemptPod', 'wake', 'releaseSlot']);
  });
});

describe('planNodeRunStep: parking before the ReaperPod', () => {
  it('suspended: reports the hold once, gives its slot back, parks without creating', () => {
    const { asked, plan } = step(create, job({ suspend: true }), { stillSuspended: true });
    expect(asked).toEqual(['stillSuspended']);
    expect(plan).toMatchObject({
      kind: 'park',
      untilMs: NOW + NODE_RUN_WATCHDOG_MS,
      next: { held: SUSPENDED_MESSAGE },
    });
    expect(reports(plan)).toEqual([
      {
        type: 'HoldNodeRun',
        runId: 'r1',
        node: 'n1',
        reason: 'Suspended',
        message: SUSPENDED_MESSAGE,
        at: iso(NOW),
      },
    ]);
    expect(effectTypes(plan)).toEqual(['log', 'report', 'releaseSlot']);

    const again = step({ ...create, held: SUSPENDED_MESSAGE }, job({ suspend: true }), {
      stillSuspended: true,
    });
    expect(reports(again.plan)).toEqual([]);
    expect(effectTypes(again.plan)).toEqual(['log', 'releaseSlot']);
  });

  it('resumed between the two reads of the job: goes on to create the ReaperPod', () => {
    const { asked, plan } = step(create, job({ suspend: true }), {
      stillSuspended: false,
      ensured: 'created',
    });
    expect(asked).toEqual(['stillSuspended', 'ensureReaperPod']);
    expect(plan).toMatchObject({ kind: 'park', next: { step: 'wait' } });
  });

  it('held by a dependency: reports DependencyWaiting (or DependencyFailed), parks without a slot', () => {
    const owner = job({ after: ['base'] });
    const waitingGate = { kind: 'waiting', names: ['base'], message: 'waiting for base' } as const;
    const held = step(create, owner, { gate: waitingGate });
    expect(held.asked).toEqual(['dependencyGate']);
    expect(held.plan).toMatchObject({
      kind: 'park',
      untilMs: NOW + NODE_RUN_WATCHDOG_MS,
      next: { held: 'waiting for base' },
    });
    expect(reports(held.plan)).toMatchObject([
      { type: 'HoldNodeRun', reason: 'DependencyWaiting', message: 'waiting for base' },
    ]);

    const failedGate = { kind: 'failed', names: ['base'], message: 'base failed on n1' } as const;
    const failed = step({ ...create, held: 'waiting for base' }, owner, { gate: failedGate });
    expect(reports(failed.plan)).toMatchObject([{ type: 'HoldNodeRun', reason: 'DependencyFailed' }]);

    // The same hold again: not reported twice.
    const same = step({ ...create, held: 'waiting for base' }, owner, { gate: waitingGate });
    expect(reports(same.plan)).toEqual([]);
  });

  it('an open gate lets it through to the slot and the ReaperPod', () => {
    const { asked, plan } = step(
      create,
      job({ after: ['base'] }),
      {
        gate: { kind: 'open' },
        slotAcquired: true,
        ensured: 'created',
      },
      { maxNodesInFlight: 2 },
    );
    expect(asked).toEqual(['dependencyGate', 'acquireSlot(2)', 'ensureReaperPod']);
    expect(plan).toMatchObject({ kind: 'park', next: { step: 'wait' } });
  });

  it('no rollout slot free: parks until a freed slot wakes it, nothing reported or created', () => {
    const { asked, plan } = step(create, job({ maxUnavailable: 1 }), { slotAcquired: false });
    expect(asked).toEqual(['acquireSlot(1)']);
    expect(plan).toEqual({ kind: 'park', untilMs: NOW + NODE_RUN_WATCHDOG_MS, effects: [] });
  });

  it('a percentage maxUnavailable is taken of the targets the engine counted', () => {
    const { asked } = step(create, job({ maxUnavailable: '50%' }), {
      rolloutTargets: 5,
      slotAcquired: true,
      ensured: 'created',
    });
    expect(asked).toEqual(['rolloutTargets', 'acquireSlot(3)', 'ensureReaperPod']);
  });

  it('a backoff not over yet (woken early) parks again until it is, asking nothing', () => {
    const backoff = { ...create, step: 'backoff', attempt: 2, notBefore: NOW + 4_000 } as const;
    const { asked, plan } = step(backoff, job({ retryLimit: 1 }));
    expect(asked).toEqual([]);
    expect(plan).toEqual({ kind: 'park', untilMs: NOW + 4_000, effects: [] });
  });
});

describe('planNodeRunStep: wait', () => {
  it('still running: parks until it changes, at the latest the watchdog', () => {
    const { asked, plan } = step(waiting, job(), { observed: { reaperPod: rpod({ phase: 'Running' }) } });
    expect(asked).toEqual(['observeReaperPod']);
    expect(plan).toEqual({ kind: 'park', untilMs: NOW + NODE_RUN_WATCHDOG_MS, effects: [] });
  });

  it('succeeded: reports FinishNodeRun with the exit code, counts it, frees the slot', () => {
    const { plan } = step(waiting, job(), {
      observed: { reaperPod: rpod({ phase: 'Succeeded', exitCode: 0 }) },
    });
    expect(plan).toEqual({
      kind: 'finish',
      outcome: 'Succeeded',
      exitCode: 0,
      effects: [
        {
          type: 'report',
          command: {
            type: 'FinishNodeRun',
            runId: 'r1',
            node: 'n1',
            attempt: 1,
            outcome: 'Succeeded',
            exitCode: 0,
            at: iso(NOW),
          },
        },
        { type: 'count', metric: 'nodeRuns', outcome: 'Succeeded' },
        { type: 'releaseSlot' },
      ],
    });
  });

  it('failed with retries left: reports the failure with retryAt and parks in backoff for the next attempt', () => {
    const failed = rpod({ phase: 'Failed', exitCode: 3, message: 'exit 3' });
    const { plan } = step(waiting, job({ retryLimit: 2 }), { observed: { reaperPod: failed } });
    const retryAt = NOW + retryDelayMs(1, DEFAULT_BACKOFF, 0.5);
    expect(plan).toEqual({
      kind: 'park',
      untilMs: retryAt,
      next: { step: 'backoff', attempt: 2, notBefore: retryAt },
      effects: [
        {
          type: 'report',
          command: {
            type: 'FinishNodeRun',
            runId: 'r1',
            node: 'n1',
            attempt: 1,
            outcome: 'Failed',
            exitCode: 3,
            message: 'exit 3',
            at: iso(NOW),
            retryAt,
          },
        },
        { type: 'count', metric: 'nodeRunRetries' },
      ],
    });
  });

  it('failed with no retries left: gives up, Failed, slot freed', () => {
    const failed = rpod({ phase: 'Failed', exitCode: 1 }, { attempt: 3 });
    const { plan } = step({ ...waiting, attempt: 3 }, job({ retryLimit: 2 }), {
      observed: { reaperPod: failed },
    });
    expect(plan).toMatchObject({ kind: 'finish', outcome: 'Failed', exitCode: 1 });
    expect(reports(plan)).toMatchObject([{ type: 'FinishNodeRun', outcome: 'Failed', attempt: 3 }]);
    expect(reports(plan)[0]).not.toHaveProperty('retryAt');
    expect(effectTypes(plan)).toEqual(['report', 'count', 'releaseSlot']);
  });

  it('a ReaperPod deleted (or replaced by another attempt) before it finished counts as a failure', () => {
    for (const observed of [undefined, rpod({ phase: 'Succeeded', exitCode: 0 }, { attempt: 2 })]) {
      const { plan } = step(waiting, job(), { observed: { reaperPod: observed } });
      expect(plan).toMatchObject({ kind: 'finish', outcome: 'Failed' });
      expect(plan).not.toHaveProperty('exitCode');
      expect(reports(plan)).toMatchObject([{ message: 'the ReaperPod was deleted before it finished' }]);
    }
  });

  it('before its deadline: parks until the deadline when that comes before the watchdog', () => {
    const running = rpod({ phase: 'Running' }, { created: NOW - 5_000 });
    const { plan } = step(waiting, job({ activeDeadlineSeconds: 30 }), { observed: { reaperPod: running } });
    expect(plan).toEqual({ kind: 'park', untilMs: NOW + 25_000, effects: [] });
  });

  it('past its deadline: deletes the attempt and reports DeadlineExceeded (retried when retries are left)', () => {
    const running = rpod({ phase: 'Running', exitCode: 9 }, { created: NOW - 31_000 });
    const owner = job({ activeDeadlineSeconds: 30 });
    const { plan } = step(waiting, owner, { observed: { reaperPod: running } });
    expect(plan).toMatchObject({ kind: 'finish', outcome: 'Failed' });
    expect(plan).not.toHaveProperty('exitCode');
    expect(effectTypes(plan)).toEqual(['log', 'deleteAttemptPod', 'report', 'count', 'releaseSlot']);
    expect(reports(plan)).toEqual([
      {
        type: 'FinishNodeRun',
        runId: 'r1',
        node: 'n1',
        attempt: 1,
        outcome: 'Failed',
        reason: 'DeadlineExceeded',
        message: 'DeadlineExceeded: the attempt ran longer than activeDeadlineSeconds (30s) and was stopped',
        at: iso(NOW),
      },
    ]);

    const retried = step(waiting, job({ activeDeadlineSeconds: 30, retryLimit: 1 }), {
      observed: { reaperPod: running },
    });
    expect(retried.plan).toMatchObject({ kind: 'park', next: { step: 'backoff', attempt: 2 } });
    expect(reports(retried.plan)).toMatchObject([
      { reason: 'DeadlineExceeded', retryAt: expect.any(Number) },
    ]);
  });

  it('an attempt that ended right at its deadline keeps its own outcome', () => {
    const done = rpod({ phase: 'Succeeded', exitCode: 0 }, { created: NOW - 60_000 });
    const { plan } = step(waiting, job({ activeDeadlineSeconds: 30 }), { observed: { reaperPod: done } });
    expect(plan).toMatchObject({ kind: 'finish', outcome: 'Succeeded', exitCode: 0 });
    expect(effectTypes(plan)).not.toContain('deleteAttemptPod');
  });
});
