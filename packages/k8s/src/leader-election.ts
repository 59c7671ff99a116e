import { setTimeout as sleep } from 'node:timers/promises';
import { formatMicroTime, ReaperError } from '@reaper-flow/domain';
import { z } from 'zod';
import type { KubeClient } from './client';
import { isApiError } from './errors';
import { Resources } from './resources';

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
 *
 * A leader must not lose its lease only because it is busy:
 * - give it a KubeClient of its own (its own connection pool), so a renewal never queues behind
 *   watches or the app's other requests;
 * - a renewal is one PUT on the Lease it last wrote (a GET only after a Conflict), stamped when it
 *   is sent, so a slow read or a late timer does not age it;
 * - a failed renewal is retried every `retryIntervalMs` until the renew deadline, not once;
 * - a renewal still in flight at the renew deadline is waited for until the lease would expire for
 *   the others: meanwhile `isLeader()` is false (nothing may be written on the strength of an
 *   unconfirmed lease), and if it lands in time leadership simply continues, with no
 *   stopped/started callbacks (`whenConfirmed` tells waiting work which way it went).
 */
export class LeaderElector {
  private readonly abort = new AbortController();
  private readonly clock: () => number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private leading = false;
  /** When the renewTime last stored by us was stamped. */
  private lastRenew = 0;
  /** The Lease as our last successful write returned it (the next renewal PUTs on it). */
  private written: Lease | undefined;
  private observed: string | undefined;
  private loop: Promise<void> | undefined;
  private confirmWaiters: ((leading: boolean) => void)[] = [];

  constructor(private readonly opts: LeaderElectionOptions) {
    this.clock = opts.clock ?? Date.now;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? Math.round((opts.leaseDurationMs * 2) / 3);
    if (this.renewDeadlineMs >= opts.leaseDurationMs) {
      throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
    }
    if (opts.renewIntervalMs >= this.renewDeadlineMs) {
      throw new Error('renewIntervalMs must be shorter than the renew deadline (2/3 of leaseDurationMs)');
    }
    this.retryMs =
      opts.retryIntervalMs ?? Math.min(opts.renewIntervalMs, Math.round(this.renewDeadlineMs / 5));
  }

  /** true while this process holds the lease with a renewal confirmed within the renew deadline. */
  isLeader(): boolean {
    return this.leading && this.clock() - this.lastRenew < this.renewDeadlineMs;
  }

