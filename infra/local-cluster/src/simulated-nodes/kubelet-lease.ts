import { formatMicroTime } from '@reaper-flow/domain';
import { ApiError, type KubeClient, Resources } from '@reaper-flow/k8s';

export const KUBELET_LEASE = 'stand-in-kubelet';
export const KUBELET_LEASE_NAMESPACE = 'kube-system';
const DURATION_S = 15;
const RENEW_MS = 5000;

/** Another stand-in kubelet holds the lease: two would start every pod twice. */
export class KubeletConflictError extends Error {
  override readonly name = 'KubeletConflictError';
  readonly code = 'KubeletConflict';
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    renewTime?: string | null;
    acquireTime?: string;
  };
}

export function kubeletIdentity(pid = process.pid): string {
  return `stand-in-kubelet-${pid}`;
}

function expired(lease: Lease): boolean {
  const holder = lease.spec?.holderIdentity;
  const renew = lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
  return !holder || renew + (lease.spec?.leaseDurationSeconds ?? DURATION_S) * 1000 < Date.now();
}

/**
 * A coordination.k8s.io Lease making the stand-in kubelet a singleton per cluster (the CLI's daemon
 * and a test run's in-process kubelet must not both serve pods). Writes carry the read
 * resourceVersion, so two contenders never both win.
 */
export class KubeletLease {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: KubeClient,
    readonly identity: string,
  ) {}

  /** Takes the lease; if another live holder has it: waits for it to expire (`wait`) or throws KubeletConflictError. */
  async acquire(mode: 'wait' | 'fail'): Promise<void> {
    for (;;) {
      const lease = await this.client.get<Lease>(Resources.leases, KUBELET_LEASE, {
        namespace: KUBELET_LEASE_NAMESPACE,
      });
      if (lease && !expired(lease) && lease.spec?.holderIdentity !== this.identity) {
        if (mode === 'fail') {
          throw new KubeletConflictError(
            `another stand-in kubelet (${lease.spec?.holderIdentity}) is running`,
          );
        }
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const now = formatMicroTime(Date.now());
      const spec = {
        holderIdentity: this.identity,
        leaseDurationSeconds: DURATION_S,
        acquireTime: now,
        renewTime: now,
      };
      try {
        if (lease)
          await this.client.replace(
            Resources.leases,
            KUBELET_LEASE,
            { ...lease, spec },
            { namespace: KUBELET_LEASE_NAMESPACE },
          );
        else
          await this.client.create(
            Resources.leases,
            {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: KUBELET_LEASE, namespace: KUBELET_LEASE_NAMESPACE },
              spec,
            },
            { namespace: KUBELET_LEASE_NAMESPACE },
          );
        return;
      } catch (err) {
        if (err instanceof ApiError && (err.code === 'Conflict' || err.code === 'AlreadyExists')) continue;
        throw err;
      }
    }
  }

  /** Renews every few seconds; calls `onLost` if someone else took the lease. */
  keepRenewing(onLost: (reason: string) => void): void {
    this.timer = setInterval(() => {
      this.renew().catch((err: Error) => {
        if (err instanceof KubeletConflictError) {
          this.stopRenewing();
          onLost(err.message);
        }
        // Other errors (API briefly unavailable) are retried by the next tick.
      });
    }, RENEW_MS);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const lease = await this.client.get<Lease>(Resources.leases, KUBELET_LEASE, {
      namespace: KUBELET_LEASE_NAMESPACE,
    });
    if (!lease || lease.spec?.holderIdentity !== this.identity) {
      throw new KubeletConflictError(
        `lease ${KUBELET_LEASE} now held by ${lease?.spec?.holderIdentity ?? 'nobody'}`,
      );
    }
    await this.client.replace(
      Resources.leases,
      KUBELET_LEASE,
      { ...lease, spec: { ...lease.spec, renewTime: formatMicroTime(Date.now()) } },
      { namespace: KUBELET_LEASE_NAMESPACE },
    );
  }

  stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Gives the lease up so a successor need not wait for it to expire. */
  async release(): Promise<void> {
    this.stopRenewing();
    const lease = await this.client.get<Lease>(Resources.leases, KUBELET_LEASE, {
      namespace: KUBELET_LEASE_NAMESPACE,
    });
    if (lease?.spec?.holderIdentity !== this.identity) return;
    await this.client.delete(Resources.leases, KUBELET_LEASE, {
      namespace: KUBELET_LEASE_NAMESPACE,
      preconditions: lease.metadata.resourceVersion
        ? { resourceVersion: lease.metadata.resourceVersion }
        : {},
    });
  }
}
