// A process of this machine behind a Kubernetes Service, so that the API server's Service proxy
// (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/...`) reaches it on the local cluster, as it
// reaches the scheduler's dashboard Pod on a real one.
//
// The API server proxies a Service only to an Endpoints address that names a Pod (targetRef) whose
// status has that IP, and it refuses loopback addresses (validation of Endpoints and
// EndpointSlices). So: the process listens on a non-loopback address of this machine, a stand-in
// Pod carries that address as its podIP (bound to a Node the stand-in kubelet does not serve, so
// nothing runs it), and hand-written Endpoints point the Service at it.
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { type KubeClient, Resources } from '@reaper-flow/k8s';

/** The first non-loopback IPv4 address of this machine; the Service proxy cannot reach loopback. */
export function routableAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error(
    'this machine has no non-loopback IPv4 address, and the API server does not proxy to loopback',
  );
}

export interface ServiceOptions {
  readonly namespace: string;
  readonly name: string;
  /** The Service's port (what the proxy path names). */
  readonly port: number;
  /** Where the process listens: `address` (from routableAddress) and `targetPort`. */
  readonly address: string;
  readonly targetPort: number;
}

export interface ExposedService {
  /** Deletes the Service, its Endpoints, the stand-in Pod and its Node. */
  remove(): Promise<void>;
}

export async function exposeThroughService(
  client: KubeClient,
  opts: ServiceOptions,
): Promise<ExposedService> {
  const { namespace, name } = opts;
  // No `reaper.io/simulated` label: the stand-in kubelet leaves Pods on this Node alone, and the
  // Node's existence keeps the Pod garbage collector from removing the Pod.
  const host = `svc-host-${randomBytes(3).toString('hex')}`;
  const pod = `${name}-stand-in`;
  await client.create(Resources.nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: host } });
  await client.create(
    Resources.pods,
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod },
      spec: { nodeName: host, containers: [{ name: 'dashboard', image: 'stand-in' }] },
    },
    { namespace },
  );
  await client.patch(
    Resources.pods,
    pod,
    'merge',
    { status: { phase: 'Running', podIP: opts.address, podIPs: [{ ip: opts.address }] } },
    { namespace, subresource: 'status' },
  );
  await client.create(
    Resources.services,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { ports: [{ port: opts.port, targetPort: opts.targetPort }] },
    },
    { namespace },
  );
  await client.create(
    Resources.endpoints,
    {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name },
      subsets: [
        {
          addresses: [{ ip: opts.address, targetRef: { kind: 'Pod', name: pod, namespace } }],
          ports: [{ port: opts.targetPort }],
        },
      ],
    },
    { namespace },
  );
  return {
    remove: async () => {
      await client.delete(Resources.services, name, { namespace });
      await client.delete(Resources.endpoints, name, { namespace });
      await client.delete(Resources.pods, pod, { namespace, gracePeriodSeconds: 0 });
      await client.delete(Resources.nodes, host);
    },
  };
}
