import { describe, expect, it } from 'vitest';
import { setCondition, statusEqual, statusPatch } from './status-values';

const cond = (type: string, status: 'True' | 'False', t = '2026-01-01T00:00:00Z') => ({
  type,
  status,
  reason: 'R',
  message: '',
  lastTransitionTime: t,
});

describe('statusEqual', () => {
  it('compares conditions as a map keyed by type', () => {
    expect(
      statusEqual([cond('A', 'True'), cond('B', 'False')], [cond('B', 'False'), cond('A', 'True')]),
    ).toBe(true);
    expect(statusEqual([cond('A', 'True')], [cond('A', 'False')])).toBe(false);
  });

  it('treats a missing key like an undefined one, and lists of scalars in order', () => {
    expect(statusEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(statusEqual(['x', 'y'], ['y', 'x'])).toBe(false);
    expect(statusEqual({ a: 1 }, { a: 2 })).toBe(false);
  });
});

describe('statusPatch', () => {
  it('names only the keys that differ, and null for the ones to remove', () => {
    expect(
      statusPatch(
        { phase: 'Running', exitCode: 3, nodes: [{ nodeName: 'n' }] },
        { phase: 'Failed', exitCode: undefined, message: undefined },
      ),
    ).toEqual({ phase: 'Failed', exitCode: null });
  });

  it('is undefined when nothing differs', () => {
    expect(statusPatch({ phase: 'Ready' }, { phase: 'Ready', message: undefined })).toBeUndefined();
  });
});

describe('setCondition', () => {
  it('keeps lastTransitionTime when the status did not change, so re-setting yields an equal list', () => {
    const before = [cond('Ready', 'True', '2026-01-01T00:00:00Z')];
    const after = setCondition(before, { type: 'Ready', status: 'True', reason: 'R', message: '' }, 'later');
    expect(statusEqual(before, after)).toBe(true);
  });

  it('stamps a transition with now and appends new types', () => {
    const after = setCondition(
      [cond('Ready', 'True')],
      { type: 'Ready', status: 'False', reason: 'R', message: '' },
      '2026-02-02T00:00:00Z',
    );
    expect(after[0]?.lastTransitionTime).toBe('2026-02-02T00:00:00Z');
    const added = setCondition(after, { type: 'Other', status: 'True', reason: 'R', message: '' }, 'now');
    expect(added.map((c) => c.type)).toEqual(['Ready', 'Other']);
  });
});
