import { describe, expect, it } from 'vitest';
import { busyNodes, type StoredPodView, type StoredReaperPodView } from './busy-nodes';

const rpod = (name: string, overlayName: string | undefined, status: StoredReaperPodView['status']) => ({
  metadata: { name },
  spec: { overlayName },
  status,
});
const pod = (name: string, overlay: string, nodeName: string | undefined, phase: string): StoredPodView => ({
  metadata: { name, annotations: { 'reaper.runtime/overlay-name': overlay } },
  spec: { nodeName },
  status: { phase },
});

describe('busyNodes', () => {
  it('counts ReaperPods of this overlay that are Running, or Pending with a Pod, on a node', () => {
    const busy = busyNodes(
      'slurm',
      [
        rpod('running', 'slurm', { phase: 'Running', nodeName: 'node-1', podName: 'running' }),
        rpod('starting', 'slurm', { phase: 'Pending', nodeName: 'node-2', podName: 'starting' }),
        rpod('gated', 'slurm', { phase: 'Pending' }),
        rpod('done', 'slurm', { phase: 'Failed', nodeName: 'node-3', podName: 'done' }),
        rpod('other-overlay', 'other', { phase: 'Running', nodeName: 'node-3', podName: 'x' }),
      ],
      [],
    );
    expect(Object.fromEntries(busy)).toEqual({ 'node-1': ['running'], 'node-2': ['starting'] });
  });

  it('also counts bound, unfinished Pods carrying the overlay annotation (status may lag the Pod)', () => {
    const busy = busyNodes(
      'slurm',
      [rpod('a', 'slurm', { phase: 'Running', nodeName: 'node-1', podName: 'a' })],
      [
        pod('a', 'slurm', 'node-1', 'Running'),
        pod('b', 'slurm', 'node-1', 'Pending'),
        pod('c', 'slurm', undefined, 'Pending'),
        pod('d', 'slurm', 'node-2', 'Succeeded'),
        pod('e', 'other', 'node-2', 'Running'),
      ],
    );
    expect(Object.fromEntries(busy)).toEqual({ 'node-1': ['a', 'b'] });
  });
});
