import { isTerminal } from '@reaper-flow/domain';
import { describe, expect, it } from 'vitest';
import { ApiError, isApiError, isNamespaceGone } from './errors';

describe('ApiError in the project error shape', () => {
  it('is terminal only when the request as written was refused; transient ones are retried', () => {
    const invalid = new ApiError('Invalid', 422, 'spec.x: Invalid value');
    expect(invalid).toMatchObject({ name: 'ApiError', code: 'Invalid', terminal: true, transient: false });
    expect(isTerminal(invalid)).toBe(true);
    expect(isTerminal(new ApiError('BadRequest', 400, 'bad'))).toBe(true);
    const busy = new ApiError('ServerError', 503, 'unavailable');
    expect(busy).toMatchObject({ terminal: false, transient: true });
    // Neither: the caller decides (a NotFound is an answer, not a failure, for most reads).
    expect(new ApiError('NotFound', 404, 'gone')).toMatchObject({ terminal: false, transient: false });
    expect(isApiError(invalid, 'Invalid')).toBe(true);
    expect(isApiError(invalid, 'NotFound')).toBe(false);
  });
});

describe('isNamespaceGone', () => {
  it('is true for a write into a namespace being deleted or already deleted, not for other errors', () => {
    const terminating = new ApiError(
      'Forbidden',
      403,
      'pods "p" is forbidden: unable to create new content in namespace ns because it is being terminated',
    );
    const deleted = new ApiError('NotFound', 404, 'namespaces "ns" not found', 'NotFound', {
      name: 'ns',
      kind: 'namespaces',
    });
    const podGone = new ApiError('NotFound', 404, 'pods "p" not found', 'NotFound', {
      name: 'p',
      kind: 'pods',
    });
    expect([terminating, deleted].map(isNamespaceGone)).toEqual([true, true]);
    expect(isNamespaceGone(podGone)).toBe(false);
    expect(isNamespaceGone(new ApiError('Forbidden', 403, 'no'))).toBe(false);
  });
});
