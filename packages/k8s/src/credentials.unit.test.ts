import { describe, expect, it } from 'vitest';
import { rereadEvery, staticToken } from './credentials';

function source(values: (string | Error)[]) {
  let clock = 0;
  let reads = 0;
  const bearer = rereadEvery(
    async () => {
      const v = values[Math.min(reads, values.length - 1)];
      reads += 1;
      if (v instanceof Error) throw v;
      return v ?? '';
    },
    'test token',
    1_000,
    () => clock,
  );
  return {
    bearer,
    reads: () => reads,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe('rereadEvery', () => {
  it('reads once per interval and again when the interval has passed', async () => {
    const s = source(['a', 'b']);
    expect(await s.bearer.token()).toBe('a');
    s.advance(999);
    expect(await s.bearer.token()).toBe('a');
    expect(s.reads()).toBe(1);
    s.advance(1);
    expect(await s.bearer.token()).toBe('b');
    expect(s.reads()).toBe(2);
  });

  it('after a rejection reads at once and says whether the token changed', async () => {
    const s = source(['a', 'a', 'b']);
    expect(await s.bearer.token()).toBe('a');
    expect(await s.bearer.refreshAfterRejection('a')).toBe(false);
    expect(await s.bearer.refreshAfterRejection('a')).toBe(true);
    expect(await s.bearer.token()).toBe('b');
  });

  it('keeps the last token when a later read fails, and fails when there never was one', async () => {
    const s = source(['a', new Error('ENOENT')]);
    expect(await s.bearer.token()).toBe('a');
    s.advance(1_000);
    expect(await s.bearer.token()).toBe('a');
    const never = source([new Error('ENOENT')]);
    await expect(never.bearer.token()).rejects.toThrow('reading test token: ENOENT');
  });

  it('shares one read between concurrent requests', async () => {
    const s = source(['a']);
    const tokens = await Promise.all([s.bearer.token(), s.bearer.token(), s.bearer.token()]);
    expect(tokens).toEqual(['a', 'a', 'a']);
    expect(s.reads()).toBe(1);
  });
});

describe('staticToken', () => {
  it('never offers a retry after a rejection', async () => {
    expect(await staticToken('t').refreshAfterRejection('t')).toBe(false);
  });
});