  /**
   * Resolves true once leadership is confirmed (at once if it is), false when this process does not
   * lead or leadership ends (or `signal` aborts) before a renewal in flight lands.
   */
  whenConfirmed(signal?: AbortSignal): Promise<boolean> {
    if (this.isLeader()) return Promise.resolve(true);
    if (!this.leading || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (leading: boolean) => {
        signal?.removeEventListener('abort', onAbort);
        this.confirmWaiters = this.confirmWaiters.filter((w) => w !== done);
        resolve(leading);
      };
      const onAbort = () => done(false);
      this.confirmWaiters.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
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
    this.setLeading(false);
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
    const { leaseDurationMs, renewIntervalMs } = this.opts;
    while (!signal.aborted) {
      // A renewal may take until the lease would expire for the others; a standby's attempt is
      // bounded by the renew deadline (it is retried anyway).
      const budget = this.leading ? this.lastRenew + leaseDurationMs - this.clock() : this.renewDeadlineMs;
      const result = await withTimeout(this.tryAcquireOrRenew(), Math.max(0, budget), signal).catch(
        (err: unknown): Attempt => {
          if (!signal.aborted) this.opts.onError?.(err);
          return 'error';
        },
      );
      if (signal.aborted) break;
      if (result === 'held') {
        if (!this.leading) {
          this.setLeading(true);
          this.notify(() => this.opts.onStartedLeading());
        } else if (this.isLeader()) this.settleWaiters(true);
      } else if (this.leading) {
        const lost = result === 'other' || this.clock() - this.lastRenew >= this.renewDeadlineMs;
        if (lost) {
          this.setLeading(false);
          this.notify(() => this.opts.onStoppedLeading('lost'));
        }
      }
      let wait: number;
      if (!this.leading) wait = (this.opts.retryIntervalMs ?? renewIntervalMs) * (1 + 0.2 * Math.random());
      // A renewal so slow that even its own stamp is past the deadline: renew again at once.
      else if (result === 'held') wait = this.isLeader() ? renewIntervalMs : 0;
      // Failing to renew: try again soon, but never sleep past the renew deadline.
      else wait = Math.max(0, Math.min(this.retryMs, this.lastRenew + this.renewDeadlineMs - this.clock()));
      // An abort ends the wait early; the loop's condition then stops it.
      await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    if (!leading) {
      this.written = undefined;
      this.settleWaiters(false);
    }
  }

  private settleWaiters(leading: boolean): void {
    for (const w of [...this.confirmWaiters]) w(leading);
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    // The leader's fast path: one PUT on the Lease it last wrote.
    if (this.leading && this.written) {
      const renewed = await this.write(this.written, this.written.spec?.holderIdentity ?? undefined);
      if (renewed === 'held') return 'held';
    }
    // A Conflict can be a harmless write (someone labelled the Lease): read again once before
    // concluding that another candidate won.
    const first = await this.attempt();
    return first === 'conflict' ? ((await this.attempt()) === 'held' ? 'held' : 'other') : first;
  }

  private async attempt(): Promise<Attempt | 'conflict'> {
    const { kube, namespace, name, identity } = this.opts;
    const raw = await kube.get<unknown>(Resources.leases, name, { namespace });
    if (raw === undefined) {
      const now = this.clock();
      const body = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.durationSeconds(),
          acquireTime: formatMicroTime(now),
          renewTime: formatMicroTime(now),
          leaseTransitions: 0,
        },
      };
      let created: unknown;
      try {
        created = await kube.create(Resources.leases, body, { namespace });
      } catch (err) {
        if (isApiError(err, 'AlreadyExists') || isApiError(err, 'Conflict')) return 'other';
        throw err;
      }
      this.held(created, now);
      return 'held';
    }
    const lease: Lease = Lease.parse(raw);
    const holder = lease.spec?.holderIdentity || undefined;
    this.observe(holder);
    if (holder !== identity && !leaseExpired(lease.spec, this.clock())) return 'other';
    return this.write(lease, holder);
  }

  /** PUTs `lease` with us as holder, stamped now; a Conflict means someone wrote it since. */
  private async write(lease: Lease, holder: string | undefined): Promise<'held' | 'conflict'> {
    const { kube, namespace, name, identity } = this.opts;
    const spec = lease.spec ?? {};
    const now = this.clock();
    const body = {
      ...lease,
      metadata: { ...lease.metadata },
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: this.durationSeconds(),
        acquireTime: holder === identity && spec.acquireTime ? spec.acquireTime : formatMicroTime(now),
        renewTime: formatMicroTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
      },
    };
    let replaced: unknown;
    try {
      // metadata.resourceVersion is the version last seen: if anyone wrote in between, this is a Conflict.
      replaced = await kube.replace(Resources.leases, name, body, { namespace });
    } catch (err) {
      if (isApiError(err, 'Conflict')) return 'conflict';
      throw err;
    }
    this.held(replaced, now);
    return 'held';
  }

  private held(response: unknown, stampedAt: number): void {
    const parsed = Lease.safeParse(response);
    this.written = parsed.success ? parsed.data : undefined;
    this.lastRenew = stampedAt;
    this.observe(this.opts.identity);
  }

  private durationSeconds(): number {
    return Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
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

class AttemptTimeout extends ReaperError {
  readonly code = 'lease.AttemptTimeout';
  readonly terminal = false;
}

/** Races `p` against a timer (and `signal`); the slow promise keeps running but its result is ignored. */
function withTimeout<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout(`lease request took longer than ${ms} ms`)), ms);
    onAbort = () => reject(new AttemptTimeout('stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}
