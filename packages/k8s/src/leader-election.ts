import { z } from 'zod';
import type { KubeClient } from './client';
import { isApiError } from './errors';
import { Resources } from './resources';

/** Formats epoch ms as a Kubernetes MicroTime ("2006-01-02T15:04:05.000000Z"). */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

const LeaseSpec = z.looseObject({
  holderIdentity: z.string().nullish(),
  leaseDurationSeconds: z.number().int().nullish(),
  acquireTime: z.string().nullish(),
  renewTime: z.string().nullish(),
  leaseTransitions: z.number().int().nullish(),
});

const Lease = z.looseObject({
  metadata: z.looseObject({ name: z.string(), resourceVersion: z.string().optional() }),
  spec: LeaseSpec.optional(),
});
type Lease = z.infer<typeof Lease>;
type LeaseSpec = z.infer<typeof LeaseSpec>;

/** true when nobody holds the lease, or its holder has not renewed it within its duration. */
export function leaseExpired(spec: LeaseSpec | undefined, now: number): boolean {
  if (!spec?.holderIdentity) return true;
  const renewed = spec.renewTime ? Date.parse(spec.renewTime) : Number.NaN;
  if (Number.isNaN(renewed)) return true;
  return renewed + (spec.leaseDurationSeconds ?? 0) * 1000 < now;
}

export type LeaderElectionKube = Pick<KubeClient, 'get' | 'create' | 'replace'>;

export interface LeaderElectionOptions {
  readonly kube: LeaderElectionKube;
  readonly namespace: string;
  readonly name: string;
  /** Unique per process: two processes with one identity would both believe they lead. */
  readonly identity: string;
  /** A standby takes over this long after the leader's last renewal. */
  readonly leaseDurationMs: number;
  /** How often the leader renews. */
  readonly renewIntervalMs: number;
  /**
   * A leader that could not renew for this long steps down (default 2/3 of the lease duration): it
   * stops acting before the lease expires for the others, so two leaders never act at once (given
   * clocks that roughly agree, as every Lease consumer assumes).
   */
  readonly renewDeadlineMs?: number | undefined;
  /** How often a standby tries to acquire (default renewIntervalMs, jittered up to +20%). */
  readonly retryIntervalMs?: number | undefined;
  /** Called (not awaited) when this process becomes the leader. */
  readonly onStartedLeading: () => void;
  /** Called (not awaited) when leadership ends: lost to another holder or a renew deadline, or stop(). */
  readonly onStoppedLeading: (reason: 'lost' | 'stopped') => void;
  /** Called when the observed holder changes (undefined: nobody holds the lease). */
  readonly onNewLeader?: ((identity: string | undefined) => void) | undefined;
  readonly onError?: ((err: unknown) => void) | undefined;
  readonly clock?: (() => number) | undefined;
}

type Attempt = 'held' | 'other' | 'error';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does it:
 * optimistic concurrency on the Lease's resourceVersion decides every race (a Conflict means another
 * candidate won), the leader renews every renewInterval, a standby polls and takes over once the
 * lease is expired (renewTime + leaseDurationSeconds < now) or released (empty holderIdentity).
 */
