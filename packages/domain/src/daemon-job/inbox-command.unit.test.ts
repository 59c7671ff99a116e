import { describe, expect, it } from 'vitest';
import { parseInboxCommand } from './inbox-command';

const start = {
  type: 'StartNodeRun',
  runId: 'r1',
  node: 'n1',
  attempt: 1,
  reaperPodName: 'job-n1',
  at: '2026-01-01T00:00:00.000Z',
};

describe('parseInboxCommand', () => {
  it('accepts what node-run workers write', () => {
    expect(parseInboxCommand(start)).toEqual({ ok: true, value: start });
    const finish = { ...start, type: 'FinishNodeRun', outcome: 'Failed', exitCode: 1, retryAt: 5 };
    const { reaperPodName: _unused, ...withoutPod } = finish;
    expect(parseInboxCommand(withoutPod)).toMatchObject({ ok: true });
  });

  it('rejects an unknown type, naming the field', () => {
    const r = parseInboxCommand({ ...start, type: 'TriggerRun' });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.issues).toEqual([expect.stringMatching(/^type: /)]);
  });

  it('rejects the right type with wrong fields, naming each', () => {
    const r = parseInboxCommand({ type: 'FinishNodeRun', runId: 'r1', node: 'n1', attempt: 0, at: 'now' });
    expect(r.ok ? [] : r.issues.map((i) => i.split(':')[0])).toEqual(['attempt', 'outcome', 'at']);
  });

  it('rejects what is not an object', () => {
    for (const raw of [null, 'StartNodeRun', 42, []]) expect(parseInboxCommand(raw).ok).toBe(false);
  });
});
