import { isTerminal } from '@reaper-flow/domain';
import { describe, expect, it } from 'vitest';
import { ApiError, isApiError } from './errors';

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