export class LeaderElector {
  private readonly abort = new AbortController();
  private readonly clock: () => number;
  private readonly renewDeadlineMs: number;
  private leading = false;
  private lastRenew = 0;
  private observed: string | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: LeaderElectionOptions) {
    this.clock = opts.clock ?? Date.now;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? Math.round((opts.leaseDurationMs * 2) / 3);
    if (this.renewDeadlineMs >= opts.leaseDurationMs) {
      throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
    }
    if (opts.renewIntervalMs >= this.renewDeadlineMs) {
      throw new Error('renewIntervalMs must be shorter than the renew deadline (2/3 of leaseDurationMs)');
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder last seen on the Lease. */
  get leader(): string | undefined {
    return this.observed;
  }

  /** Starts campaigning in the background. */
  start(): void {
    if (this.loop) throw new Error('leader elector already started');
    this.loop = this.run();
  }

  /**
   * Stops campaigning. With `release` (default) a leader empties the Lease so a standby takes over at
   * once instead of after the lease duration; without it the lease simply expires (as on a crash).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.abort.abort();
    await this.loop;
    const wasLeading = this.leading;
    this.leading = false;
    // Also when not leading: an acquire still in flight when stop() came may have succeeded.
    if (opts.release ?? true) {
      try {
        await this.release();
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
    if (wasLeading) this.notify(() => this.opts.onStoppedLeading('stopped'));
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const started = this.clock();
      const deadline = this.leading ? this.lastRenew + this.renewDeadlineMs - started : this.renewDeadlineMs;
      const result = await withTimeout(this.tryAcquireOrRenew(), Math.max(0, deadline)).catch(
        (err: unknown): Attempt => {
          this.opts.onError?.(err);
          return 'error';
        },
      );
      if (signal.aborted) break;
      if (result === 'held') {
        this.lastRenew = started;
        if (!this.leading) {
          this.leading = true;
          this.notify(() => this.opts.onStartedLeading());
        }
      } else if (this.leading) {
        const lost = result === 'other' || this.clock() - this.lastRenew >= this.renewDeadlineMs;
        if (lost) {
          this.leading = false;
          this.notify(() => this.opts.onStoppedLeading('lost'));
        }
      }
      const retry = this.opts.retryIntervalMs ?? this.opts.renewIntervalMs;
      const wait = this.leading ? this.opts.renewIntervalMs : retry * (1 + 0.2 * Math.random());
      // A leader that cannot renew never sleeps past its deadline, so it steps down in time.
      const untilDeadline = this.lastRenew + this.renewDeadlineMs - this.clock();
      await sleep(this.leading ? Math.max(0, Math.min(wait, untilDeadline)) : wait, signal);
    }
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    // A Conflict can be a harmless write (someone labelled the Lease): read again once before
    // concluding that another candidate won.
    const first = await this.attempt();
    return first === 'conflict' ? ((await this.attempt()) === 'held' ? 'held' : 'other') : first;
  }

  private async attempt(): Promise<Attempt | 'conflict'> {
    const { kube, namespace, name, identity } = this.opts;
    const now = this.clock();
    const raw = await kube.get<unknown>(Resources.leases, name, { namespace });
    const durationSeconds = Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
    if (raw === undefined) {
      const body = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: formatMicroTime(now),
          renewTime: formatMicroTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        await kube.create(Resources.leases, body, { namespace });
      } catch (err) {
        if (isApiError(err, 'AlreadyExists') || isApiError(err, 'Conflict')) return 'other';
        throw err;
      }
      this.observe(identity);
      return 'held';
    }
    const lease: Lease = Lease.parse(raw);
    const holder = lease.spec?.holderIdentity || undefined;
    this.observe(holder);
    if (holder !== identity && !leaseExpired(lease.spec, now)) return 'other';
    const spec = lease.spec ?? {};
    const body = {
      ...lease,
      metadata: { ...lease.metadata },
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: holder === identity && spec.acquireTime ? spec.acquireTime : formatMicroTime(now),
        renewTime: formatMicroTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
      },
    };
    try {
      // metadata.resourceVersion is the version just read: if anyone wrote in between, this is a Conflict.
      await kube.replace(Resources.leases, name, body, { namespace });
    } catch (err) {
      if (isApiError(err, 'Conflict')) return 'conflict';
      throw err;
    }
    this.observe(identity);
    return 'held';
  }

  private async release(): Promise<void> {
    const { kube, namespace, name, identity } = this.opts;
    const raw = await kube.get<unknown>(Resources.leases, name, { namespace });
    if (raw === undefined) return;
    const lease = Lease.parse(raw);
    if (lease.spec?.holderIdentity !== identity) return;
    const now = formatMicroTime(this.clock());
    const body = {
      ...lease,
      metadata: { ...lease.metadata },
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
    };
    try {
      await kube.replace(Resources.leases, name, body, { namespace });
    } catch (err) {
      // Someone else already took it: nothing to release.
      if (!isApiError(err, 'Conflict')) throw err;
    }
  }

  private observe(holder: string | undefined): void {
    if (holder === this.observed) return;
    this.observed = holder;
    this.notify(() => this.opts.onNewLeader?.(holder));
  }

  private notify(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.onError?.(err);
    }
  }
}

class AttemptTimeout extends Error {
  readonly code = 'AttemptTimeout';
}

/** Races `p` against a timer; the slow promise keeps running but its result is ignored. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout(`lease request took longer than ${ms} ms`)), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
