import { describe, expect, it } from 'vitest';
import { escapeGlob, RedisKeys } from './names';

describe('RedisKeys', () => {
  it('finds the node of an overlay-node queue meta key, and nothing in longer keys', () => {
    const metas = RedisKeys.overlayQueueMetas('{rf}');
    expect(metas.pattern).toBe('{rf}:overlay-node-*:meta');
    expect(metas.nodeOf('{rf}:overlay-node-worker-1:meta')).toBe('worker-1');
    // `*` also matches `:`: a job's key that happens to end in :meta is not a queue.
    expect(metas.nodeOf('{rf}:overlay-node-worker-1:job-7:meta')).toBeUndefined();
    expect(metas.nodeOf('{rf}:overlay-node-:meta')).toBeUndefined();
  });

  it('match a prefix with glob characters literally', () => {
    expect(escapeGlob('a*b?[c]\\d')).toBe('a\\*b\\?\\[c\\]\\\\d');
    expect(RedisKeys.nodeRunWakes('{p*}').pattern).toBe('{p\\*}:wake:*');
    expect(RedisKeys.nodeRunWakes('{p*}').jobIdOf('{p*}:wake:nr|ns|j|r|n')).toBe('nr|ns|j|r|n');
  });
});
