import { formatMicroTime } from '@reaper-flow/domain';
import { ApiError, type KubeClient, Resources } from '@reaper-flow/k8s';
import type { Logger } from '../log';

/** Where kubelets keep their heartbeats, one Lease per Node, named like it. */
const NODE_LEASE_NAMESPACE = 'kube-node-lease';

interface NodeLease {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string };
}

/**
 * The heartbeats of the simulated nodes, as a kubelet writes them: a Lease per Node in
 * kube-node-lease, owned by the Node (so it goes with it), renewed every quarter of its duration.
 * Only needed where the node-lifecycle controller runs (a cluster with real nodes): without
 * heartbeats it would mark every simulated node NotReady after its grace period.
 */
export class NodeLeases {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly client: KubeClient,
    private readonly nodes: () => ReadonlyMap<string, string>,
    private readonly log: Logger,
    private readonly durationSeconds = 20,
  ) {}

  /** Renews at once, then every quarter of the duration. */
  start(): void {
    const tick = () => {
      if (this.running) return;
      this.running = true;
      this.renewAll()
        .catch((err: Error) => this.log(`renewing node leases: ${err.message}`))
        .finally(() => {
          this.running = false;
        });
    };
    tick();
    this.timer = setInterval(tick, (this.durationSeconds * 1000) / 4);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async renewAll(): Promise<void> {
    for (const [name, uid] of this.nodes()) await this.renew(name, uid);
  }

  private async renew(name: string, uid: string): Promise<void> {
    const spec = {
      holderIdentity: name,
      leaseDurationSeconds: this.durationSeconds,
      renewTime: formatMicroTime(Date.now()),
    };
    const existing = await this.client.get<NodeLease>(Resources.leases, name, {
      namespace: NODE_LEASE_NAMESPACE,
    });
    try {
      if (existing) {
        await this.client.replace(
          Resources.leases,
          name,
          { ...existing, spec: { ...existing.spec, ...spec } },
          { namespace: NODE_LEASE_NAMESPACE },
        );
      } else {
        await this.client.create(
          Resources.leases,
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: {
              name,
              namespace: NODE_LEASE_NAMESPACE,
              ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid }],
            },
            spec,
          },
          { namespace: NODE_LEASE_NAMESPACE },
        );
      }
    } catch (err) {
      // Someone else wrote it meanwhile: the next tick renews it again.
      if (!(err instanceof ApiError && (err.code === 'Conflict' || err.code === 'AlreadyExists'))) throw err;
    }
  }
}
