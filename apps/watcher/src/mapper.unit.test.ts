import { formatKey } from '@reaper-flow/queue';
import { describe, expect, it } from 'vitest';
import { type MapperCaches, mapChange, nodeChanged, type WatchedChange } from './mapper';
import { projectNode } from './projection';

const meta = (name: string, extra: Record<string, unknown> = {}, namespace = 'ns') => ({
  name,
  namespace,
  uid: `uid-${name}`,
  resourceVersion: '1',
  ...extra,
});

const owner = (kind: string, name: string, controller = true) => ({
  apiVersion: kind === 'ReaperPod' || kind === 'ReaperDaemonJob' ? 'reaper.io/v1alpha1' : 'v1',
  kind,
  name,
  uid: `uid-${name}`,
  controller,
});

const rpod = (name: string, spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'reaper.io/v1alpha1',
  kind: 'ReaperPod',
  metadata: meta(name, extra),
  spec: { command: ['true'], ...spec },
});
const overlay = (name: string, namespace = 'ns') => ({
  kind: 'ReaperOverlay',
  metadata: meta(name, {}, namespace),
});
const djob = (name: string, after?: string[], namespace = 'ns') => ({
  kind: 'ReaperDaemonJob',
  metadata: meta(name, {}, namespace),
  spec: { command: ['true'], ...(after ? { after } : {}) },
});
const node = (name: string, ready: 'True' | 'False', heartbeat: string, rv = '1') =>
  projectNode({
    metadata: { name, uid: `uid-${name}`, resourceVersion: rv, managedFields: [{}] },
    spec: {},
    status: {
      conditions: [{ type: 'Ready', status: ready, lastHeartbeatTime: heartbeat, lastTransitionTime: 't0' }],
      nodeInfo: { bootID: 'boot-1', kernelVersion: '6.1' },
    },
  });

const noCaches: MapperCaches = {
  reaperPods: [],
  reaperOverlays: [],
  reaperDaemonJobs: [],
  hasReaperPod: () => false,
};
/** Caches holding these ReaperPods (of namespace `ns`). */
const holding = (...names: string[]): MapperCaches => ({
  ...noCaches,
  reaperPods: names.map((n) => rpod(n)),
  hasReaperPod: (namespace, name) => namespace === 'ns' && names.includes(name),
});

const keysOf = (change: WatchedChange, caches: MapperCaches = noCaches) =>
  mapChange(change, caches).keys.map(formatKey);

