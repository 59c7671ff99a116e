import { formatMicroTime } from '@reaper-flow/domain';
import { Resources } from '@reaper-flow/k8s';
import { createAppKubeClient, createLogger, createMetrics, type Metrics } from '@reaper-flow/runtime';
import { useTestNamespace, waitFor } from '@reaper-flow/test';
import { afterEach, describe, expect, it } from 'vitest';
import { startWatcher, type Watcher } from './watcher';
import { type Harness, objects, watcherHarness } from './watcher.test-support';

// A watcher that really loses its Lease (another holder takes it) and wins it back resumes its
// watches from the resourceVersions stored with the world: nothing is listed again, and what
// changed while it was away reaches the world anyway.

/** LIST requests this watcher's API client made (reaper_kube_api_requests_total{verb="LIST"}). */
async function lists(metrics: Metrics): Promise<number> {
  const values = (await metrics.apiRequests.get()).values;
  return values.filter((v) => v.labels.verb === 'LIST').reduce((sum, v) => sum + v.value, 0);
}

describe('watcher leadership lost and regained', () => {
  const t = useTestNamespace('watcher-lease');
  const harnesses: Harness[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await Promise.all(harnesses.splice(0).map((h) => h.close()));
  });

  it('a new term resumes every watch from the stored world without re-listing', {
    timeout: 60_000,
  }, async () => {
    const ns = t.namespace;
    const h = watcherHarness(ns);
    harnesses.push(h);
    const metrics = createMetrics('watcher');
    const kube = await createAppKubeClient(h.config, metrics, 'watcher-lease-test');
    const leaseKube = await createAppKubeClient(h.config, createMetrics('watcher'), 'watcher-lease-test');
    const watcher: Watcher = await startWatcher({
      config: h.config,
      kube,
      leaseKube,
      logger: createLogger('watcher-lease', h.config.log.level),
      metrics,
      identity: 'resumer',
    });
    cleanups.push(async () => {
      await watcher.stop();
      kube.close();
      leaseKube.close();
    });
    await waitFor(() => watcher.isLeader() && watcher.ready() === true, {
      description: 'the watcher leads and has synced',
      timeoutMs: 20_000,
    });
    await t.client.create(Resources.reaperOverlays, objects.overlay('before'), { namespace: ns });
    await waitFor(async () => (await h.world.get('ReaperOverlay', ns, 'before')) !== undefined, {
      description: 'overlay before stored',
      timeoutMs: 10_000,
    });
    const listsBefore = await lists(metrics);
    expect(listsBefore).toBeGreaterThan(0);

    // Another holder takes the Lease for 2 s: a real loss, not a slow renewal.
    const { leaseNamespace, leaseName } = h.config.watcher;
    const held = await t.client.get<{ metadata: object; spec: Record<string, unknown> }>(
      Resources.leases,
      leaseName,
      { namespace: leaseNamespace },
    );
    if (!held) throw new Error('no Lease');
    await t.client.replace(
      Resources.leases,
      leaseName,
      {
        ...held,
        spec: {
          ...held.spec,
          holderIdentity: 'intruder',
          leaseDurationSeconds: 2,
          renewTime: formatMicroTime(Date.now()),
        },
      },
      { namespace: leaseNamespace },
    );
    await waitFor(() => !watcher.isLeader(), {
      description: 'the watcher loses the lease',
      timeoutMs: 10_000,
    });
    await t.client.create(Resources.reaperOverlays, objects.overlay('while-away'), { namespace: ns });
    await t.client.delete(Resources.reaperOverlays, 'before', { namespace: ns });

    await waitFor(() => watcher.isLeader() && watcher.ready() === true, {
      description: 'the watcher leads again once the intruder lets the lease expire',
      timeoutMs: 20_000,
    });
    await waitFor(async () => (await h.world.get('ReaperOverlay', ns, 'while-away')) !== undefined, {
      description: 'overlay while-away (created while not leading) stored',
      timeoutMs: 10_000,
    });
    await waitFor(async () => (await h.world.get('ReaperOverlay', ns, 'before')) === undefined, {
      description: 'overlay before (deleted while not leading) gone from the world',
      timeoutMs: 10_000,
    });
    expect(await lists(metrics)).toBe(listsBefore);
  });
});
