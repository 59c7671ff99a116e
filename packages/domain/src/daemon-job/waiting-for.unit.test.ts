import { describe, expect, it } from 'vitest';
import { waitingFor } from './waiting-for';

describe('waitingFor', () => {
  const blocked = {
    type: 'Blocked',
    status: 'True',
    reason: 'DependencyWaiting',
    message: 'waiting for dependency a (Running)',
  };

  it('says suspended first, then the Blocked condition, else nothing', () => {
    expect(waitingFor({ spec: { suspend: true }, status: { conditions: [blocked] } })).toBe('suspended');
    expect(waitingFor({ status: { conditions: [blocked] } })).toBe('waiting for dependency a (Running)');
    expect(waitingFor({ status: { conditions: [{ ...blocked, status: 'False' }] } })).toBe('');
    expect(waitingFor({})).toBe('');
  });
});
