import { describe, expect, it } from 'vitest';
import { formatMicroTime, formatTime } from './time';

describe('Kubernetes timestamps', () => {
  const at = Date.UTC(2006, 0, 2, 15, 4, 5, 123);

  it('a Time has second precision', () => {
    expect(formatTime(at)).toBe('2006-01-02T15:04:05Z');
    expect(formatTime(new Date(at))).toBe('2006-01-02T15:04:05Z');
  });

  it('a MicroTime has exactly six fractional digits', () => {
    expect(formatMicroTime(at)).toBe('2006-01-02T15:04:05.123000Z');
    expect(formatMicroTime(new Date(Date.UTC(2006, 0, 2)))).toBe('2006-01-02T00:00:00.000000Z');
  });
});
