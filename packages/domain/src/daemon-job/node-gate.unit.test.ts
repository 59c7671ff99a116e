import { describe, expect, it } from 'vitest';
import type { HoldNodeRun } from './commands';
import { decideCommand } from './decide';
import { at, finish, history, observeSpec, observeTargets, start, trigger } from './decider.test-support';
import { fold } from './evolve';
import {
  type DependencyOnNode,
  decodeNodeProgress,
  decodeProgressMeta,
  encodeNodeProgress,
  encodeProgressMeta,
  nodeGate,
  PROGRESS_META_FIELD,
  progressIndexChanges,
} from './node-gate';
import { type DaemonJobState, initialState } from './state';
import { toStatus } from './status';
import type { NodeView } from './targets';

/** The state after deciding `commands` one after another from `from`. */
const after = (
  commands: Parameters<typeof history>[0],
  from: DaemonJobState = initialState,
): DaemonJobState => fold(history(commands, from), from);

const node: NodeView = { name: 'n8', labels: { role: 'compute' }, taints: [], ready: true, bootId: 'boot-2' };

const dep = (overrides: Partial<DependencyOnNode> = {}): DependencyOnNode => ({
  name: 'a',
  job: { generation: 1, triggerOn: 'NodeReady', targeting: {} },
  meta: { observedGeneration: 1 },
  node: { phase: 'Succeeded', needsRun: false, bootId: 'boot-2' },
  ...overrides,
});

describe('nodeGate: a run on a node starts only after its dependencies succeeded there', () => {
  it('opens when every dependency succeeded on the node in its newest run', () => {
    expect(nodeGate(node, [dep(), dep({ name: 'b' })])).toEqual({ kind: 'open' });
    expect(nodeGate(node, [])).toEqual({ kind: 'open' });
  });

  it('holds a node the dependency has not seen join yet (its engine has no entry for it)', () => {
    const { node: _omitted, ...unseen } = dep();
    expect(nodeGate(node, [unseen])).toMatchObject({ kind: 'waiting', names: ['a'] });
  });

  it('holds while the dependency runs, queues or waits to retry there', () => {
    for (const phase of ['Queued', 'Running', 'RetryWaiting', 'Idle'] as const) {
      const gate = nodeGate(node, [dep({ node: { phase, needsRun: false, bootId: 'boot-2' } })]);
      expect(gate.kind).toBe('waiting');
    }
  });

  it('holds after a reboot until the dependency has seen it (old boot id) and re-run (needsRun)', () => {
    expect(
      nodeGate(node, [dep({ node: { phase: 'Succeeded', needsRun: false, bootId: 'boot-1' } })]),
    ).toMatchObject({
      kind: 'waiting',
      message: 'waiting for dependency a has not seen this node reboot yet',
    });
    expect(
      nodeGate(node, [dep({ node: { phase: 'Succeeded', needsRun: true, bootId: 'boot-2' } })]).kind,
    ).toBe('waiting');
  });

  it('a Manual dependency owes no run to a rebooted node: its last success stands', () => {
    const manual = dep({
      job: { generation: 1, triggerOn: 'Manual', targeting: {} },
      node: { phase: 'Succeeded', needsRun: true, bootId: 'boot-2' },
    });
    expect(nodeGate(node, [manual])).toEqual({ kind: 'open' });
  });

  it('holds while the dependency has a new generation or a manual trigger it has not acted on', () => {
    expect(
      nodeGate(node, [dep({ job: { generation: 2, triggerOn: 'NodeReady', targeting: {} } })]).kind,
    ).toBe('waiting');
    const triggered = dep({
      job: { generation: 1, triggerOn: 'NodeReady', targeting: {}, triggerValue: 't2' },
    });
    expect(
      nodeGate(node, [{ ...triggered, meta: { observedGeneration: 1, lastTriggerValue: 't1' } }]).kind,
    ).toBe('waiting');
    expect(
      nodeGate(node, [{ ...triggered, meta: { observedGeneration: 1, lastTriggerValue: 't2' } }]).kind,
    ).toBe('open');
  });

  it('a dependency that does not target the node does not hold it', () => {
    const elsewhere = dep({
      job: { generation: 1, triggerOn: 'NodeReady', targeting: { nodeSelector: { role: 'gpu' } } },
    });
    const { node: _none, ...withoutEntry } = elsewhere;
    expect(nodeGate(node, [withoutEntry])).toEqual({ kind: 'open' });
  });

  it('blocks the node when a dependency exhausted its retries there, naming it; failed wins over waiting', () => {
    const gate = nodeGate(node, [
      dep({ name: 'b', node: { phase: 'Running', needsRun: false, bootId: 'boot-2' } }),
      dep({ name: 'a', node: { phase: 'Failed', needsRun: false, bootId: 'boot-2' } }),
    ]);
    expect(gate).toEqual({
      kind: 'failed',
      names: ['a'],
      message: 'blocked on this node: dependency a failed here; it runs once that succeeds here',
    });
  });

  it('a missing dependency holds the node', () => {
    const { job: _job, ...missing } = dep();
    expect(nodeGate(node, [missing])).toMatchObject({
      kind: 'waiting',
      message: 'waiting for dependency a does not exist',
    });
  });
});

