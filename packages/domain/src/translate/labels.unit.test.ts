import { describe, expect, it } from 'vitest';
import { dnsLabelName, isLabelValue, labelValue } from './labels';

describe('labelValue', () => {
  it('returns a valid label value unchanged', () => {
    for (const s of ['', 'a', 'node-1.example.com', 'Mixed_Case.1', 'x'.repeat(63)])
      expect(labelValue(s)).toBe(s);
  });

  it('shortens a value longer than 63 characters to a valid, stable, readable form', () => {
    const long = `compute-node-${'9'.repeat(60)}.cluster.local`;
    const value = labelValue(long);
    expect(isLabelValue(value)).toBe(true);
    expect(value).toHaveLength(63);
    expect(value.startsWith('compute-node-')).toBe(true);
    expect(labelValue(long)).toBe(value);
  });

  it('keeps distinct inputs distinct when they share a long prefix', () => {
    const prefix = 'p'.repeat(70);
    expect(labelValue(`${prefix}a`)).not.toBe(labelValue(`${prefix}b`));
  });

  it('replaces characters a label value cannot hold and trims the ends', () => {
    const value = labelValue('-weird/name:with spaces-');
    expect(isLabelValue(value)).toBe(true);
    expect(value).toMatch(/^weird-name-with-spaces-[0-9a-z]{10}$/);
  });

  it('falls back to the bare hash when nothing readable is left', () => {
    expect(labelValue('///')).toMatch(/^[0-9a-z]{10}$/);
  });
});

describe('dnsLabelName', () => {
  it('lowercases and hashes a candidate that is not a DNS label', () => {
    const name = dnsLabelName('Node.A');
    expect(name).toMatch(/^node-a-[0-9a-z]{10}$/);
  });
});
