import { describe, expect, it } from 'vitest';
import { placePod, type StoredNodeView } from './placement';

function node(
  name: string,
  opts: {
    labels?: Record<string, string>;
    ready?: boolean;
    unschedulable?: boolean;
    taints?: { key: string; effect: string }[];
  } = {},
): StoredNodeView {
  return {
    metadata: { name, labels: opts.labels ?? {} },
    spec: { taints: opts.taints ?? [], unschedulable: opts.unschedulable ?? false },
    status: { conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  };
}

describe('placePod', () => {
  it('picks a Ready, schedulable node matching the nodeSelector whose taints are tolerated', () => {
    const nodes = [
      node('a', { labels: { role: 'compute' }, ready: false }),
      node('b', { labels: { role: 'compute' }, unschedulable: true }),
      node('c', { labels: { role: 'compute' }, taints: [{ key: 'gpu', effect: 'NoSchedule' }] }),
      node('d', { labels: { role: 'web' } }),
      node('e', { labels: { role: 'compute' } }),
    ];
    expect(placePod({ nodeSelector: { role: 'compute' } }, nodes, 'uid-1')).toEqual({ node: 'e' });
    expect(
      placePod(
        { nodeSelector: { role: 'compute' }, tolerations: [{ key: 'gpu', operator: 'Exists' }] },
        [nodes[2] as StoredNodeView],
        'uid-1',
      ),
    ).toEqual({ node: 'c' });
  });

  it('gives the same node for the same key (a retried reconcile binds to the same node) and spreads keys', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4'].map((n) => node(n));
    const pick = (key: string) => placePod({}, nodes, key).node;
    expect(pick('uid-7')).toBe(pick('uid-7'));
    expect(placePod({}, [...nodes].reverse(), 'uid-7').node).toBe(pick('uid-7'));
    const used = new Set(Array.from({ length: 40 }, (_, i) => pick(`uid-${i}`)));
    expect(used.size).toBeGreaterThan(1);
  });

  it('says why no node fits, per reason', () => {
    const nodes = [
      node('a', { labels: { x: 'y' }, ready: false }),
      node('b'),
      node('c', { labels: { x: 'y' }, unschedulable: true }),
      node('d', { labels: { x: 'y' }, taints: [{ key: 'k', effect: 'NoExecute' }] }),
    ];
    expect(placePod({ nodeSelector: { x: 'y' } }, nodes, 'k')).toEqual({
      node: undefined,
      message:
        'no node to run on (nodeSelector x=y): of 4 nodes, 1 does not match the nodeSelector, 1 is not Ready, ' +
        '1 is cordoned, 1 has taints that are not tolerated',
    });
    expect(placePod({}, [], 'k')).toEqual({
      node: undefined,
      message: 'no node to run on: the cluster has no nodes',
    });
  });
});
