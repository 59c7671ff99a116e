import { describe, expect, it } from 'vitest';
import { projectNode, toWorldObject, type WatchedObject, withoutManagedFields } from './projection';

describe('stored objects', () => {
  it('drops managedFields and keeps the rest, without touching the original', () => {
    const original = {
      metadata: { name: 'p', namespace: 'ns', managedFields: [{ manager: 'kubectl' }] },
      spec: { command: ['true'] },
    };
    const stored = withoutManagedFields(original);
    expect(stored).toEqual({ metadata: { name: 'p', namespace: 'ns' }, spec: { command: ['true'] } });
    expect(original.metadata.managedFields).toHaveLength(1);
  });

  it('projects a Node to what scheduling needs', () => {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'node-1',
        uid: 'u1',
        resourceVersion: '42',
        creationTimestamp: '2024-01-01T00:00:00Z',
        labels: { role: 'compute' },
        annotations: { big: 'x' },
        managedFields: [{}],
      },
      spec: { taints: [{ key: 'k', effect: 'NoSchedule' }], unschedulable: true, podCIDR: '10.0.0.0/24' },
      status: {
        conditions: [
          { type: 'MemoryPressure', status: 'False' },
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            lastHeartbeatTime: 'hb',
            lastTransitionTime: 't0',
          },
        ],
        nodeInfo: { bootID: 'boot-1', kernelVersion: '6.1' },
        images: [{ names: ['a'] }],
      },
    };
    expect(projectNode(node)).toEqual({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'node-1',
        uid: 'u1',
        labels: { role: 'compute' },
        resourceVersion: '42',
        creationTimestamp: '2024-01-01T00:00:00Z',
      },
      spec: { taints: [{ key: 'k', effect: 'NoSchedule' }], unschedulable: true },
      status: {
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastTransitionTime: 't0' }],
        nodeInfo: { bootID: 'boot-1' },
      },
    });
  });

  it('stores Nodes projected and other kinds without managedFields', () => {
    const obj = {
      metadata: { name: 'x', managedFields: [] },
      status: { images: [] },
    } as unknown as WatchedObject;
    expect(toWorldObject('Node', obj)).toMatchObject({
      metadata: { name: 'x' },
      status: { conditions: [] },
    });
    expect(toWorldObject('ReaperPod', obj)).toEqual({ metadata: { name: 'x' }, status: { images: [] } });
  });
});