describe('mapChange', () => {
  it('a ReaperPod change enqueues the ReaperPod and its owning ReaperDaemonJob', () => {
    const pod = rpod('p', {}, { ownerReferences: [owner('ReaperDaemonJob', 'job')] });
    expect(keysOf({ kind: 'ReaperPod', type: 'MODIFIED', object: pod })).toEqual([
      'ReaperPod/ns/p',
      'ReaperDaemonJob/ns/job',
    ]);
  });

  it('an owner that is not a ReaperDaemonJob is not enqueued', () => {
    const pod = rpod('p', {}, { ownerReferences: [owner('ReplicaSet', 'rs')] });
    expect(keysOf({ kind: 'ReaperPod', type: 'ADDED', object: pod })).toEqual(['ReaperPod/ns/p']);
  });

  it('a deleted ReaperPod with an overlay on a node requests a reset of that node and enqueues the overlay', () => {
    const pod = rpod(
      'p',
      { overlayName: 'ovl', nodeName: 'node-1' },
      { ownerReferences: [owner('ReaperDaemonJob', 'job')] },
    );
    const mapping = mapChange({ kind: 'ReaperPod', type: 'DELETED', object: pod }, noCaches);
    expect(mapping.keys.map(formatKey)).toEqual(['ReaperDaemonJob/ns/job', 'ReaperOverlay/ns/ovl']);
    // Itself not: the world no longer holds it, so its reconcile would read nothing and return.
    expect(mapping.skipped.map((s) => [formatKey(s.key), s.reason])).toEqual([['ReaperPod/ns/p', 'deleted']]);
    expect(mapping.overlayResets).toEqual([
      { namespace: 'ns', overlay: 'ovl', request: { node: 'node-1', requestId: 'uid-p', cause: 'deleted' } },
    ]);
  });

  it('the node of a reset request comes from status.nodeName first', () => {
    const pod = {
      ...rpod('p', { overlayName: 'ovl', nodeName: 'spec-node' }),
      status: { nodeName: 'status-node' },
    };
    const mapping = mapChange({ kind: 'ReaperPod', type: 'DELETED', object: pod }, noCaches);
    expect(mapping.overlayResets.map((r) => r.request.node)).toEqual(['status-node']);
  });

  it('a deleted ReaperPod that never reached a node requests no reset', () => {
    const pod = rpod('p', { overlayName: 'ovl' });
    const mapping = mapChange({ kind: 'ReaperPod', type: 'DELETED', object: pod }, noCaches);
    expect(mapping.overlayResets).toEqual([]);
    // The overlay still hears of it: a reset waiting for this workload may now proceed.
    expect(mapping.keys.map(formatKey)).toEqual(['ReaperOverlay/ns/ovl']);
  });

  it('a DaemonJob ReaperPod change wakes the node-run of its run on its node', () => {
    const pod = rpod(
      'job-n1',
      { nodeName: 'n1' },
      { ownerReferences: [owner('ReaperDaemonJob', 'job')], annotations: { 'reaper.io/run-id': 'r1' } },
    );
    const mapping = mapChange({ kind: 'ReaperPod', type: 'MODIFIED', object: pod }, noCaches);
    expect(mapping.wakes).toEqual([{ namespace: 'ns', job: 'job', runId: 'r1', node: 'n1' }]);
  });

  it('a ReaperPod of no DaemonJob wakes nothing', () => {
    const mapping = mapChange(
      { kind: 'ReaperPod', type: 'MODIFIED', object: rpod('p', { nodeName: 'n1' }) },
      noCaches,
    );
    expect(mapping.wakes).toEqual([]);
  });

  it('a modified ReaperPod with an overlay requests no reset', () => {
    const pod = rpod('p', { overlayName: 'ovl', nodeName: 'node-1' });
    expect(mapChange({ kind: 'ReaperPod', type: 'MODIFIED', object: pod }, noCaches).overlayResets).toEqual(
      [],
    );
  });

  it('a Pod change enqueues its owning ReaperPod, from the old state too', () => {
    const pod = { kind: 'Pod', metadata: meta('p', { ownerReferences: [owner('ReaperPod', 'rp')] }) };
    const orphan = { kind: 'Pod', metadata: meta('p') };
    const caches = holding('rp');
    expect(keysOf({ kind: 'Pod', type: 'DELETED', object: pod }, caches)).toEqual(['ReaperPod/ns/rp']);
    expect(keysOf({ kind: 'Pod', type: 'MODIFIED', object: orphan, oldObject: pod }, caches)).toEqual([
      'ReaperPod/ns/rp',
    ]);
    expect(keysOf({ kind: 'Pod', type: 'ADDED', object: orphan }, caches)).toEqual([]);
  });

  const backingPod = (status: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({
    kind: 'Pod',
    metadata: meta('rp', { ownerReferences: [owner('ReaperPod', 'rp')], ...metadata }),
    spec: { nodeName: 'n1' },
    status,
  });
  const running = backingPod({
    phase: 'Running',
    startTime: 't1',
    containerStatuses: [{ name: 'main', state: { running: { startedAt: 't1' } } }],
  });
  const skips = (change: WatchedChange, caches: MapperCaches) =>
    mapChange(change, caches).skipped.map((s) => [formatKey(s.key), s.reason]);

  it('a Pod change to nothing the ReaperPod reconcile reads asks for no reconcile of it', () => {
    const ready = {
      ...running,
      metadata: { ...running.metadata, resourceVersion: '2' },
      status: { ...running.status, podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    const change: WatchedChange = { kind: 'Pod', type: 'MODIFIED', object: ready, oldObject: running };
    expect(keysOf(change, holding('rp'))).toEqual([]);
    expect(skips(change, holding('rp'))).toEqual([['ReaperPod/ns/rp', 'pod-unchanged']]);
    // Its phase moving on is news.
    const done = backingPod({ ...running.status, phase: 'Succeeded' });
    expect(
      keysOf({ kind: 'Pod', type: 'MODIFIED', object: done, oldObject: running }, holding('rp')),
    ).toEqual(['ReaperPod/ns/rp']);
  });

  it('the ADDED of a Pod as its create left it is the echo of our create; one seen already running is news', () => {
    const created = backingPod({ phase: 'Pending' });
    expect(keysOf({ kind: 'Pod', type: 'ADDED', object: created }, holding('rp'))).toEqual([]);
    expect(skips({ kind: 'Pod', type: 'ADDED', object: created }, holding('rp'))).toEqual([
      ['ReaperPod/ns/rp', 'pod-as-created'],
    ]);
    expect(keysOf({ kind: 'Pod', type: 'ADDED', object: running }, holding('rp'))).toEqual([
      'ReaperPod/ns/rp',
    ]);
  });

  it('a Pod change whose ReaperPod the cache does not hold asks only if the world still holds it', () => {
    const gone = backingPod({ phase: 'Succeeded' }, { deletionTimestamp: 't2' });
    const mapping = mapChange({ kind: 'Pod', type: 'DELETED', object: gone }, noCaches);
    expect(mapping.keys).toEqual([]);
    expect(mapping.keysIfInWorld.map(formatKey)).toEqual(['ReaperPod/ns/rp']);
    // A ReaperPod of that name in the cache (whatever its uid) is asked for at once.
    expect(keysOf({ kind: 'Pod', type: 'DELETED', object: gone }, holding('rp'))).toEqual([
      'ReaperPod/ns/rp',
    ]);
  });

  it('a Pod using an overlay tells the overlay when it finishes or is deleted, not while it runs', () => {
    const pod = (phase: string) => ({
      kind: 'Pod',
      metadata: meta('p', {
        ownerReferences: [owner('ReaperPod', 'p')],
        annotations: { 'reaper.runtime/overlay-name': 'ovl' },
      }),
      spec: { nodeName: 'n1' },
      status: { phase },
    });
    const both = ['ReaperPod/ns/p', 'ReaperOverlay/ns/ovl'];
    const caches = holding('p');
    expect(
      keysOf({ kind: 'Pod', type: 'MODIFIED', object: pod('Running'), oldObject: pod('Pending') }, caches),
    ).toEqual(['ReaperPod/ns/p']);
    expect(
      keysOf({ kind: 'Pod', type: 'MODIFIED', object: pod('Succeeded'), oldObject: pod('Running') }, caches),
    ).toEqual(both);
    // Still Failed: nothing the ReaperPod reads changed, and the Pod had left its node already.
    expect(
      keysOf({ kind: 'Pod', type: 'MODIFIED', object: pod('Failed'), oldObject: pod('Failed') }, caches),
    ).toEqual([]);
    expect(keysOf({ kind: 'Pod', type: 'DELETED', object: pod('Running') }, caches)).toEqual(both);
  });

  it('a ReaperOverlay change enqueues the overlay and the ReaperPods of its namespace that use it', () => {
    const caches: MapperCaches = {
      ...noCaches,
      reaperPods: [
        rpod('uses', { overlayName: 'ovl' }),
        rpod('other-overlay', { overlayName: 'x' }),
        rpod('no-overlay'),
        { ...rpod('other-ns', { overlayName: 'ovl' }), metadata: meta('other-ns', {}, 'elsewhere') },
      ],
    };
    expect(keysOf({ kind: 'ReaperOverlay', type: 'MODIFIED', object: overlay('ovl') }, caches)).toEqual([
      'ReaperOverlay/ns/ovl',
      'ReaperPod/ns/uses',
    ]);
  });

  it('a ReaperDaemonJob change enqueues the job and the jobs of its namespace that come after it', () => {
    const caches: MapperCaches = {
      ...noCaches,
      reaperDaemonJobs: [
        djob('first'),
        djob('second', ['first']),
        djob('third', ['second']),
        djob('x', ['first'], 'other'),
      ],
    };
    expect(keysOf({ kind: 'ReaperDaemonJob', type: 'MODIFIED', object: djob('first') }, caches)).toEqual([
      'ReaperDaemonJob/ns/first',
      'ReaperDaemonJob/ns/second',
    ]);
  });

  it('a Node change enqueues every ReaperDaemonJob and ReaperOverlay of every namespace', () => {
    const caches: MapperCaches = {
      ...holding('p'),
      reaperDaemonJobs: [djob('a'), djob('b', [], 'other')],
      reaperOverlays: [overlay('o'), overlay('o', 'other')],
    };
    const ready = node('node-1', 'True', 'h1');
    expect(keysOf({ kind: 'Node', type: 'ADDED', object: ready }, caches)).toEqual([
      'ReaperDaemonJob/ns/a',
      'ReaperDaemonJob/other/b',
      'ReaperOverlay/ns/o',
      'ReaperOverlay/other/o',
    ]);
    const notReady = node('node-1', 'False', 'h2', '2');
    expect(
      keysOf({ kind: 'Node', type: 'MODIFIED', object: notReady, oldObject: ready }, caches),
    ).toHaveLength(4);
    expect(keysOf({ kind: 'Node', type: 'DELETED', object: ready }, caches)).toHaveLength(4);
  });

  it('a Node heartbeat that changes nothing but resourceVersion enqueues nothing', () => {
    const caches: MapperCaches = { ...noCaches, reaperDaemonJobs: [djob('a')] };
    const before = node('node-1', 'True', 'h1', '1');
    const after = node('node-1', 'True', 'h2', '2');
    expect(keysOf({ kind: 'Node', type: 'MODIFIED', object: after, oldObject: before }, caches)).toEqual([]);
  });

  it('a status-only change of a ReaperPod does not reconcile it or its DaemonJob again, but still wakes', () => {
    const base = rpod(
      'job-n1',
      { nodeName: 'n1', overlayName: 'ovl' },
      { ownerReferences: [owner('ReaperDaemonJob', 'job')], annotations: { 'reaper.io/run-id': 'r1' } },
    );
    const before = { ...base, status: { phase: 'Running' } };
    const after = {
      ...base,
      metadata: { ...base.metadata, resourceVersion: '2' },
      status: { phase: 'Succeeded' },
    };
    const mapping = mapChange(
      { kind: 'ReaperPod', type: 'MODIFIED', object: after, oldObject: before },
      noCaches,
    );
    expect(mapping.keys.map(formatKey)).toEqual(['ReaperOverlay/ns/ovl']);
    expect(mapping.wakes).toEqual([{ namespace: 'ns', job: 'job', runId: 'r1', node: 'n1' }]);
    // A metadata change (here a label) is not status-only.
    const relabelled = { ...after, metadata: { ...after.metadata, labels: { x: 'y' } } };
    expect(
      mapChange(
        { kind: 'ReaperPod', type: 'MODIFIED', object: relabelled, oldObject: before },
        noCaches,
      ).keys.map(formatKey),
    ).toEqual(['ReaperPod/ns/job-n1', 'ReaperDaemonJob/ns/job', 'ReaperOverlay/ns/ovl']);
  });

  it('a status-only change of a DaemonJob reconciles its dependents only', () => {
    const caches: MapperCaches = { ...noCaches, reaperDaemonJobs: [djob('a'), djob('b', ['a'])] };
    const before = { ...djob('a'), status: { phase: 'Running' } };
    const after = {
      ...djob('a'),
      metadata: { ...djob('a').metadata, resourceVersion: '2' },
      status: { phase: 'Completed' },
    };
    expect(
      keysOf({ kind: 'ReaperDaemonJob', type: 'MODIFIED', object: after, oldObject: before }, caches),
    ).toEqual(['ReaperDaemonJob/ns/b']);
  });

  it('only a Node change that can move targets bumps the Node revision', () => {
    const before = node('node-1', 'True', 'h1', '1');
    expect(
      nodeChanged({
        kind: 'Node',
        type: 'MODIFIED',
        object: node('node-1', 'True', 'h2', '2'),
        oldObject: before,
      }),
    ).toBe(false);
    expect(
      nodeChanged({
        kind: 'Node',
        type: 'MODIFIED',
        object: node('node-1', 'False', 'h2', '2'),
        oldObject: before,
      }),
    ).toBe(true);
    expect(nodeChanged({ kind: 'Node', type: 'ADDED', object: before })).toBe(true);
    expect(nodeChanged({ kind: 'Node', type: 'SYNC', object: before })).toBe(false);
    expect(nodeChanged({ kind: 'ReaperPod', type: 'ADDED', object: rpod('p') })).toBe(false);
  });

  it('a SYNC enqueues the object itself only', () => {
    const caches: MapperCaches = {
      ...noCaches,
      reaperPods: [rpod('uses', { overlayName: 'ovl' })],
      reaperDaemonJobs: [djob('a')],
    };
    const pod = rpod('p', {}, { ownerReferences: [owner('ReaperDaemonJob', 'job')] });
    expect(keysOf({ kind: 'ReaperPod', type: 'SYNC', object: pod }, caches)).toEqual(['ReaperPod/ns/p']);
    expect(keysOf({ kind: 'ReaperOverlay', type: 'SYNC', object: overlay('ovl') }, caches)).toEqual([
      'ReaperOverlay/ns/ovl',
    ]);
    expect(keysOf({ kind: 'Node', type: 'SYNC', object: node('n', 'True', 'h') }, caches)).toEqual([]);
  });

  it('an object without a name maps to nothing', () => {
    expect(keysOf({ kind: 'ReaperPod', type: 'ADDED', object: { metadata: {} } })).toEqual([]);
  });
});
