import { formatMicroTime } from '@reaper-flow/domain';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from './errors';
import { type LeaderElectionKube, LeaderElector, leaseExpired } from './leader-election';

type LeaseObject = {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: Record<string, unknown>;
};

/** An in-memory Lease endpoint with resourceVersion checks, like the API server's. */
class FakeLeases {
  lease: LeaseObject | undefined;
  private rv = 1;
  failing = false;
  /** The next this-many requests fail (a transient error). */
  failNext = 0;
  /** While set, a replace waits for it before answering (a slow API server or a busy process). */
  hold: Promise<void> | undefined;
  gets = 0;

  private fail(): boolean {
    if (this.failNext > 0) {
      this.failNext -= 1;
      return true;
    }
    return this.failing;
  }

  get = async <T>(): Promise<T | undefined> => {
    this.gets += 1;
    if (this.fail()) throw new ApiError('Network', 0, 'unreachable');
    return this.lease === undefined ? undefined : (structuredClone(this.lease) as T);
  };

  create = async <T>(_ref: unknown, body: unknown): Promise<T> => {
    if (this.fail()) throw new ApiError('Network', 0, 'unreachable');
    if (this.lease) throw new ApiError('AlreadyExists', 409, 'exists', 'AlreadyExists');
    const b = body as LeaseObject;
    this.lease = { metadata: { ...b.metadata, resourceVersion: String(++this.rv) }, spec: { ...b.spec } };
    return structuredClone(this.lease) as T;
  };

  replace = async <T>(_ref: unknown, _name: string, body: unknown): Promise<T> => {
    if (this.fail()) throw new ApiError('Network', 0, 'unreachable');
    await this.hold;
    const b = body as LeaseObject;
    if (!this.lease || b.metadata.resourceVersion !== this.lease.metadata.resourceVersion) {
      throw new ApiError('Conflict', 409, 'the object has been modified');
    }
    this.lease = { metadata: { ...b.metadata, resourceVersion: String(++this.rv) }, spec: { ...b.spec } };
    return structuredClone(this.lease) as T;
  };

  /** Someone else writes the lease (e.g. another candidate with a skewed clock). */
  steal(holder: string): void {
    if (!this.lease) throw new Error('no lease');
    const now = formatMicroTime(Date.now());
    this.lease = {
      metadata: { ...this.lease.metadata, resourceVersion: String(++this.rv) },
      spec: { ...this.lease.spec, holderIdentity: holder, renewTime: now, leaseDurationSeconds: 60 },
    };
  }
}

async function waitFor(fn: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const electors: LeaderElector[] = [];
function candidate(
  kube: LeaderElectionKube,
  identity: string,
  opts: { leaseDurationMs?: number; renewIntervalMs?: number } = {},
) {
  const events: string[] = [];
  const elector = new LeaderElector({
    kube,
    namespace: 'ns',
    name: 'lease',
    identity,
    leaseDurationMs: opts.leaseDurationMs ?? 1_000,
    renewIntervalMs: opts.renewIntervalMs ?? 100,
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: (reason) => events.push(`stopped:${reason}`),
  });
  electors.push(elector);
  return { elector, events };
}

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
});

describe('lease expiry', () => {
  it('a lease is expired when unheld or not renewed within its duration', () => {
    const renewTime = formatMicroTime(10_000);
    expect(leaseExpired(undefined, 0)).toBe(true);
    expect(leaseExpired({ holderIdentity: '', renewTime, leaseDurationSeconds: 15 }, 10_000)).toBe(true);
    expect(leaseExpired({ holderIdentity: 'a', renewTime, leaseDurationSeconds: 15 }, 24_000)).toBe(false);
    expect(leaseExpired({ holderIdentity: 'a', renewTime, leaseDurationSeconds: 15 }, 25_001)).toBe(true);
  });
});

