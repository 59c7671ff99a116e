import { describe, expect, it } from 'vitest';
import type { DaemonJobCommand } from './commands';
import { decideAndEvolve } from './decide';
import { at, finish, given, observeSpec, start, triggered } from './decider.test-support';
import { FoldSession } from './evolve';
import { planStatus } from './reconcile-plan';
import type { DaemonJobState } from './state';
import { toStatus } from './status';
import {
  decideStatusWrite,
  progressBatch,
  type StatusWriteReason,
  statusStateKey,
  type WrittenStatusMark,
} from './status-coalescing';

const mark = (readyNodes: number, failedNodes = 0, stateKey = 'k'): WrittenStatusMark => ({
  readyNodes,
  failedNodes,
  stateKey,
});

/** A Running 1000-node job whose status was last written at t=10 000 ms with 100 nodes ready. */
const running = {
  phase: 'Running',
  lastWrittenPhase: 'Running',
  changed: true,
  mark: mark(101),
  totalNodes: 1000,
  lastWritten: mark(100),
  nowMs: 12_000,
  lastWriteAtMs: 10_000,
  coalesceMs: 1000,
};

describe('decideStatusWrite', () => {
  it('1. skips a status that did not change, whatever else holds', () => {
    expect(decideStatusWrite({ ...running, changed: false, phase: 'Completed' })).toEqual({ kind: 'skip' });
  });

  it('2. writes a phase change at once, even right after a write', () => {
    expect(decideStatusWrite({ ...running, phase: 'Completed', nowMs: 10_001 })).toEqual({
      kind: 'write',
      reason: 'phase',
    });
    expect(decideStatusWrite({ ...running, lastWrittenPhase: undefined, nowMs: 10_001 })).toEqual({
      kind: 'write',
      reason: 'phase',
    });
  });

  it('3. defers anything else until coalesceMs after the last write', () => {
    const changedState = { ...running, mark: mark(200, 0, 'suspended'), nowMs: 10_400 };
    expect(decideStatusWrite(changedState)).toEqual({ kind: 'defer', afterMs: 600 });
    expect(decideStatusWrite({ ...changedState, lastWritten: undefined })).toEqual({
      kind: 'defer',
      afterMs: 600,
    });
  });

  it('4. after coalesceMs, writes a change of state, or any change when nothing was recorded', () => {
    expect(decideStatusWrite({ ...running, mark: mark(100, 0, 'suspended') })).toEqual({
      kind: 'write',
      reason: 'state',
    });
    expect(decideStatusWrite({ ...running, lastWritten: undefined })).toEqual({
      kind: 'write',
      reason: 'unrecorded',
    });
  });

  it('5. writes progress once a batch settled or the written one is 5 intervals old, defers otherwise', () => {
    // 62 + 1 settled: a batch of 63 (1000 nodes); a node that failed for good settles too.
    expect(decideStatusWrite({ ...running, mark: mark(162, 1) })).toEqual({ kind: 'write', reason: 'batch' });
    expect(decideStatusWrite({ ...running, mark: mark(161, 1) })).toEqual({ kind: 'defer', afterMs: 3000 });
    // A failed node retried and succeeded: one less failed, one more ready, two settles.
    expect(
      decideStatusWrite({ ...running, totalNodes: 32, mark: mark(101, 0), lastWritten: mark(100, 1) }),
    ).toEqual({ kind: 'write', reason: 'batch' });
    // 1 of 63 settled, 2 s after the write: wait until 5 s after it.
    expect(decideStatusWrite(running)).toEqual({ kind: 'defer', afterMs: 3000 });
    // Only a node started (nodeStatuses and message changed, no settle).
    expect(decideStatusWrite({ ...running, mark: mark(100), nowMs: 11_000 })).toEqual({
      kind: 'defer',
      afterMs: 4000,
    });
    expect(decideStatusWrite({ ...running, nowMs: 15_000 })).toEqual({ kind: 'write', reason: 'stale' });
  });

  it('5. a job of up to 16 nodes writes progress with no settle once coalesceMs passed, as before', () => {
    const started = { ...running, mark: mark(100), nowMs: 11_000 };
    expect(decideStatusWrite({ ...started, totalNodes: 16 })).toEqual({ kind: 'write', reason: 'batch' });
    expect(decideStatusWrite({ ...started, totalNodes: 17 })).toEqual({ kind: 'defer', afterMs: 4000 });
  });

  it('coalesceMs 0 writes every change, as before', () => {
    expect(decideStatusWrite({ ...running, coalesceMs: 0, nowMs: 10_000 })).toEqual({
      kind: 'write',
      reason: 'stale',
    });
  });
});

