import { describe, expect, it } from 'vitest';
import { formatPath } from './parse';

describe('formatPath', () => {
  it('renders object keys with dots and list indexes in brackets', () => {
    expect(formatPath(['spec', 'volumes', 0, 'configMap'])).toBe('spec.volumes[0].configMap');
  });

  it('names the root when the path is empty', () => {
    expect(formatPath([])).toBe('(root)');
  });
});
