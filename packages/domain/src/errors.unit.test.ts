import { describe, expect, it } from 'vitest';
import { errorCode, errorLabel, isTerminal, ReaperError } from './errors';

class Final extends ReaperError {
  readonly code = 'test.Final';
  readonly terminal = true;
}
class Passing extends ReaperError {
  readonly code = 'test.Passing';
  readonly terminal = false;
}

describe('the error shape', () => {
  it('carries its class name, a namespaced code, the disposition and the cause', () => {
    const cause = new Error('disk full');
    const err = new Final('cannot write', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'Final', code: 'test.Final', terminal: true, message: 'cannot write' });
    expect(err.cause).toBe(cause);
  });

  it('isTerminal: our terminal errors and BullMQ UnrecoverableError, also as plain objects', () => {
    expect(isTerminal(new Final('x'))).toBe(true);
    expect(isTerminal(new Passing('x'))).toBe(false);
    // An error that crossed Redis or a process boundary keeps only its fields.
    expect(isTerminal(JSON.parse(JSON.stringify({ ...new Final('x'), terminal: true })))).toBe(true);
    const unrecoverable = Object.assign(new Error('x'), { name: 'UnrecoverableError' });
    expect(isTerminal(unrecoverable)).toBe(true);
    expect(isTerminal(new Error('x'))).toBe(false);
    expect(isTerminal(undefined)).toBe(false);
    expect(isTerminal('boom')).toBe(false);
  });

  it('errorCode and errorLabel read any code, with unknown as the label of none', () => {
    expect(errorCode(new Passing('x'))).toBe('test.Passing');
    expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(errorCode(new Error('x'))).toBeUndefined();
    expect(errorLabel(new Error('x'))).toBe('unknown');
    expect(errorLabel(new Final('x'))).toBe('test.Final');
  });
});
