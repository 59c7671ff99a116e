import { describe, expect, it } from 'vitest';
import { authorize, secretEquals } from './auth';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('dashboard authorization', () => {
  const both = { username: 'admin', password: 's3cret:with:colons', token: 'tok-123' };

  it('accepts the configured user and password, and the bearer token', () => {
    expect(authorize(basic('admin', 's3cret:with:colons'), both)).toEqual({ ok: true, via: 'basic' });
    expect(authorize('Bearer tok-123', both)).toEqual({ ok: true, via: 'bearer' });
    expect(authorize('bearer   tok-123', both)).toEqual({ ok: true, via: 'bearer' });
  });

  it('rejects a wrong user, password or token', () => {
    expect(authorize(basic('root', 's3cret:with:colons'), both)).toEqual({ ok: false, reason: 'rejected' });
    expect(authorize(basic('admin', 's3cret'), both)).toEqual({ ok: false, reason: 'rejected' });
    expect(authorize('Bearer tok-1234', both)).toEqual({ ok: false, reason: 'rejected' });
  });

  it('treats a missing or malformed header as anonymous', () => {
    expect(authorize(undefined, both)).toEqual({ ok: false, reason: 'missing' });
    expect(authorize('', both)).toEqual({ ok: false, reason: 'missing' });
    expect(authorize('Basic', both)).toEqual({ ok: false, reason: 'malformed' });
    expect(authorize(`Basic ${Buffer.from('no-colon').toString('base64')}`, both)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(authorize('Digest abc', both)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('never matches a scheme whose secret is not configured', () => {
    expect(authorize(basic('admin', ''), { username: 'admin', token: 't' })).toEqual({
      ok: false,
      reason: 'rejected',
    });
    expect(authorize('Bearer ', { username: 'admin', password: 'p' })).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(authorize('Bearer x', { username: 'admin', password: 'p' })).toEqual({
      ok: false,
      reason: 'rejected',
    });
  });

  it('compares secrets of different lengths without throwing', () => {
    expect(secretEquals('a', 'a much longer secret')).toBe(false);
    expect(secretEquals('same', 'same')).toBe(true);
  });
});
