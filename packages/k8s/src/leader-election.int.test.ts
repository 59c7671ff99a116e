import { useTestNamespace, waitFor } from '@reaper-flow/test';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaderElector } from './leader-election';
import { Resources } from './resources';

// Leader election on a real coordination.k8s.io/v1 Lease, with short settings (lease 3 s, renew 1 s).

const LEASE_MS = 3_000;
const RENEW_MS = 1_000;

describe('LeaderElector against the API server', () => {
  const t = useTestNamespace('leader-election');
  const electors: LeaderElector[] = [];

  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
  });

  function candidate(identity: string, leaseName: string) {
    const events: string[] = [];
    const elector = new LeaderElector({
      kube: t.client,
      namespace: t.namespace,
      name: leaseName,
      identity,
      leaseDurationMs: LEASE_MS,
      renewIntervalMs: RENEW_MS,
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: (reason) => events.push(`stopped:${reason}`),
    });
    electors.push(elector);
    return { elector, events };
  }

  const lease = (name: string) =>
    t.client.get<{ spec: Record<string, unknown> }>(Resources.leases, name, { namespace: t.namespace });

  it('the leader dies: the standby takes over within the lease duration', { timeout: 30_000 }, async () => {
    const a = candidate('a', 'dies');
    const b = candidate('b', 'dies');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), { description: 'a leads', timeoutMs: 10_000 });
    b.elector.start();
    await waitFor(() => b.elector.leader === 'a', { description: 'b sees a as leader', timeoutMs: 10_000 });
    expect(b.elector.isLeader()).toBe(false);
    const held = await lease('dies');
    expect(held?.spec.holderIdentity).toBe('a');
    expect(held?.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // Simulated death: renewals stop, nothing is released.
    await a.elector.stop({ release: false });
    // Lease duration after a's last renewal, plus one standby poll.
    await waitFor(() => b.elector.isLeader(), {
      description: 'b takes over',
      timeoutMs: LEASE_MS + 2 * RENEW_MS + 1_000,
      intervalMs: 50,
    });
    expect((await lease('dies'))?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('a clean stop releases the lease and the standby takes over at once', { timeout: 30_000 }, async () => {
    const a = candidate('a', 'released');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), { description: 'a leads', timeoutMs: 10_000 });
    const b = candidate('b', 'released');
    b.elector.start();
    await a.elector.stop();
    expect(a.events).toEqual(['started', 'stopped:stopped']);
    // Released (or already taken by b, which may have polled in between).
    expect(['', 'b']).toContain((await lease('released'))?.spec.holderIdentity ?? '');
    await waitFor(() => b.elector.isLeader(), {
      description: 'b takes over the released lease',
      timeoutMs: 2 * RENEW_MS + 1_000,
      intervalMs: 50,
    });
  });

  it('a leader whose process is busy past the renew deadline, but not past the lease, keeps leading', {
    timeout: 40_000,
  }, async () => {
    // Lease 9 s, so the renew deadline is 6 s; the process is blocked for 6.5 s.
    const events: string[] = [];
    const elector = new LeaderElector({
      kube: t.client,
      namespace: t.namespace,
      name: 'busy',
      identity: 'busy',
      leaseDurationMs: 9_000,
      renewIntervalMs: RENEW_MS,
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: (reason) => events.push(`stopped:${reason}`),
    });
    electors.push(elector);
    elector.start();
    await waitFor(() => elector.isLeader(), { description: 'busy leads', timeoutMs: 10_000 });
    const before = Date.parse(String((await lease('busy'))?.spec.renewTime));
    // Synchronous work that starves every timer of this process (the fault under test).
    const until = Date.now() + 6_500;
    while (Date.now() < until) {
      // busy
    }
    expect(await elector.whenConfirmed()).toBe(true);
    expect(elector.isLeader()).toBe(true);
    expect(events).toEqual(['started']);
    const after = (await lease('busy'))?.spec;
    expect(after?.holderIdentity).toBe('busy');
    expect(Date.parse(String(after?.renewTime))).toBeGreaterThan(before);
  });
});
