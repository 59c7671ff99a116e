import { describe, expect, it } from 'vitest';
import { fnv1a64, shortHash } from './hash';

describe('fnv1a64', () => {
  it('matches the published FNV-1a 64-bit test vectors', () => {
    expect(fnv1a64('')).toBe(0xcbf29ce484222325n);
    expect(fnv1a64('a')).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64('foobar')).toBe(0x85944171f73967e8n);
  });
});

describe('shortHash', () => {
  it('is 10 lowercase base-36 characters and the same on every call', () => {
    const h = shortHash('install-packages/worker-1');
    expect(h).toMatch(/^[0-9a-z]{10}$/);
    expect(shortHash('install-packages/worker-1')).toBe(h);
  });

  it('differs for inputs that differ by one character, unicode included', () => {
    expect(shortHash('node-a')).not.toBe(shortHash('node-b'));
    expect(shortHash('nœud')).not.toBe(shortHash('noeud'));
  });
});
