import { describe, expect, it } from 'vitest';
import type { DaemonJobEvent } from './events';
import { foldHistory } from './history';

const t = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, '0')}Z`;

describe('foldHistory', () => {
  it('folds a run with a failed attempt, a retry and a success per node, with its trigger', () => {
    const log: DaemonJobEvent[] = [
      { type: 'RunTriggered', runId: 'r1', reason: 'Created', generation: 1, nodes: ['a', 'b'], at: t(0) },
      { type: 'NodeRunQueued', node: 'a', runId: 'r1', at: t(0) },
      { type: 'NodeRunQueued', node: 'b', runId: 'r1', at: t(0) },
      { type: 'NodeRunStarted', node: 'b', runId: 'r1', attempt: 1, reaperPodName: 'j-b-1', at: t(1) },
      { type: 'NodeRunStarted', node: 'a', runId: 'r1', attempt: 1, reaperPodName: 'j-a-1', at: t(1) },
      { type: 'NodeRunFailed', node: 'a', runId: 'r1', attempt: 1, exitCode: 3, message: 'exit 3', at: t(2) },
      { type: 'NodeRunRetryScheduled', node: 'a', runId: 'r1', retryCount: 1, retryLimit: 1, at: t(2) },
      { type: 'NodeRunSucceeded', node: 'b', runId: 'r1', attempt: 1, exitCode: 0, at: t(3) },
      { type: 'NodeRunStarted', node: 'a', runId: 'r1', attempt: 2, reaperPodName: 'j-a-2', at: t(4) },
      { type: 'NodeRunSucceeded', node: 'a', runId: 'r1', attempt: 2, exitCode: 0, at: t(5) },
      {
        type: 'RunTriggered',
        runId: 'r2',
        reason: 'Manual',
        generation: 1,
        nodes: ['b'],
        triggerValue: 'x',
        at: t(6),
      },
      { type: 'NodeRunQueued', node: 'b', runId: 'r2', at: t(6) },
      {
        type: 'NodeRunHeld',
        node: 'b',
        runId: 'r2',
        reason: 'DependencyWaiting',
        message: 'waits for c',
        at: t(7),
      },
    ] as DaemonJobEvent[];
    expect(foldHistory([...log, { not: 'an event' }])).toEqual([
      {
        node: 'a',
        runs: [
          {
            runId: 'r1',
            reason: 'Created',
            triggeredAt: t(0),
            queuedAt: t(0),
            outcome: 'Succeeded',
            attempts: [
              {
                attempt: 1,
                reaperPodName: 'j-a-1',
                startedAt: t(1),
                endedAt: t(2),
                exitCode: 3,
                outcome: 'Failed',
                message: 'exit 3',
              },
              {
                attempt: 2,
                reaperPodName: 'j-a-2',
                startedAt: t(4),
                endedAt: t(5),
                exitCode: 0,
                outcome: 'Succeeded',
              },
            ],
          },
        ],
      },
      {
        node: 'b',
        runs: [
          {
            runId: 'r1',
            reason: 'Created',
            triggeredAt: t(0),
            queuedAt: t(0),
            outcome: 'Succeeded',
            attempts: [
              {
                attempt: 1,
                reaperPodName: 'j-b-1',
                startedAt: t(1),
                endedAt: t(3),
                exitCode: 0,
                outcome: 'Succeeded',
              },
            ],
          },
          {
            runId: 'r2',
            reason: 'Manual',
            triggeredAt: t(6),
            triggerValue: 'x',
            queuedAt: t(6),
            outcome: 'Held',
            message: 'waits for c',
            attempts: [],
          },
        ],
      },
    ]);
  });

  it('ends the running attempt of a replaced run and marks exhausted runs Failed', () => {
    const log = [
      { type: 'NodeRunStarted', node: 'a', runId: 'r1', attempt: 1, reaperPodName: 'p1', at: t(1) },
      { type: 'NodeRunReplaced', node: 'a', runId: 'r2', oldRunId: 'r1', at: t(2) },
      { type: 'NodeRunStarted', node: 'a', runId: 'r2', attempt: 1, reaperPodName: 'p2', at: t(3) },
      { type: 'NodeRunFailed', node: 'a', runId: 'r2', attempt: 1, exitCode: 1, at: t(4) },
      { type: 'NodeRunExhausted', node: 'a', runId: 'r2', retryCount: 0, at: t(4) },
    ];
    const [a] = foldHistory(log);
    expect(a?.runs.map((r) => [r.runId, r.reason, r.outcome, r.attempts.map((x) => x.outcome)])).toEqual([
      ['r1', 'Unknown', 'Replaced', ['Replaced']],
      ['r2', 'Unknown', 'Failed', ['Failed']],
    ]);
  });
});
