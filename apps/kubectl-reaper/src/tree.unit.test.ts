import { describe, expect, it } from 'vitest';
import { styleFor } from './style';
import { type JobView, renderTrees } from './tree';

const job = (name: string, after: string[], extra: Partial<JobView> = {}): JobView => ({
  namespace: 'ns',
  name,
  phase: 'Pending',
  ready: 0,
  total: 2,
  failed: 0,
  after,
  suspended: false,
  waitingFor: '',
  ...extra,
});
const plain = styleFor({ isTTY: false });

describe('renderTrees', () => {
  it('draws a diamond under its root, naming a job with two dependencies again under the second', () => {
    const text = renderTrees(
      [
        job('d', ['b', 'c'], { waitingFor: 'waiting for dependencies b (Running), c (Pending)' }),
        job('a', [], { phase: 'Completed', ready: 2 }),
        job('c', ['a'], { suspended: true, waitingFor: 'suspended' }),
        job('b', ['a'], {
          phase: 'Running',
          nodes: [{ node: 'n1', phase: 'Succeeded', attempts: 2, exitCode: 0, duration: '3s' }],
        }),
      ],
      plain,
      false,
    );
    expect(text).toBe(
      [
        'NAME       PHASE                READY  FAILED  WAITING FOR',
        'a          Completed            2/2    0',
        '├─ b       Running              0/2    0',
        '│  │  n1   Succeeded                           attempts=2 exit=0 took=3s',
        '│  └─ d    Pending              0/2    0       waiting for dependencies b (Running), c (Pending)',
        '└─ c       Pending (suspended)  0/2    0       suspended',
        '   └─ d ↑',
        '',
      ].join('\n'),
    );
  });

  it('draws jobs that only wait on a cycle at the top', () => {
    const text = renderTrees([job('x', ['y']), job('y', ['x'])], plain, false);
    expect(text.split('\n').map((l) => /^(.*?\S)(?:\s{2}|$)/.exec(l)?.[1] ?? '')).toEqual([
      'NAME',
      'x',
      '└─ y',
      '   └─ x ↑',
      '',
    ]);
  });
});
