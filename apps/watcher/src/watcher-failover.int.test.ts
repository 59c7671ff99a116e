import { Resources } from '@reaper-flow/k8s';
import { useTestNamespace, waitFor } from '@reaper-flow/test';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, objects, watcherHarness } from './watcher.test-support';

// Two watchers on one Lease (lease 3 s, renew 1 s): only the leader watches; when it dies the
// standby takes over within the lease duration and carries on.

describe('watcher failover', () => {
  const t = useTestNamespace('watcher-failover');
  const harnesses: Harness[] = [];

  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.close()));
  });

  it('leader watcher killed: the standby takes over within the lease duration', {
    timeout: 60_000,
  }, async () => {
    const ns = t.namespace;
    const h = watcherHarness(ns);
    harnesses.push(h);
    const leader = await h.start('leader');
    await waitFor(() => leader.isLeader() && leader.ready() === true, {
      description: 'the first watcher leads and has synced',
      timeoutMs: 20_000,
    });
    const standby = await h.start('standby');
    await t.client.create(Resources.reaperOverlays, objects.overlay('early'), { namespace: ns });
    await waitFor(async () => (await h.world.get('ReaperOverlay', ns, 'early')) !== undefined, {
      description: 'the leader stores overlay early',
      timeoutMs: 10_000,
    });
    expect(standby.isLeader()).toBe(false);
    expect(standby.ready()).toBe(true);
    expect(standby.lastEventAt()).toBeUndefined();

    // Killed: renewals stop and the lease is not released.
    await leader.stop({ release: false });
    const { leaseDurationMs, renewIntervalMs } = h.config.watcher;
    await waitFor(() => standby.isLeader(), {
      description: 'the standby takes over',
      // Lease duration after the last renewal, plus one standby poll (jittered) and some slack.
      timeoutMs: leaseDurationMs + 2 * renewIntervalMs + 1_000,
      intervalMs: 50,
    });
    await waitFor(() => standby.ready() === true, {
      description: 'the new leader has synced',
      timeoutMs: 20_000,
    });

    await t.client.create(Resources.reaperOverlays, objects.overlay('late'), { namespace: ns });
    await waitFor(async () => (await h.world.get('ReaperOverlay', ns, 'late')) !== undefined, {
      description: 'the new leader stores overlay late',
      timeoutMs: 10_000,
    });
    await waitFor(async () => (await h.queuedKeys('ReaperOverlay')).includes(`ReaperOverlay/${ns}/late`), {
      description: 'the new leader enqueues overlay late',
      timeoutMs: 10_000,
    });
    expect(standby.lastEventAt()).toBeGreaterThan(0);
  });
});
