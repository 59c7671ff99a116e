import { describe, expect, it } from 'vitest';
import { finish, given, history, start, triggered } from './decider.test-support';
import { dueAttempts, runningAttempts } from './node-run-work';

describe('node-run work derived from state', () => {
  const events = [...triggered(['n1', 'n2', 'n3'], { retryLimit: 1 })];
  events.push(
    ...history(
      [start('run-1', 'n1'), finish('run-1', 'n1', 'Failed'), start('run-1', 'n2'), start('run-1', 'n3')],
      given(events),
    ),
  );
  events.push(...history([finish('run-1', 'n3', 'Succeeded')], given(events)));

  it('lists the attempts to start: a retry with its notBefore', () => {
    expect(dueAttempts(given(events))).toEqual([{ node: 'n1', runId: 'run-1', attempt: 2, notBefore: 1000 }]);
  });

  it('lists queued nodes as attempt 1', () => {
    expect(dueAttempts(given(triggered(['b', 'a'])))).toEqual([
      { node: 'a', runId: 'run-1', attempt: 1 },
      { node: 'b', runId: 'run-1', attempt: 1 },
    ]);
  });

  it('lists the running attempts with their ReaperPods', () => {
    expect(runningAttempts(given(events))).toEqual([
      { node: 'n2', runId: 'run-1', attempt: 1, reaperPodName: 'job-n2' },
    ]);
  });
});
