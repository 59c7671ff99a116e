import { join } from 'node:path';
import type { Pki } from './pki';

export interface Ports {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly controllerManager: number;
  readonly scheduler: number;
  readonly redis: number;
}

/** A process to start: program, arguments, and the cmdline fragment that identifies it later. */
export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly match: string;
}

const LOOPBACK = '127.0.0.1';

/** The Services' ClusterIP range; its first address is the `kubernetes` Service's. */
export const SERVICE_CIDR = '10.0.0.0/24';

/** Single-member etcd on loopback. No fsync: the data dir is thrown away with the cluster. */
export function etcdSpec(binDir: string, ports: Ports, dataDir: string): ProcessSpec {
  const client = `http://${LOOPBACK}:${ports.etcdClient}`;
  const peer = `http://${LOOPBACK}:${ports.etcdPeer}`;
  return {
    name: 'etcd',
    command: join(binDir, 'etcd'),
    match: join(binDir, 'etcd'),
    args: [
      '--name=default',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
  };
}

/**
 * `hostAddress`: with real nodes, the machine's non-loopback address (their InternalIP). Then the
 * API server listens on every address and advertises that one, and its endpoint reconciler
 * publishes it as the `kubernetes` Service's endpoint, so Pods reach it at the Service's ClusterIP
 * (through kube-proxy). Without it everything stays on loopback, where no Pod ever runs.
 */
export function apiserverSpec(
  binDir: string,
  ports: Ports,
  pki: Pki,
  opts: { readonly hostAddress?: string } = {},
): ProcessSpec {
  const host = opts.hostAddress;
  return {
    name: 'kube-apiserver',
    command: join(binDir, 'kube-apiserver'),
    match: join(binDir, 'kube-apiserver'),
    args: [
      `--etcd-servers=http://${LOOPBACK}:${ports.etcdClient}`,
      ...(host
        ? ['--bind-address=0.0.0.0', `--advertise-address=${host}`]
        : // Without it the API server looks for a non-loopback interface to advertise.
          [`--bind-address=${LOOPBACK}`, `--advertise-address=${LOOPBACK}`]),
      `--secure-port=${ports.apiserver}`,
      `--tls-cert-file=${pki.apiserverCert}`,
      `--tls-private-key-file=${pki.apiserverKey}`,
      `--client-ca-file=${pki.caCert}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-issuer=https://${LOOPBACK}:${ports.apiserver}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      `--service-account-key-file=${pki.serviceAccountKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      // On loopback the endpoint reconciler would publish 127.0.0.1 as the `kubernetes` Service
      // endpoint, which validation rejects, logging an error every few seconds.
      ...(host ? [] : ['--endpoint-reconciler-type=none']),
      '--allow-privileged=true',
      '--profiling=false',
      // Logs and exec go to the stand-in kubelet's per-node servers: dialled at the Node's
      // InternalIP (127.0.0.1) and status.daemonEndpoints port, never its name (not in any DNS).
      '--kubelet-preferred-address-types=InternalIP',
      `--kubelet-client-certificate=${pki.apiserverKubeletClientCert}`,
      `--kubelet-client-key=${pki.apiserverKubeletClientKey}`,
      `--kubelet-certificate-authority=${pki.caCert}`,
    ],
  };
}

const WORKLOAD_CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'daemonset-controller',
  'endpointslice-controller',
  'persistentvolume-binder-controller',
  'persistentvolumeclaim-protection-controller',
  'persistentvolume-protection-controller',
  'pod-garbage-collector-controller',
];

export function controllerManagerSpec(
  binDir: string,
  ports: Ports,
  kubeconfig: string,
  pki: Pki,
  opts: { readonly nodeLifecycle?: boolean; readonly workloads?: boolean } = {},
): ProcessSpec {
  const controllers = [
    'garbage-collector-controller',
    'namespace-controller',
    'serviceaccount-controller',
    'root-ca-certificate-publisher-controller',
    ...(opts.nodeLifecycle ? ['node-lifecycle-controller'] : []),
    // With real nodes the cluster hosts a deployed system (a Helm release): its Deployments,
    // StatefulSets and DaemonSets, the Services' EndpointSlices (kube-proxy and CoreDNS read
    // them) and statically provisioned PersistentVolumes.
    ...(opts.workloads ? WORKLOAD_CONTROLLERS : []),
  ];
  return {
    name: 'kube-controller-manager',
    command: join(binDir, 'kube-controller-manager'),
    match: join(binDir, 'kube-controller-manager'),
    args: [
      `--kubeconfig=${kubeconfig}`,
      // root-ca-certificate-publisher-controller writes each namespace's kube-root-ca.crt ConfigMap,
      // which the kube-api-access volume ServiceAccount admission adds to every pod refers to.
      `--controllers=${controllers.join(',')}`,
      // With real nodes: the node-lifecycle controller removes the not-ready taint from a new Node
      // once its kubelet reports Ready, and marks a Node whose Lease is not renewed for 20 s
      // NotReady (Unknown) with its taints. The simulated nodes' Leases are renewed by the
      // stand-in kubelet. Without real nodes it stays off, and the CLI keeps the taints.
      ...(opts.nodeLifecycle ? ['--node-monitor-grace-period=20s', '--node-monitor-period=2s'] : []),
      // Each controller acts as its own ServiceAccount in kube-system (bound by the bootstrap RBAC
      // roles); the system:kube-controller-manager user alone may list everything but delete nothing,
      // so the garbage collector would not work with it.
      '--use-service-account-credentials=true',
      `--root-ca-file=${pki.caCert}`,
      '--leader-elect=false',
      `--bind-address=${LOOPBACK}`,
      `--secure-port=${ports.controllerManager}`,
      '--profiling=false',
    ],
  };
}

/**
 * The upstream kube-scheduler: it binds every Pod without a nodeName (reaper-flow binds none),
 * checking resources, selectors, affinity, taints and cordons against the simulated Nodes' status.
 */
export function schedulerSpec(binDir: string, ports: Ports, kubeconfig: string): ProcessSpec {
  return {
    name: 'kube-scheduler',
    command: join(binDir, 'kube-scheduler'),
    match: join(binDir, 'kube-scheduler'),
    args: [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      `--bind-address=${LOOPBACK}`,
      `--secure-port=${ports.scheduler}`,
      '--profiling=false',
    ],
  };
}

export function redisSpec(redisServer: string, port: number, dataDir: string): ProcessSpec {
  return {
    name: 'redis',
    command: redisServer,
    // redis rewrites its cmdline to "redis-server 127.0.0.1:PORT" once running.
    match: 'redis-server',
    args: [
      '--port',
      String(port),
      '--bind',
      LOOPBACK,
      '--protected-mode',
      'yes',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--dir',
      dataDir,
      '--daemonize',
      'no',
    ],
  };
}
