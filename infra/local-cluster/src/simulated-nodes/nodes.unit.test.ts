import { describe, expect, it } from 'vitest';
import { parseTaint } from './nodes';

describe('parseTaint', () => {
  it('reads key=value:Effect', () => {
    expect(parseTaint('gpu=true:NoSchedule')).toEqual({ key: 'gpu', value: 'true', effect: 'NoSchedule' });
  });

  it('reads key:Effect without a value', () => {
    expect(parseTaint('dedicated:NoExecute')).toEqual({ key: 'dedicated', effect: 'NoExecute' });
  });

  it('rejects an unknown effect with a message naming the expected form', () => {
    expect(() => parseTaint('gpu=true:Sometimes')).toThrow(/key=value:Effect/);
  });
});
