import { describe, expect, it } from 'vitest';
import type { ObservedPod } from '../k8s-types';
import { reaperPodStatusFromPod } from './pod-status';

const meta = { name: 'hello-world', namespace: 'demo' };
const spec = { nodeName: 'worker-1' };

describe('reaperPodStatusFromPod', () => {
  it('reports a Pod that is not scheduled yet as Pending with no node', () => {
    expect(reaperPodStatusFromPod({ metadata: meta, status: { phase: 'Pending' } })).toStrictEqual({
      phase: 'Pending',
      podName: 'hello-world',
    });
  });

  it('explains a Pending Pod with the waiting reason of its container', () => {
    const pod: ObservedPod = {
      metadata: meta,
      spec,
      status: {
        phase: 'Pending',
        containerStatuses: [{ name: 'main', state: { waiting: { reason: 'ContainerCreating' } } }],
      },
    };
    expect(reaperPodStatusFromPod(pod, { observedGeneration: 1 })).toStrictEqual({
      phase: 'Pending',
      podName: 'hello-world',
      nodeName: 'worker-1',
      message: 'ContainerCreating',
      observedGeneration: 1,
    });
  });

  it('mirrors a Running Pod with its start time', () => {
    const pod: ObservedPod = {
      metadata: meta,
      spec,
      status: {
        phase: 'Running',
        startTime: '2024-05-01T10:00:00Z',
        containerStatuses: [{ name: 'main', state: { running: { startedAt: '2024-05-01T10:00:01Z' } } }],
      },
    };
    expect(reaperPodStatusFromPod(pod)).toStrictEqual({
      phase: 'Running',
      podName: 'hello-world',
      nodeName: 'worker-1',
      startTime: '2024-05-01T10:00:00Z',
    });
  });

  it('takes exit code, completion time and reason of a Succeeded Pod from its terminated container', () => {
    const pod: ObservedPod = {
      metadata: meta,
      spec,
      status: {
        phase: 'Succeeded',
        startTime: '2024-05-01T10:00:00Z',
        containerStatuses: [
          {
            name: 'main',
            state: { terminated: { exitCode: 0, reason: 'Completed', finishedAt: '2024-05-01T10:00:05Z' } },
          },
        ],
      },
    };
    expect(reaperPodStatusFromPod(pod, { observedGeneration: 3 })).toStrictEqual({
      phase: 'Succeeded',
      podName: 'hello-world',
      nodeName: 'worker-1',
      exitCode: 0,
      startTime: '2024-05-01T10:00:00Z',
      completionTime: '2024-05-01T10:00:05Z',
      message: 'Completed',
      observedGeneration: 3,
    });
  });

  it('reports a non-zero exit as Failed with the terminated reason and message', () => {
    const pod: ObservedPod = {
      metadata: meta,
      spec,
      status: {
        phase: 'Failed',
        containerStatuses: [
          { name: 'main', state: { terminated: { exitCode: 2, reason: 'Error', message: 'no such file' } } },
        ],
      },
    };
    expect(reaperPodStatusFromPod(pod)).toStrictEqual({
      phase: 'Failed',
      podName: 'hello-world',
      nodeName: 'worker-1',
      exitCode: 2,
      message: 'Error: no such file',
    });
  });

  it('prefers the Pod status message, such as an eviction', () => {
    const pod: ObservedPod = {
      metadata: meta,
      spec,
      status: {
        phase: 'Failed',
        reason: 'Evicted',
        message: 'The node was low on resource: memory.',
        containerStatuses: [{ name: 'main', state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }],
      },
    };
    expect(reaperPodStatusFromPod(pod)).toMatchObject({
      phase: 'Failed',
      exitCode: 137,
      message: 'The node was low on resource: memory.',
    });
  });

  it('reports Unknown as Pending and says why', () => {
    const status = reaperPodStatusFromPod({ metadata: meta, spec, status: { phase: 'Unknown' } });
    expect(status).toStrictEqual({
      phase: 'Pending',
      podName: 'hello-world',
      nodeName: 'worker-1',
      message: 'backing Pod phase is Unknown: its node may be unreachable',
    });
  });

  it('reports a Pod without status as Pending', () => {
    expect(reaperPodStatusFromPod({ metadata: meta })).toStrictEqual({
      phase: 'Pending',
      podName: 'hello-world',
    });
  });

  it('renders Date timestamps from the typed client as RFC 3339 with second precision', () => {
    const pod: ObservedPod = {
      metadata: meta,
      spec,
      status: {
        phase: 'Succeeded',
        startTime: new Date('2024-05-01T10:00:00Z'),
        containerStatuses: [
          {
            name: 'main',
            state: { terminated: { exitCode: 0, finishedAt: new Date('2024-05-01T10:00:05Z') } },
          },
        ],
      },
    };
    expect(reaperPodStatusFromPod(pod)).toMatchObject({
      startTime: '2024-05-01T10:00:00Z',
      completionTime: '2024-05-01T10:00:05Z',
    });
  });

  it('reads the main container even when another container status comes first', () => {
    const pod: ObservedPod = {
      metadata: meta,
      status: {
        phase: 'Failed',
        containerStatuses: [
          { name: 'sidecar', state: { terminated: { exitCode: 0 } } },
          { name: 'main', state: { terminated: { exitCode: 1 } } },
        ],
      },
    };
    expect(reaperPodStatusFromPod(pod).exitCode).toBe(1);
  });
});
