import { describe, expect, it } from 'vitest';
import {
  at,
  finish,
  given,
  history,
  observeSpec,
  observeTargets,
  start,
  trigger,
  triggered,
} from './decider.test-support';
import type { DaemonJobEvent } from './events';
import { fold } from './evolve';
import { toStatus } from './status';

const then = (events: readonly DaemonJobEvent[], more: Parameters<typeof history>[0]): DaemonJobEvent[] => [
  ...events,
  ...history(more, given(events)),
];

describe('toStatus', () => {
  it('is Pending with "not started" before any run', () => {
    expect(toStatus(given(history([observeSpec(), observeTargets(['n1'])])))).toMatchObject({
      phase: 'Pending',
      readyNodes: 0,
      totalNodes: 1,
      failedNodes: 0,
      message: 'not started',
    });
  });

  it('stays Pending while the queued runs have not started', () => {
    expect(toStatus(given(triggered(['n1', 'n2'])))).toMatchObject({
      phase: 'Pending',
      observedGeneration: 1,
      message: '2 node runs queued',
    });
  });

  it('counts succeeded, running and failed nodes and names the failed ones', () => {
    const nodes = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'];
    const events = then(triggered(nodes), [
      ...['node-a', 'node-b', 'node-d'].flatMap((node) => [
        start('run-1', node),
        finish('run-1', node, 'Succeeded'),
      ]),
      start('run-1', 'node-c'),
      finish('run-1', 'node-c', 'Failed'),
      start('run-1', 'node-e'),
    ]);
    expect(toStatus(given(events))).toMatchObject({
      phase: 'Running',
      readyNodes: 3,
      failedNodes: 1,
      totalNodes: 5,
      message: '3/5 nodes succeeded, 1 running, 1 failed (node-c exit 1)',
    });
  });

  it('says "no nodes match" for a started job without targets', () => {
    const events = history([observeSpec(), observeTargets([]), trigger('run-1')]);
    expect(toStatus(given(events))).toMatchObject({
      phase: 'Completed',
      totalNodes: 0,
      message: 'no nodes match',
    });
  });

  it('shows a dependency cycle as the reason a new job is Pending', () => {
    const events = history([
      observeSpec({ after: ['b'] }),
      observeTargets(['n1']),
      { type: 'ObserveDependencies', block: { kind: 'cycle', path: ['a', 'b', 'a'] }, at: at(5) },
    ]);
    const status = toStatus(given(events));
    expect(status).toMatchObject({ phase: 'Pending', message: 'blocked: dependency cycle a -> b -> a' });
    expect(status.conditions.find((condition) => condition.type === 'Blocked')).toEqual({
      type: 'Blocked',
      status: 'True',
      reason: 'DependencyCycle',
      message: 'dependency cycle a -> b -> a',
      lastTransitionTime: at(5),
    });
  });

  it('dates each condition by the event that changed its status', () => {
    const events = then(triggered(['n1']), [
      start('run-1', 'n1', 1, at(3)),
      finish('run-1', 'n1', 'Succeeded', 1, at(4)),
    ]);
    const summary = toStatus(given(events)).conditions.map(
      ({ type, status, reason, lastTransitionTime }) => ({
        type,
        status,
        reason,
        lastTransitionTime,
      }),
    );
    expect(summary).toEqual([
      { type: 'Blocked', status: 'False', reason: 'NoDependencies', lastTransitionTime: at(0) },
      { type: 'Progressing', status: 'False', reason: 'RunsFinished', lastTransitionTime: at(4) },
      { type: 'Complete', status: 'True', reason: 'AllNodesSucceeded', lastTransitionTime: at(4) },
      { type: 'Failed', status: 'False', reason: 'NoNodeExhausted', lastTransitionTime: at(0) },
      { type: 'Suspended', status: 'False', reason: 'NotSuspended', lastTransitionTime: at(0) },
    ]);
  });

  it('does not claim Failed while other nodes still run, but says a node failed', () => {
    const events = then(triggered(['n1', 'n2']), [start('run-1', 'n1'), finish('run-1', 'n1', 'Failed')]);
    expect(toStatus(given(events)).conditions.find((condition) => condition.type === 'Failed')).toMatchObject(
      {
        status: 'False',
        reason: 'NodeRunsActive',
        message: '1 failed, other node runs still active',
      },
    );
  });

  it('bounds nodeStatuses for 1000 nodes while keeping the counts exact', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => `node-${String(i).padStart(4, '0')}`);
    const failing = new Set(nodes.filter((_, i) => i % 100 === 7));
    const running = new Set(nodes.filter((_, i) => i % 200 === 3));
    const commands = nodes.flatMap((node) => {
      if (running.has(node)) return [start('run-1', node)];
      return [start('run-1', node), finish('run-1', node, failing.has(node) ? 'Failed' : 'Succeeded')];
    });
    const state = given(then(triggered(nodes), commands));
    const status = toStatus(state);
    expect(status).toMatchObject({ phase: 'Running', totalNodes: 1000, readyNodes: 985, failedNodes: 10 });
    expect(status.nodeStatuses).toHaveLength(100);
    expect(status.nodeStatuses.slice(0, 10).map((node) => node.nodeName)).toEqual([...failing].sort());
    expect(status.nodeStatuses.slice(10, 15).map((node) => node.phase)).toEqual(Array(5).fill('Running'));
    expect(status.nodeStatuses.slice(15).every((node) => node.phase === 'Succeeded')).toBe(true);
    expect(status.message).toBe(
      '985/1000 nodes succeeded, 5 running, 10 failed (node-0007 exit 1, node-0107 exit 1, node-0207 exit 1 and 7 more)',
    );
    expect(toStatus(state, { maxNodeStatuses: 3 }).nodeStatuses).toHaveLength(3);
    // The 2000-command history is built in one FoldSession (`history`), linear in the commands: 0.8 s
    // under a load of 20 here (it was quadratic, 10-12.7 s, before the session).
  });

  it('is built from a state that survives a JSON round trip unchanged', () => {
    const events = then(triggered(['n1', 'n2'], { retryLimit: 1 }), [
      start('run-1', 'n1'),
      finish('run-1', 'n1', 'Failed'),
    ]);
    const state = fold(events);
    const copy = JSON.parse(JSON.stringify(state));
    expect(copy).toStrictEqual(state);
    expect(toStatus(copy)).toStrictEqual(toStatus(state));
    const more = history([start('run-1', 'n2')], state);
    expect(fold(more, copy)).toStrictEqual(fold(more, state));
  });
});