describe('progressBatch', () => {
  it('is one node-run up to 16 nodes, a sixteenth of the job above, at most 64', () => {
    expect([0, 1, 10, 16, 17, 200, 999, 1000, 1024, 5000].map(progressBatch)).toEqual([
      1, 1, 1, 1, 2, 13, 63, 63, 64, 64,
    ]);
  });
});

describe('statusStateKey', () => {
  it('changes with a condition status or the observed generation, not with progress messages', () => {
    const state = given(triggered(['n1', 'n2']));
    const key = statusStateKey(toStatus(state));
    const progressed = decideAndEvolve(start('run-1', 'n1'), state).state;
    const suspended = decideAndEvolve(observeSpec({ suspend: true }), progressed).state;
    const nextGeneration = decideAndEvolve(observeSpec({ generation: 2, runSpecHash: 'spec-1' }), progressed);
    expect(toStatus(progressed).message).not.toBe(toStatus(state).message);
    expect(statusStateKey(toStatus(progressed))).toBe(key);
    expect(toStatus(suspended).conditions.find((c) => c.type === 'Suspended')?.status).toBe('True');
    expect(statusStateKey(toStatus(suspended))).not.toBe(key);
    expect(statusStateKey(toStatus(nextGeneration.state))).not.toBe(key);
  });
});

/** What the node-run workers report at `atMs`; the job is reconciled right after. */
interface Step {
  readonly atMs: number;
  readonly commands: readonly DaemonJobCommand[];
}

interface Written {
  readonly atMs: number;
  readonly reason: StatusWriteReason;
  readonly phase: string;
  readonly readyNodes: number;
}

/**
 * Runs the status decision as the scheduler does: a reconcile after each step and when the
 * requeue timer fires (one timer per key, each deferral replacing it, as ReconcileQueue.requeueAfter
 * does), folding the domain with the real decider and recording what was written when.
 */