describe('LeaderElector', () => {
  it('one of two candidates leads; the other stays standby', { timeout: 10_000 }, async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, 'a');
    const b = candidate(leases, 'b');
    a.elector.start();
    b.elector.start();
    await waitFor(() => a.elector.isLeader() || b.elector.isLeader(), 'a leader');
    // Several renew intervals later still exactly one leads, and the lease names it.
    await waitFor(
      () =>
        leases.lease?.metadata.resourceVersion !== undefined &&
        Number(leases.lease.metadata.resourceVersion) > 6,
      'renewals',
    );
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    const leader = a.elector.isLeader() ? 'a' : 'b';
    expect(leases.lease?.spec.holderIdentity).toBe(leader);
    expect(b.elector.leader).toBe(leader);
  });

  it('a standby takes over once the leader stops renewing', { timeout: 10_000 }, async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, 'a');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), 'a leads');
    const b = candidate(leases, 'b');
    b.elector.start();
    await a.elector.stop({ release: false });
    await waitFor(() => b.elector.isLeader(), 'b takes over');
    expect(leases.lease?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('a released lease is taken over at once, not after its duration', { timeout: 10_000 }, async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, 'a', { leaseDurationMs: 60_000, renewIntervalMs: 100 });
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), 'a leads');
    const b = candidate(leases, 'b', { leaseDurationMs: 60_000, renewIntervalMs: 100 });
    b.elector.start();
    await a.elector.stop();
    expect(a.events).toEqual(['started', 'stopped:stopped']);
    await waitFor(() => b.elector.isLeader(), 'b takes over', 3_000);
  });

  it('a leader that finds another holder on the lease stops leading', { timeout: 10_000 }, async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, 'a');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), 'a leads');
    leases.steal('intruder');
    await waitFor(() => a.events.includes('stopped:lost'), 'a steps down');
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.leader).toBe('intruder');
  });

  it('a leader that cannot renew steps down before its lease expires', { timeout: 10_000 }, async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, 'a', { leaseDurationMs: 1_500, renewIntervalMs: 100 });
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), 'a leads');
    leases.failing = true;
    await waitFor(() => a.events.includes('stopped:lost'), 'a steps down');
    const renewTime = Date.parse(String(leases.lease?.spec.renewTime));
    // Stepped down while the lease still looked valid to everyone else.
    expect(leaseExpired(leases.lease?.spec, Date.now())).toBe(false);
    expect(Date.now() - renewTime).toBeLessThan(1_500);
  });

  it('renews with one PUT on the lease it wrote, without reading it first', { timeout: 10_000 }, async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, 'a');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), 'a leads');
    const gets = leases.gets;
    const rv = Number(leases.lease?.metadata.resourceVersion);
    await waitFor(() => Number(leases.lease?.metadata.resourceVersion) >= rv + 3, 'three renewals');
    expect(leases.gets).toBe(gets);
  });

  it('a renewal that fails once is retried at once, not lost until the next interval', {
    timeout: 10_000,
  }, async () => {
    const leases = new FakeLeases();
    // Renew every 400 ms, deadline 666 ms, retry every 133 ms: a single retry would come too late.
    const a = candidate(leases, 'a', { leaseDurationMs: 1_000, renewIntervalMs: 400 });
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), 'a leads');
    const rv = Number(leases.lease?.metadata.resourceVersion);
    leases.failNext = 2;
    await waitFor(
      () => Number(leases.lease?.metadata.resourceVersion) >= rv + 2,
      'renewed after the failures',
    );
    expect(a.events).toEqual(['started']);
    expect(a.elector.isLeader()).toBe(true);
  });

  it('a renewal slower than the renew deadline but within the lease keeps leadership; writes pause meanwhile', {
    timeout: 10_000,
  }, async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, 'a', { leaseDurationMs: 1_500, renewIntervalMs: 100 });
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), 'a leads');
    let release = () => {};
    leases.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Past the renew deadline (1 s) with the renewal in flight: not leading for writes, not lost.
    await waitFor(() => !a.elector.isLeader(), 'writes paused');
    const confirmed = a.elector.whenConfirmed();
    expect(a.events).toEqual(['started']);
    leases.hold = undefined;
    release();
    expect(await confirmed).toBe(true);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.events).toEqual(['started']);
    expect(leaseExpired(leases.lease?.spec, Date.now())).toBe(false);
  });

  it('a renewal that does not land within the lease ends leadership', { timeout: 10_000 }, async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, 'a', { leaseDurationMs: 1_500, renewIntervalMs: 100 });
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), 'a leads');
    leases.hold = new Promise<void>(() => undefined);
    await waitFor(() => !a.elector.isLeader(), 'writes paused');
    const confirmed = a.elector.whenConfirmed();
    await waitFor(() => a.events.includes('stopped:lost'), 'a steps down');
    expect(await confirmed).toBe(false);
    leases.hold = undefined;
  });
});
