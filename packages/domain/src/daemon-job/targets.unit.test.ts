import { describe, expect, it } from 'vitest';
import { matchesNodeSelector, type NodeView, targetNodes, toleratesTaint, toleratesTaints } from './targets';

const node = (name: string, overrides: Partial<NodeView> = {}): NodeView => ({
  name,
  labels: {},
  taints: [],
  ready: true,
  ...overrides,
});

describe('matchesNodeSelector', () => {
  it('matches every node when the selector is empty or absent', () => {
    expect(matchesNodeSelector(undefined, { a: '1' })).toBe(true);
    expect(matchesNodeSelector({}, {})).toBe(true);
  });

  it('requires every selector entry to equal the label', () => {
    expect(matchesNodeSelector({ role: 'compute', zone: 'a' }, { role: 'compute', zone: 'a', x: 'y' })).toBe(
      true,
    );
    expect(matchesNodeSelector({ role: 'compute', zone: 'a' }, { role: 'compute' })).toBe(false);
    expect(matchesNodeSelector({ role: 'compute' }, { role: 'storage' })).toBe(false);
  });
});

describe('toleratesTaint', () => {
  const taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' } as const;

  it('Equal (the default operator) compares key, value and effect', () => {
    expect(toleratesTaint({ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, taint)).toBe(true);
    expect(toleratesTaint({ key: 'dedicated', operator: 'Equal', value: 'cpu' }, taint)).toBe(false);
    expect(toleratesTaint({ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }, taint)).toBe(false);
  });

  it('Exists matches any value of the key', () => {
    expect(toleratesTaint({ key: 'dedicated', operator: 'Exists' }, taint)).toBe(true);
    expect(toleratesTaint({ key: 'other', operator: 'Exists' }, taint)).toBe(false);
  });

  it('an empty key with Exists matches every taint', () => {
    expect(toleratesTaint({ operator: 'Exists' }, taint)).toBe(true);
    expect(toleratesTaint({ operator: 'Exists', effect: 'NoExecute' }, taint)).toBe(false);
  });

  it('an empty effect matches every effect', () => {
    expect(toleratesTaint({ key: 'dedicated', operator: 'Exists' }, { ...taint, effect: 'NoExecute' })).toBe(
      true,
    );
  });

  it('a taint without value is matched by Equal with an empty value', () => {
    expect(toleratesTaint({ key: 'k', operator: 'Equal' }, { key: 'k', effect: 'NoSchedule' })).toBe(true);
  });
});

describe('toleratesTaints', () => {
  it('ignores PreferNoSchedule taints', () => {
    expect(toleratesTaints([], [{ key: 'soft', effect: 'PreferNoSchedule' }])).toBe(true);
  });

  it('requires every NoSchedule and NoExecute taint to be tolerated', () => {
    const taints = [
      { key: 'a', effect: 'NoSchedule' },
      { key: 'b', effect: 'NoExecute' },
    ];
    expect(toleratesTaints([{ key: 'a', operator: 'Exists' }], taints)).toBe(false);
    expect(
      toleratesTaints(
        [
          { key: 'a', operator: 'Exists' },
          { key: 'b', operator: 'Exists' },
        ],
        taints,
      ),
    ).toBe(true);
  });
});

describe('targetNodes', () => {
  const nodes = [
    node('worker-b', { labels: { role: 'compute' } }),
    node('worker-a', { labels: { role: 'compute' } }),
    node('storage-1', { labels: { role: 'storage' } }),
    node('worker-down', { labels: { role: 'compute' }, ready: false }),
    node('gpu-1', { labels: { role: 'compute' }, taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }] }),
    node('cordoned', {
      labels: { role: 'compute' },
      unschedulable: true,
      taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }],
    }),
  ];

  it('selects Ready matching nodes whose taints are tolerated, sorted by name', () => {
    expect(targetNodes({ nodeSelector: { role: 'compute' } }, nodes)).toEqual([
      'cordoned',
      'worker-a',
      'worker-b',
    ]);
  });

  it('adds tainted nodes once their taint is tolerated', () => {
    const spec = {
      nodeSelector: { role: 'compute' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }],
    };
    expect(targetNodes(spec, nodes)).toEqual(['cordoned', 'gpu-1', 'worker-a', 'worker-b']);
  });

  it('targets every Ready untainted node without a selector', () => {
    expect(targetNodes({}, nodes)).toEqual(['cordoned', 'storage-1', 'worker-a', 'worker-b']);
  });

  it('never targets a NotReady node, even with a toleration for everything', () => {
    expect(targetNodes({ tolerations: [{ operator: 'Exists' }] }, nodes)).not.toContain('worker-down');
  });
});