function simulate(from: DaemonJobState, steps: readonly Step[], coalesceMs = 1000): Written[] {
  const session = new FoldSession();
  let domain = from;
  let last: { phase?: string; mark?: WrittenStatusMark; hash: string; atMs: number } = { hash: '', atMs: 0 };
  const written: Written[] = [];
  let timer: number | undefined;
  const reconcile = (nowMs: number) => {
    const plan = planStatus({
      domain,
      lastWrittenPhase: last.phase,
      lastWritten: last.mark,
      lastStatusHash: last.hash,
      lastStatusWriteAt: last.atMs,
      nowMs,
      coalesceMs,
      maxNodeStatuses: 100,
    });
    if (plan.write.kind === 'defer') timer = nowMs + plan.write.afterMs;
    if (plan.write.kind !== 'write') return;
    const { status } = plan;
    written.push({
      atMs: nowMs,
      reason: plan.write.reason,
      phase: status.phase,
      readyNodes: status.readyNodes,
    });
    last = { phase: plan.written.phase, mark: plan.written.mark, hash: plan.hash, atMs: nowMs };
  };
  const fireTimerBefore = (untilMs: number) => {
    while (timer !== undefined && timer < untilMs) {
      const firesAt = timer;
      timer = undefined;
      reconcile(firesAt);
    }
  };
  for (const step of steps) {
    fireTimerBefore(step.atMs);
    for (const command of step.commands) {
      const decided = decideAndEvolve(command, domain, session);
      if (decided.decision.result.kind !== 'accepted') throw new Error(`${command.type} not accepted`);
      domain = decided.state;
    }
    reconcile(step.atMs);
  }
  fireTimerBefore(Number.POSITIVE_INFINITY);
  return written;
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
const iso = (ms: number) => at(Math.floor(ms / 1000));

/** t=0: the job, its n node-runs queued; t=10 ms: all started; then a settle every `everyMs`. */
function fanOut(n: number, everyMs: number, settles = n): { from: DaemonJobState; steps: Step[] } {
  const nodes = names(n);
  const steps: Step[] = [
    { atMs: 0, commands: [] },
    { atMs: 10, commands: nodes.map((node) => start('run-1', node, 1, iso(10))) },
  ];
  for (let k = 1; k <= settles; k++) {
    const atMs = k * everyMs;
    steps.push({ atMs, commands: [finish('run-1', `n${k - 1}`, 'Succeeded', 1, iso(atMs))] });
  }
  return { from: given(triggered(nodes)), steps };
}

describe('status writes of a whole run', () => {
  it('a 1000-node run over 48 s writes its status 18 times, not once per second', () => {
    // 1000 settles 48 ms apart, coalesceMs 1000, batch 63. By hand: Pending (t=0), Running
    // (t=10 ms), then a batch at each 63rd settle (3.024 s apart, past coalesceMs), k = 63, 126,
    // ..., 945: 15 writes, and the 1000th settle is the Completed phase: 2 + 15 + 1 = 18 (0.9 per
    // 50 node-runs). The requeue timer never writes: a settle moves it on, and when it fires between two
    // settles its batch is not full.
    const { from, steps } = fanOut(1000, 48);
    const written = simulate(from, steps);
    const batches = Array.from({ length: 15 }, (_, i) => ({
      atMs: 48 * 63 * (i + 1),
      reason: 'batch',
      phase: 'Running',
      readyNodes: 63 * (i + 1),
    }));
    expect(written).toEqual([
      { atMs: 0, reason: 'phase', phase: 'Pending', readyNodes: 0 },
      { atMs: 10, reason: 'phase', phase: 'Running', readyNodes: 0 },
      ...batches,
      { atMs: 48_000, reason: 'phase', phase: 'Completed', readyNodes: 1000 },
    ]);
  }, 30_000);

  it('progress of a slow big run is never staler than 5 coalescing intervals', () => {
    // 60 of 1000 settle 400 ms apart (a batch of 63 would take 25 s): a write every 5 s after the
    // Running one, at 10 + 5000 k ms, each with every settle until then; the last one is the
    // requeue after the 60th settle (24 s).
    const { from, steps } = fanOut(1000, 400, 60);
    const written = simulate(from, steps);
    expect(written.map((w) => [w.atMs, w.reason, w.readyNodes])).toEqual([
      [0, 'phase', 0],
      [10, 'phase', 0],
      [5010, 'stale', 12],
      [10_010, 'stale', 25],
      [15_010, 'stale', 37],
      [20_010, 'stale', 50],
      [25_010, 'stale', 60],
    ]);
  }, 30_000);

  it('a 10-node job still writes every settle once coalesceMs passed', () => {
    // A settle every 1.5 s: each is written (batch 1); the 10th is the Completed phase.
    const slow = fanOut(10, 1500);
    expect(simulate(slow.from, slow.steps).map((w) => [w.atMs, w.reason, w.readyNodes])).toEqual([
      [0, 'phase', 0],
      [10, 'phase', 0],
      ...Array.from({ length: 9 }, (_, i) => [1500 * (i + 1), 'batch', i + 1]),
      [15_000, 'phase', 10],
    ]);
    // A settle every 200 ms: one write per coalesceMs, as before (the requeue at 1010 ms).
    const fast = fanOut(10, 200);
    expect(simulate(fast.from, fast.steps).map((w) => [w.atMs, w.reason, w.readyNodes])).toEqual([
      [0, 'phase', 0],
      [10, 'phase', 0],
      [1010, 'batch', 5],
      [2000, 'phase', 10],
    ]);
  }, 30_000);

  it('a suspension is written once coalesceMs passed, with no node-run settling', () => {
    const { from, steps } = fanOut(1000, 48, 0);
    const suspend = (atMs: number): Step => ({
      atMs,
      commands: [observeSpec({ suspend: true, at: iso(atMs) })],
    });
    const later = simulate(from, [...steps, suspend(3000)]);
    expect(later.map((w) => [w.atMs, w.reason])).toEqual([
      [0, 'phase'],
      [10, 'phase'],
      [3000, 'state'],
    ]);
    const soon = simulate(from, [...steps, suspend(500)]);
    expect(soon.map((w) => [w.atMs, w.reason])).toEqual([
      [0, 'phase'],
      [10, 'phase'],
      [1010, 'state'],
    ]);
  }, 30_000);
});
