import { describe, expect, it } from 'vitest';
import { criTime, formatEntry, type LogEntry, parseEntries, renderEntries } from './pod-log';

const entry = (time: string, text: string, full = true, stream: LogEntry['stream'] = 'stdout'): LogEntry => ({
  time,
  stream,
  full,
  text,
});

const T1 = '2026-03-01T10:00:00.001000000Z';
const T2 = '2026-03-01T10:00:05.002000000Z';
const T3 = '2026-03-01T10:00:09.003000000Z';

describe('CRI pod logs', () => {
  it('round-trips entries through the file format', () => {
    const entries = [entry(T1, 'a b  c'), entry(T2, 'part', false, 'stderr'), entry(T2, '', true, 'stderr')];
    expect(parseEntries(entries.map(formatEntry).join(''))).toEqual(entries);
  });

  it('writes RFC 3339 times with nanoseconds', () => {
    expect(criTime(new Date('2026-03-01T10:00:00.001Z'))).toBe(T1);
  });

  it('joins partial entries into one line and prefixes the time of its first piece', () => {
    const entries = [entry(T1, 'one'), entry(T2, 'two-', false), entry(T3, 'end')];
    expect(renderEntries(entries, { timestamps: false })).toBe('one\ntwo-end\n');
    expect(renderEntries(entries, { timestamps: true })).toBe(`${T1} one\n${T2} two-end\n`);
  });

  it('tailLines counts whole lines; since and limitBytes cut as kubectl asks', () => {
    const entries = [entry(T1, 'one'), entry(T2, 'two-', false), entry(T2, 'end'), entry(T3, 'three')];
    expect(renderEntries(entries, { timestamps: false, tailLines: 2 })).toBe('two-end\nthree\n');
    expect(renderEntries(entries, { timestamps: false, tailLines: 0 })).toBe('');
    expect(renderEntries(entries, { timestamps: false, tailLines: 9 })).toBe('one\ntwo-end\nthree\n');
    expect(renderEntries(entries, { timestamps: false, since: new Date(T3) })).toBe('three\n');
    expect(renderEntries(entries, { timestamps: false, limitBytes: 5 })).toBe('one\nt');
  });
});
