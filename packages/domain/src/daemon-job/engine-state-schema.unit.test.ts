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
} from './decider.test-support';
import type { EngineState } from './engine-state';
import { parseEngineState } from './engine-state-schema';

describe('parseEngineState', () => {
  // A state the decider folded (a failed attempt waiting to retry, a success, a reboot to run
  // again, conditions), saved as JSON the way a snapshot holds it.
  const domain = given(
    history([
      observeSpec({ retryLimit: 1, after: ['setup'] }),
      observeTargets(['n1', 'n2', 'constructor']),
      trigger('run-1', { triggerValue: 'v1' }),
      start('run-1', 'n1'),
      start('run-1', 'n2'),
      finish('run-1', 'n1', 'Failed'),
      finish('run-1', 'n2', 'Succeeded'),
      observeTargets(['n1', 'n2=boot-2b', 'constructor'], at(9)),
    ]),
  );
  const state: EngineState = {
    domain,
    pendingFlows: [{ runId: 'run-1', generation: 1, nodes: ['n1', 'n2'] }],
    pendingDeletes: [{ name: 'job-n1', runId: 'run-1', attempt: 1 }],
    leftNodePods: ['job-gone'],
    targetsSeenAt: { nodesRevision: '3', generation: 1 },
    lastWrittenPhase: 'Running',
    lastWrittenStatus: { readyNodes: 1, failedNodes: 0, stateKey: '[["Progressing=True"],1,"v1",null]' },
    progressIndexed: true,
  };

  it('reads back every field of a saved state', () => {
    expect(domain.nodes.n1?.phase).toBe('RetryWaiting');
    expect(domain.nodes.n2?.needsRun).toBe('NodeRebooted');
    expect(parseEngineState(JSON.parse(JSON.stringify(state)))).toEqual({ ok: true, value: state });
  });

  it('reads a state saved before the status write was recorded (the next change writes it)', () => {
    const { lastWrittenStatus: _, ...older } = state;
    expect(parseEngineState(JSON.parse(JSON.stringify(older)))).toEqual({ ok: true, value: older });
  });

  it('refuses a state with a bad field, naming it', () => {
    const bad = JSON.parse(JSON.stringify(state));
    bad.domain.nodes.n1.phase = 'Exploded';
    bad.pendingFlows = 'none';
    const r = parseEngineState(bad);
    expect(r.ok ? [] : r.issues.map((i) => i.split(':')[0])).toEqual([
      'domain.nodes.n1.phase',
      'pendingFlows',
    ]);
  });
});