describe('progress index', () => {
  it('round-trips node entries and meta, and refuses what is not one', () => {
    const state = after([observeSpec(), observeTargets(['n1']), trigger('r1'), start('r1', 'n1')]);
    const entry = encodeNodeProgress(state.nodes.n1 as never);
    expect(decodeNodeProgress(entry)).toEqual({ phase: 'Running', needsRun: false, bootId: 'boot-n1' });
    expect(decodeNodeProgress('Weird|0|x')).toBeUndefined();
    expect(decodeNodeProgress(undefined)).toBeUndefined();
    expect(decodeProgressMeta('{"observedGeneration":1}')).toEqual({ observedGeneration: 1 });
    expect(decodeProgressMeta('not json')).toBeUndefined();
  });

  it('reads the meta of the previous release (no format version) and refuses a newer one or garbage', () => {
    const state = after([observeSpec(), observeTargets(['n1', 'n2']), trigger('r1')]);
    expect(decodeProgressMeta(encodeProgressMeta(state))).toEqual({ observedGeneration: 1, targets: 2 });
    expect(decodeProgressMeta('{"observedGeneration":1,"lastTriggerValue":"t","targets":2}')).toEqual({
      observedGeneration: 1,
      lastTriggerValue: 't',
      targets: 2,
    });
    expect(decodeProgressMeta('{"v":2,"observedGeneration":1}')).toBeUndefined();
    expect(decodeProgressMeta('{"observedGeneration":"1"}')).toBeUndefined();
    expect(decodeProgressMeta('[1]')).toBeUndefined();
  });

  it('writes only the nodes that changed, deletes those that left, and always the meta', () => {
    const before = after([observeSpec(), observeTargets(['n1', 'n2']), trigger('r1')]);
    const later = after([start('r1', 'n1'), observeTargets(['n1'])], before);
    const changes = progressIndexChanges(before, later);
    expect(Object.keys(changes.set).sort()).toEqual([PROGRESS_META_FIELD, 'n1']);
    expect(changes.del).toEqual(['n2']);
    expect(progressIndexChanges(initialState, before).set[PROGRESS_META_FIELD]).toBe(
      '{"v":1,"observedGeneration":1,"targets":2}',
    );
  });
});

describe('HoldNodeRun', () => {
  const base = after([observeSpec({ after: ['a'] }), observeTargets(['n1', 'n2']), trigger('r1')]);
  const hold = (overrides: Partial<HoldNodeRun> = {}): HoldNodeRun => ({
    type: 'HoldNodeRun',
    runId: 'r1',
    node: 'n1',
    reason: 'DependencyFailed',
    message: 'blocked on this node: dependency a failed here; it runs once that succeeds here',
    at: at(5),
    ...overrides,
  });

  it('records why a queued node waits; the status shows it on the node and the job', () => {
    const decision = decideCommand(hold(), base);
    expect(decision.result.kind).toBe('accepted');
    const held = after([hold()], base);
    const status = toStatus(held);
    expect(status.nodeStatuses?.find((n) => n.nodeName === 'n1')?.message).toBe(hold().message);
    expect(status.message).toContain('1 blocked by a dependency that failed there');
  });

  it('the same hold again is a duplicate; a hold of another run is stale; starting clears it', () => {
    const held = after([hold()], base);
    expect(decideCommand(hold(), held).result.kind).toBe('duplicate');
    expect(decideCommand(hold({ runId: 'other' }), held).result.kind).toBe('stale');
    const started = after([start('r1', 'n1')], held);
    expect(started.nodes.n1?.held).toBeUndefined();
    expect(started.nodes.n1?.message).toBeUndefined();
    const done = after([finish('r1', 'n1', 'Succeeded')], started);
    expect(decideCommand(hold(), done).result.kind).toBe('duplicate');
  });
});
