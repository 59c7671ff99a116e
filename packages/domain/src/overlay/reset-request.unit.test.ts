import { describe, expect, it } from 'vitest';
import { formatResetRequest, parseResetRequest } from './reset-request';

describe('overlay reset requests', () => {
  it('are stored as <node>|<requestId>|<cause> and read back', () => {
    const failed = { node: 'node-1', requestId: 'abc', cause: 'failed' } as const;
    expect(formatResetRequest(failed)).toBe('node-1|abc|failed');
    expect(parseResetRequest('node-1|abc|failed')).toEqual(failed);
    expect(parseResetRequest(formatResetRequest({ node: 'n', requestId: 'u', cause: 'deleted' }))).toEqual({
      node: 'n',
      requestId: 'u',
      cause: 'deleted',
    });
  });

  it('read an older request without a cause, and refuse malformed ones', () => {
    expect(parseResetRequest('node-1|abc')).toEqual({ node: 'node-1', requestId: 'abc' });
    expect(formatResetRequest({ node: 'node-1', requestId: 'abc' })).toBe('node-1|abc');
    expect(parseResetRequest('|x')).toBeUndefined();
    expect(parseResetRequest('x|')).toBeUndefined();
  });
});
