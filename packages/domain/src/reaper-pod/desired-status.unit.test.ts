import { describe, expect, it } from 'vitest';
import type { ObservedPod } from '../k8s-types';
import type { ReaperPod } from '../schemas/reaper-pod';
import { statusPatch } from '../status/status-values';
import { blockedStatus, lostPodStatus, mirroredStatus, waitingForScheduler } from './desired-status';
import { overlayGate } from './overlay-gate';

const NOW = '2026-03-01T10:00:00Z';
const LATER = '2026-03-01T11:00:00Z';

function rpod(status?: ReaperPod['status'], overlayName?: string): ReaperPod {
  return {
    apiVersion: 'reaper.io/v1alpha1',
    kind: 'ReaperPod',
    metadata: { name: 'job', namespace: 'ns', uid: 'rp-uid', generation: 3 },
    spec: { command: ['/bin/true'], ...(overlayName ? { overlayName } : {}) },
    ...(status ? { status } : {}),
  };
}

const failedPod: ObservedPod = {
  metadata: { name: 'job', namespace: 'ns' },
  spec: { nodeName: 'node-1' },
  status: {
    phase: 'Failed',
    startTime: '2026-03-01T09:00:00Z',
    containerStatuses: [
      {
        name: 'main',
        state: { terminated: { exitCode: 3, reason: 'Error', finishedAt: '2026-03-01T09:01:00Z' } },
      },
    ],
  },
};

const readyOverlay = {
  apiVersion: 'reaper.io/v1alpha1',
  kind: 'ReaperOverlay',
  metadata: { name: 'slurm', namespace: 'ns', uid: 'o' },
  spec: {},
  status: { phase: 'Ready' },
};

const types = (s: { conditions: readonly { type: string; status: string; reason: string }[] }) =>
  Object.fromEntries(s.conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));

describe('mirroredStatus', () => {
  it('mirrors phase, node, exit code and times from the Pod, with conditions and observedGeneration', () => {
    const s = mirroredStatus(rpod(), failedPod, undefined, NOW);
    expect(s).toMatchObject({
      phase: 'Failed',
      podName: 'job',
      nodeName: 'node-1',
      exitCode: 3,
      startTime: '2026-03-01T09:00:00Z',
      completionTime: '2026-03-01T09:01:00Z',
      message: 'Error',
      observedGeneration: 3,
    });
    expect(types(s)).toEqual({
      PodScheduled: 'True/Scheduled',
      PodCreated: 'True/PodCreated',
      Completed: 'True/Failed',
    });
  });

  it('reports OverlayReady only when an overlay is named', () => {
    const s = mirroredStatus(rpod(undefined, 'slurm'), failedPod, overlayGate('slurm', readyOverlay), NOW);
    expect(types(s).OverlayReady).toBe('True/OverlayReady');
  });

  it('a second reconcile on the written status produces nothing to write', () => {
    const first = mirroredStatus(rpod(), failedPod, undefined, NOW);
    const written = rpod(first as unknown as ReaperPod['status']);
    expect(statusPatch(first, mirroredStatus(written, failedPod, undefined, LATER))).toBeUndefined();
  });
});

describe('blockedStatus', () => {
  it('is Pending with the blocker as message, and removes anything mirrored before', () => {
    const gate = overlayGate('slurm', undefined);
    const s = blockedStatus(
      rpod(undefined, 'slurm'),
      { reason: 'WaitingForOverlay', message: gate.message },
      gate,
      NOW,
    );
    expect(s).toMatchObject({
      phase: 'Pending',
      message: 'waiting for ReaperOverlay "slurm": not found',
      podName: undefined,
      exitCode: undefined,
    });
    expect('exitCode' in s).toBe(true);
    expect(types(s)).toEqual({
      OverlayReady: 'False/OverlayNotFound',
      PodCreated: 'False/WaitingForOverlay',
      Completed: 'False/Pending',
    });
  });
});

describe('lostPodStatus', () => {
  it('fails a ReaperPod whose Pod vanished before completing, keeping what was mirrored', () => {
    const s = lostPodStatus(
      rpod({ phase: 'Running', podName: 'job', nodeName: 'node-2', startTime: '2026-03-01T09:00:00Z' }),
      'job',
      undefined,
      NOW,
    );
    expect(s).toMatchObject({
      phase: 'Failed',
      nodeName: 'node-2',
      startTime: '2026-03-01T09:00:00Z',
      completionTime: NOW,
      message: 'backing Pod job was deleted before it completed',
    });
    expect(types(s).Completed).toBe('True/PodLost');
  });
});

describe('waitingForScheduler', () => {
  it("says the kube-scheduler's reason from the Pod's PodScheduled condition", () => {
    const message = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.";
    const pod: ObservedPod = {
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
      },
    };
    expect(waitingForScheduler(pod)).toEqual({
      reason: 'Unschedulable',
      message: `not scheduled: ${message}`,
    });
    const s = mirroredStatus(rpod(), pod, undefined, NOW, waitingForScheduler(pod));
    expect(s.message).toBe(`not scheduled: ${message}`);
    expect(types(s).PodScheduled).toBe('False/Unschedulable');
  });

  it('waits for the kube-scheduler while the Pod has no PodScheduled condition', () => {
    expect(waitingForScheduler({ status: { phase: 'Pending' } })).toEqual({
      reason: 'WaitingForScheduler',
      message: 'waiting for the kube-scheduler to bind the Pod to a node',
    });
  });
});
