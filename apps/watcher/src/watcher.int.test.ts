import { Resources } from '@reaper-flow/k8s';
import { addNode, removeNode } from '@reaper-flow/local-cluster';
import { uniqueNodeName, useTestNamespace, waitFor } from '@reaper-flow/test';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, objects, watcherHarness } from './watcher.test-support';

// The watcher against the real API server and Redis: world entries, event log, reconcile jobs.

interface Created {
  readonly metadata: { name: string; uid: string; resourceVersion: string };
}

describe('watcher', () => {
  const t = useTestNamespace('watcher');
  const harnesses: Harness[] = [];
  const nodes: string[] = [];

  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.close()));
    for (const node of nodes.splice(0)) await removeNode(t.client, node);
  });

  function harness(): Harness {
    const h = watcherHarness(t.namespace);
    harnesses.push(h);
    return h;
  }

  const create = <T = Created>(ref: (typeof Resources)[keyof typeof Resources], body: unknown) =>
    t.client.create<T>(ref, body, { namespace: t.namespace });

  it('changes become world entries, event-log entries and reconcile jobs', { timeout: 60_000 }, async () => {
    const ns = t.namespace;
    await create(Resources.reaperOverlays, objects.overlay('ovl'));
    const first = await create(Resources.reaperDaemonJobs, objects.daemonJob('first'));
    await create(Resources.reaperDaemonJobs, objects.daemonJob('second', ['first']));
    const rp = await create(
      Resources.reaperPods,
      objects.reaperPod(
        'rp',
        { overlayName: 'ovl', nodeName: 'node-x' },
        {
          ownerReferences: [
            {
              apiVersion: 'reaper.io/v1alpha1',
              kind: 'ReaperDaemonJob',
              name: 'first',
              uid: first.metadata.uid,
              controller: true,
            },
          ],
        },
      ),
    );
    await create(Resources.pods, objects.backingPod('rp', rp.metadata));

    const h = harness();
    const watcher = await h.start('only');
    await waitFor(() => watcher.isLeader() && watcher.ready() === true, {
      description: 'the watcher leads and has synced',
      timeoutMs: 20_000,
    });

    // World: objects stored without managedFields, one entry per object.
    const storedRp = await h.world.get<{ metadata: Record<string, unknown>; spec: unknown }>(
      'ReaperPod',
      ns,
      'rp',
    );
    expect(storedRp?.metadata.uid).toBe(rp.metadata.uid);
    expect(storedRp?.metadata).not.toHaveProperty('managedFields');
    expect(storedRp?.spec).toMatchObject({ overlayName: 'ovl' });
    expect(await h.world.get('Pod', ns, 'rp')).toBeDefined();
    expect(await h.world.get('ReaperOverlay', ns, 'ovl')).toBeDefined();
    expect((await h.world.list('ReaperDaemonJob', ns)).length).toBe(2);
    // Event log: the first list's ADDED.
    const rpEvents = (await h.world.readEvents('ReaperPod')).filter((e) => e.namespace === ns);
    expect(rpEvents.map((e) => [e.type, e.name, e.uid])).toContainEqual(['ADDED', 'rp', rp.metadata.uid]);
    // Reconcile jobs: every object of the namespace.
    await waitFor(
      async () => {
        const keys = [
          ...(await h.queuedKeys('ReaperPod')),
          ...(await h.queuedKeys('ReaperOverlay')),
          ...(await h.queuedKeys('ReaperDaemonJob')),
        ];
        return [
          `ReaperPod/${ns}/rp`,
          `ReaperOverlay/${ns}/ovl`,
          `ReaperDaemonJob/${ns}/first`,
          `ReaperDaemonJob/${ns}/second`,
        ].every((k) => keys.includes(k));
      },
      { description: 'reconcile jobs of every object', timeoutMs: 10_000 },
    );

    // An overlay change reaches the ReaperPods that use it.
    await h.clearQueues();
    await t.client.patch(
      Resources.reaperOverlays,
      'ovl',
      'merge',
      { spec: { resetGeneration: 1 } },
      { namespace: ns },
    );
    // The change's keys are enqueued concurrently (pipeline.ts): wait for both, not for the first.
    await waitFor(
      async () =>
        (await h.queuedKeys('ReaperPod')).includes(`ReaperPod/${ns}/rp`) &&
        (await h.queuedKeys('ReaperOverlay')).includes(`ReaperOverlay/${ns}/ovl`),
      { description: 'the overlay change enqueues ReaperPod rp and the overlay itself', timeoutMs: 10_000 },
    );

    // A DaemonJob change reaches the jobs that come after it.
    await h.clearQueues();
    await t.client.patch(
      Resources.reaperDaemonJobs,
      'first',
      'merge',
      { spec: { retryLimit: 1 } },
      { namespace: ns },
    );
    await waitFor(
      async () => (await h.queuedKeys('ReaperDaemonJob')).includes(`ReaperDaemonJob/${ns}/second`),
      { description: 'the change of first enqueues second', timeoutMs: 10_000 },
    );

    // A backing Pod's deletion reaches its ReaperPod and leaves the world.
    await h.clearQueues();
    await t.client.delete(Resources.pods, 'rp', { namespace: ns, gracePeriodSeconds: 0 });
    await waitFor(async () => (await h.world.get('Pod', ns, 'rp')) === undefined, {
      description: 'Pod rp removed from the world',
      timeoutMs: 10_000,
    });
    expect(await h.queuedKeys('ReaperPod')).toContain(`ReaperPod/${ns}/rp`);
    const podEvents = (await h.world.readEvents('Pod')).filter((e) => e.namespace === ns);
    expect(podEvents.map((e) => e.type)).toContain('DELETED');

    // A deleted ReaperPod with an overlay on a node asks for a reset of that node.
    await h.clearQueues();
    await t.client.delete(Resources.reaperPods, 'rp', { namespace: ns });
    await waitFor(
      async () => (await h.overlayResetRequests(ns, 'ovl')).includes(`node-x|${rp.metadata.uid}|deleted`),
      {
        description: 'the overlay reset request of node-x',
        timeoutMs: 10_000,
      },
    );
    expect(await h.queuedKeys('ReaperOverlay')).toContain(`ReaperOverlay/${ns}/ovl`);
    expect(await h.queuedKeys('ReaperDaemonJob')).toContain(`ReaperDaemonJob/${ns}/first`);

    // A new Node reaches every DaemonJob and overlay; it is stored as a projection.
    await h.clearQueues();
    const node = uniqueNodeName('watcher');
    nodes.push(node);
    await addNode(t.client, { name: node });
    await waitFor(
      async () => {
        const keys = [...(await h.queuedKeys('ReaperDaemonJob')), ...(await h.queuedKeys('ReaperOverlay'))];
        return [
          `ReaperDaemonJob/${ns}/first`,
          `ReaperDaemonJob/${ns}/second`,
          `ReaperOverlay/${ns}/ovl`,
        ].every((k) => keys.includes(k));
      },
      { description: 'the new node enqueues every DaemonJob and overlay', timeoutMs: 10_000 },
    );
    const storedNode = await h.world.get<Record<string, unknown>>('Node', '', node);
    expect(Object.keys(storedNode ?? {}).sort()).toEqual([
      'apiVersion',
      'kind',
      'metadata',
      'spec',
      'status',
    ]);
    expect(storedNode?.status).not.toHaveProperty('capacity');
  });

  it('watcher killed and restarted: no deletion missed', { timeout: 60_000 }, async () => {
    const ns = t.namespace;
    await create(Resources.reaperPods, objects.reaperPod('keep'));
    const doomed = await create(
      Resources.reaperPods,
      objects.reaperPod('doomed', { overlayName: 'shared', nodeName: 'node-y' }),
    );
    const h = harness();
    const before = await h.start('before');
    await waitFor(async () => (await h.world.get('ReaperPod', ns, 'doomed')) !== undefined, {
      description: 'doomed in the world',
      timeoutMs: 20_000,
    });
    // Killed: no release, the informers just stop.
    await before.stop({ release: false });

    await t.client.delete(Resources.reaperPods, 'doomed', { namespace: ns });
    await t.client.patch(
      Resources.reaperPods,
      'keep',
      'merge',
      { metadata: { labels: { touched: 'yes' } } },
      { namespace: ns },
    );
    await create(Resources.reaperPods, objects.reaperPod('born'));
    await waitFor(
      async () => (await t.client.get(Resources.reaperPods, 'doomed', { namespace: ns })) === undefined,
      {
        description: 'doomed deleted in the API',
        timeoutMs: 10_000,
      },
    );
    const eventsBefore = (await h.world.readEvents('ReaperPod')).length;

    // Restarted with another identity: it takes over once the dead one's lease expires.
    const after = await h.start('after');
    await waitFor(() => after.isLeader() && after.ready() === true, {
      description: 'the restarted watcher leads and has synced',
      timeoutMs: 20_000,
    });
    // Resumed from the stored resourceVersion, the three changes arrive one after another (in
    // resourceVersion order): wait for all of them, not only the first.
    const missedChanges = async () =>
      (await h.world.readEvents('ReaperPod'))
        .slice(eventsBefore)
        .filter((e) => e.namespace === ns && e.type !== 'SYNC')
        .map((e) => [e.type, e.name]);
    const missed = await waitFor(
      async () => {
        const seen = await missedChanges();
        const has = (type: string, name: string) => seen.some(([t2, n]) => t2 === type && n === name);
        return has('DELETED', 'doomed') && has('MODIFIED', 'keep') && has('ADDED', 'born') ? seen : undefined;
      },
      { description: 'the deletion, the change and the creation made while it was down', timeoutMs: 10_000 },
    );
    expect(missed).toEqual(
      expect.arrayContaining([
        ['DELETED', 'doomed'],
        ['MODIFIED', 'keep'],
        ['ADDED', 'born'],
      ]),
    );
    expect(await h.world.get('ReaperPod', ns, 'doomed')).toBeUndefined();
    expect(
      await h.world.get<{ metadata: { labels?: Record<string, string> } }>('ReaperPod', ns, 'keep'),
    ).toMatchObject({
      metadata: { labels: { touched: 'yes' } },
    });
    expect(await h.overlayResetRequests(ns, 'shared')).toEqual([`node-y|${doomed.metadata.uid}|deleted`]);
    expect(await h.queuedKeys('ReaperOverlay')).toContain(`ReaperOverlay/${ns}/shared`);
  });

  it("a backing Pod's echo of its create, and its changes once its ReaperPod is gone, ask for no reconcile", {
    timeout: 60_000,
  }, async () => {
    const ns = t.namespace;
    const rp = await create(Resources.reaperPods, objects.reaperPod('echo'));
    const h = harness();
    const watcher = await h.start('only');
    await waitFor(() => watcher.isLeader() && watcher.ready() === true, {
      description: 'the watcher leads and has synced',
      timeoutMs: 20_000,
    });
    // Skips are counted after the change's reconcile requests are in: once counted, the queue
    // holds whatever that change asked for.
    const skipped = async (cause: string, reason: string) => {
      const { values } = await h.metrics().reconcileSkips.get();
      return values.find(
        (v) => v.labels.kind === 'ReaperPod' && v.labels.cause === cause && v.labels.reason === reason,
      )?.value;
    };
    const key = `ReaperPod/${ns}/echo`;

    await h.clearQueues();
    await create(Resources.pods, objects.backingPod('echo', rp.metadata, uniqueNodeName('no-kubelet')));
    await waitFor(() => skipped('Pod ADDED', 'pod-as-created'), {
      description: 'the ADDED of the Pod as created, skipped',
      timeoutMs: 10_000,
    });
    expect(await h.queuedKeys('ReaperPod')).not.toContain(key);

    await t.client.delete(Resources.reaperPods, 'echo', { namespace: ns });
    await waitFor(() => skipped('ReaperPod DELETED', 'deleted'), {
      description: 'the ReaperPod deletion, not asking for its own reconcile',
      timeoutMs: 10_000,
    });
    expect(await h.world.get('ReaperPod', ns, 'echo')).toBeUndefined();
    await h.clearQueues();
    // The Pod goes too (by us, or already by the garbage collector): its ReaperPod is not in the world.
    await t.client.delete(Resources.pods, 'echo', { namespace: ns, gracePeriodSeconds: 0 });
    await waitFor(() => skipped('Pod DELETED', 'reaperpod-gone'), {
      description: 'the Pod deletion of a ReaperPod the world no longer holds, skipped',
      timeoutMs: 10_000,
    });
    expect(await h.queuedKeys('ReaperPod')).not.toContain(key);
  });
});
