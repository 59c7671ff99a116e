import { describe, expect, it } from 'vitest';
import type { ObservedPod } from '../k8s-types';
import type { ReaperPod } from '../schemas/reaper-pod';
import { mirroredStatus, waitingForScheduler } from './desired-status';
import { isAsCreated, podFacts, samePodFacts } from './pod-facts';

const NOW = '2026-03-01T10:00:00Z';

const rpod: ReaperPod = {
  apiVersion: 'reaper.io/v1alpha1',
  kind: 'ReaperPod',
  metadata: { name: 'job-n1', namespace: 'ns', uid: 'rp-uid', generation: 1 },
  spec: { command: ['/bin/true'] },
};

const owner = { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperPod', name: 'job-n1', uid: 'rp-uid' };

/** A Pod as the API server returns it right after our create (pinned to its node). */
const created: ObservedPod = {
  metadata: {
    name: 'job-n1',
    namespace: 'ns',
    uid: 'pod-uid',
    resourceVersion: '10',
    labels: { 'app.kubernetes.io/managed-by': 'reaper-flow' },
    ownerReferences: [owner],
  },
  spec: { nodeName: 'n1' },
  status: { phase: 'Pending' },
};

const running: ObservedPod = {
  ...created,
  metadata: { ...created.metadata, resourceVersion: '11' },
  status: {
    phase: 'Running',
    startTime: '2026-03-01T09:00:00Z',
    conditions: [{ type: 'PodScheduled', status: 'True' }],
    containerStatuses: [{ name: 'main', state: { running: { startedAt: '2026-03-01T09:00:01Z' } } }],
  },
};

const variant = (pod: ObservedPod, patch: { metadata?: object; spec?: object; status?: object }) =>
  ({
    metadata: { ...pod.metadata, ...patch.metadata },
    spec: { ...pod.spec, ...patch.spec },
    status: { ...pod.status, ...patch.status },
  }) as ObservedPod;

/** What a ReaperPod reconcile derives from a Pod: the mirrored status, both ways it is called. */
const derived = (pod: ObservedPod) => [
  mirroredStatus(rpod, pod, undefined, NOW),
  mirroredStatus(rpod, pod, undefined, NOW, waitingForScheduler(pod)),
];

describe('podFacts', () => {
  it('a change to what no ReaperPod reconcile reads leaves the facts, and the mirrored status, as they were', () => {
    const noise = [
      variant(running, {
        metadata: { resourceVersion: '99', labels: { extra: 'x' }, annotations: { a: 'b' } },
      }),
      variant(running, {
        status: {
          podIP: '10.0.0.7',
          qosClass: 'BestEffort',
          conditions: [
            { type: 'PodScheduled', status: 'True' },
            { type: 'Ready', status: 'True' },
            { type: 'ContainersReady', status: 'True' },
          ],
        },
      }),
      variant(running, {
        status: {
          containerStatuses: [
            {
              name: 'main',
              ready: true,
              restartCount: 0,
              state: { running: { startedAt: '2026-03-01T09:00:01Z' } },
            },
          ],
        },
      }),
      variant(running, { spec: { containers: [{ name: 'main', image: 'other' }] } }),
    ];
    for (const pod of noise) {
      expect(samePodFacts(podFacts(pod), podFacts(running))).toBe(true);
      expect(derived(pod)).toEqual(derived(running));
    }
  });

  it('a change to anything the reconcile reads changes the facts', () => {
    const changed = [
      variant(running, { metadata: { name: 'other' } }),
      variant(running, { metadata: { uid: 'other-uid' } }),
      variant(running, { metadata: { ownerReferences: [{ ...owner, uid: 'older-rp' }] } }),
      variant(running, { metadata: { deletionTimestamp: NOW } }),
      variant(running, { spec: { nodeName: 'n2' } }),
      variant(running, { status: { phase: 'Succeeded' } }),
      variant(running, { status: { message: 'evicted' } }),
      variant(running, { status: { startTime: '2026-03-01T09:30:00Z' } }),
      variant(running, {
        status: { conditions: [{ type: 'PodScheduled', status: 'False', message: '0/3 nodes' }] },
      }),
      variant(running, {
        status: {
          containerStatuses: [
            {
              name: 'main',
              state: { terminated: { exitCode: 0, reason: 'Completed', finishedAt: '2026-03-01T09:01:00Z' } },
            },
          ],
        },
      }),
    ];
    for (const pod of changed) expect(samePodFacts(podFacts(pod), podFacts(running))).toBe(false);
  });
});

describe('isAsCreated', () => {
  it('holds for the Pod as the create returned it, pinned or waiting for the kube-scheduler', () => {
    expect(isAsCreated(podFacts(created))).toBe(true);
    expect(isAsCreated(podFacts(variant(created, { spec: { nodeName: undefined } })))).toBe(true);
    expect(isAsCreated(podFacts({ ...created, status: {} }))).toBe(true);
  });

  it('does not hold once a kubelet, the kube-scheduler or a deletion has touched the Pod', () => {
    const touched = [
      running,
      variant(created, { status: { conditions: [{ type: 'PodScheduled', status: 'False', message: 'x' }] } }),
      variant(created, {
        status: {
          containerStatuses: [{ name: 'main', state: { waiting: { reason: 'ContainerCreating' } } }],
        },
      }),
      variant(created, { status: { message: 'node lost' } }),
      variant(created, { status: { phase: 'Failed' } }),
      variant(created, { metadata: { deletionTimestamp: NOW } }),
    ];
    for (const pod of touched) expect(isAsCreated(podFacts(pod))).toBe(false);
  });
});
