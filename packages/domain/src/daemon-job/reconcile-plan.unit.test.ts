import { describe, expect, it } from 'vitest';
import type { Persisted } from '../schemas/object-meta';
import { parseReaperDaemonJob, type ReaperDaemonJob } from '../schemas/reaper-daemon-job';
import { at, start } from './decider.test-support';
import { initialEngineState } from './engine-state';
import { planReconcile, planStatus, settledState, targetsOutdated } from './reconcile-plan';

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

const base = {
  inboxCursor: '0-0',
  inbox: [],
  nodesRevision: 'rev-1',
  dependencyBlock: { kind: 'none' } as const,
  now: new Date(at(10)),
};

describe('planReconcile', () => {
  it('a new job on two targets: one run whose flow is an intent, the targets remembered', () => {
    let n = 0;
    const plan = planReconcile({
      ...base,
      job: job(),
      previous: initialEngineState,
      targets: [{ name: 'n1', bootId: 'b1' }, { name: 'n2' }],
      newRunId: () => `run-${++n}`,
    });
    expect(plan.newFlows).toEqual([{ runId: 'run-1', generation: 1, nodes: ['n1', 'n2'] }]);
    expect(plan.intents.pendingFlows).toEqual(plan.newFlows);
    expect(plan.intents.targetsSeenAt).toEqual({ nodesRevision: 'rev-1', generation: 1 });
    expect(plan.runIndex.set).toEqual({ n1: 'run-1', n2: 'run-1' });
    expect(plan.events.map((e) => e.type)).toContain('RunTriggered');
    expect(targetsOutdated(plan.intents, 'rev-1', 1)).toBe(false);
    expect(targetsOutdated(plan.intents, 'rev-2', 1)).toBe(true);
    expect(targetsOutdated(plan.intents, 'rev-1', 2)).toBe(true);

    // Nothing changed since: no trigger, no new flow, the saved flow intent kept until settled.
    const again = planReconcile({
      ...base,
      job: job(),
      previous: plan.intents,
      newRunId: () => 'never',
    });
    expect(again.newFlows).toEqual([]);
    expect(again.events).toEqual([]);
    expect(settledState(again.intents, undefined)?.pendingFlows).toEqual([]);
  });

  it('a StartNodeRun of a run that lost the node becomes a delete of that attempt only', () => {
    const first = planReconcile({
      ...base,
      job: job(),
      previous: initialEngineState,
      targets: [{ name: 'n1' }],
      newRunId: () => 'run-1',
    });
    const settled = settledState(first.intents, {
      phase: 'Running',
      mark: { readyNodes: 0, failedNodes: 0, stateKey: 'k' },
    });
    if (!settled) throw new Error('expected a settled state');
    const plan = planReconcile({
      ...base,
      job: job(),
      previous: settled,
      inbox: [
        { id: '1-0', command: start('run-old', 'n1', 2) },
        { id: '2-0', command: undefined },
      ],
      newRunId: () => 'never',
    });
    expect(plan.inboxCursor).toBe('2-0');
    expect(plan.intents.pendingDeletes).toEqual([{ name: 'job-n1', runId: 'run-old', attempt: 2 }]);
  });
});

describe('planStatus and settledState', () => {
  it('writes a phase change at once, coalesces the rest, and settles only when there is something to clear', () => {
    const plan = planReconcile({
      ...base,
      job: job(),
      previous: initialEngineState,
      targets: [{ name: 'n1' }],
      newRunId: () => 'run-1',
    });
    const input = {
      domain: plan.domain,
      lastWrittenPhase: undefined,
      lastWritten: undefined,
      lastStatusHash: '',
      lastStatusWriteAt: 0,
      nowMs: 10_000,
      coalesceMs: 1000,
      maxNodeStatuses: 100,
    };
    const first = planStatus(input);
    expect(first.write).toEqual({ kind: 'write', reason: 'phase' });
    expect(first.written).toEqual({
      phase: first.status.phase,
      mark: { readyNodes: 0, failedNodes: 0, stateKey: expect.any(String) },
    });
    const same = planStatus({ ...input, lastWrittenPhase: first.status.phase, lastStatusHash: first.hash });
    expect(same.write).toEqual({ kind: 'skip' });
    expect(settledState({ ...plan.intents, pendingFlows: [] }, undefined)).toBeUndefined();
    const settled = settledState(plan.intents, first.written);
    expect(settled).toMatchObject({
      pendingFlows: [],
      lastWrittenPhase: first.status.phase,
      lastWrittenStatus: first.written.mark,
    });
    // The record survives the next plan and a settle that wrote nothing.
    const next = planReconcile({
      ...base,
      job: job(),
      previous: settled ?? plan.intents,
      newRunId: () => 'never',
    });
    expect(next.intents.lastWrittenStatus).toEqual(first.written.mark);
    expect(
      settledState({ ...next.intents, pendingDeletes: [{ name: 'p', runId: 'r' }] }, undefined),
    ).toMatchObject({ lastWrittenPhase: first.status.phase, lastWrittenStatus: first.written.mark });
  });

  it('a snapshot without a record of the last write writes its next change once coalesceMs passed', () => {
    const plan = planReconcile({
      ...base,
      job: job(),
      previous: initialEngineState,
      targets: [{ name: 'n1' }, { name: 'n2' }],
      newRunId: () => 'run-1',
    });
    const status = planStatus({
      domain: plan.domain,
      lastWrittenPhase: 'Pending',
      lastWritten: undefined,
      lastStatusHash: 'an older status',
      lastStatusWriteAt: 9_000,
      nowMs: 10_000,
      coalesceMs: 1000,
      maxNodeStatuses: 100,
    });
    expect(status.status.phase).toBe('Pending');
    expect(status.write).toEqual({ kind: 'write', reason: 'unrecorded' });
  });
});
