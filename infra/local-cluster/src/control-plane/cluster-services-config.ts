// Pure builders of what makes Services work for Pods on real nodes (`up --real-nodes N`): the
// configuration of one upstream kube-proxy for the machine (every real node shares the host's
// network namespace, so one is enough and two would fight over the same rules), CoreDNS's
// Corefile, and the `kube-dns` Service that gives CoreDNS the ClusterIP the kubelets hand to Pods.

/** The Pods' addresses: every real node's bridge subnet `10.222.<slot>.0/24` is inside. */
export const POD_CIDR = '10.222.0.0/16';

/** The `kube-dns` Service's ClusterIP: the kubelets' clusterDNS, every Pod's nameserver. */
export const CLUSTER_DNS_IP = '10.0.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';

/** The nftables tables kube-proxy's nftables mode owns (one per IP family); `down` deletes them. */
export const KUBE_PROXY_NFT_TABLES = [
  { family: 'ip', name: 'kube-proxy' },
  { family: 'ip6', name: 'kube-proxy' },
] as const;

export interface KubeProxySettings {
  readonly kubeconfig: string;
  /** A Node of the cluster (kube-proxy reads its addresses); every real node has the host's. */
  readonly nodeName: string;
  readonly healthzPort: number;
  readonly metricsPort: number;
}

/**
 * KubeProxyConfiguration (JSON is valid YAML): nftables mode (its rules live in two tables of its
 * own, so removing them is two deletes, and it leaves the iptables tables and sysctls such as
 * route_localnet alone), conntrack sysctls left as they are (0 = do not touch), health and
 * metrics on loopback ports of our choosing (the defaults would collide with another cluster's).
 */
export function kubeProxyConfig(s: KubeProxySettings): string {
  return `${JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: s.kubeconfig },
      mode: 'nftables',
      clusterCIDR: POD_CIDR,
      hostnameOverride: s.nodeName,
      // NodePorts on the Node's InternalIP only (the machine's address), not on every bridge.
      nodePortAddresses: ['primary'],
      healthzBindAddress: `127.0.0.1:${s.healthzPort}`,
      metricsBindAddress: `127.0.0.1:${s.metricsPort}`,
      conntrack: {
        maxPerCore: 0,
        min: 0,
        tcpEstablishedTimeout: '0s',
        tcpCloseWaitTimeout: '0s',
        udpTimeout: '0s',
        udpStreamTimeout: '0s',
      },
      logging: { format: 'text', verbosity: 1 },
    },
    null,
    2,
  )}\n`;
}

export interface CorefileSettings {
  /** The machine's address CoreDNS listens on (the `kube-dns` Service's endpoint). */
  readonly hostAddress: string;
  readonly dnsPort: number;
  readonly healthPort: number;
  readonly readyPort: number;
  readonly kubeconfig: string;
}

/**
 * CoreDNS answers the cluster's names from the API server (Services, EndpointSlices, Pods) and
 * nothing else: Pods here only need the names of Services (the chart's Redis and dashboard).
 * `ready` answers 200 once the kubernetes plugin has synced.
 */
export function corefile(s: CorefileSettings): string {
  const zones = [CLUSTER_DOMAIN, 'in-addr.arpa', 'ip6.arpa'];
  return [
    `${zones.map((z) => `${z}:${s.dnsPort}`).join(' ')} {`,
    `  bind ${s.hostAddress}`,
    '  errors',
    `  health 127.0.0.1:${s.healthPort}`,
    `  ready 127.0.0.1:${s.readyPort}`,
    `  kubernetes ${zones.join(' ')} {`,
    `    kubeconfig ${s.kubeconfig}`,
    '    pods insecure',
    '    fallthrough in-addr.arpa ip6.arpa',
    '  }',
    '  cache 5',
    '}',
    '',
  ].join('\n');
}

const MANAGED_BY = 'reaper-flow-local-cluster';

/**
 * The `kube-dns` Service (ClusterIP CLUSTER_DNS_IP, port 53) without a selector, and the
 * EndpointSlice that points it at CoreDNS on the host (`hostAddress:dnsPort`): kube-proxy
 * translates the port, so CoreDNS needs neither port 53 nor root's privileges for it.
 */
export function kubeDnsObjects(hostAddress: string, dnsPort: number): readonly [unknown, unknown] {
  const ports = [
    { name: 'dns', protocol: 'UDP', port: dnsPort },
    { name: 'dns-tcp', protocol: 'TCP', port: dnsPort },
  ];
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
      spec: {
        clusterIP: CLUSTER_DNS_IP,
        ports: ports.map((p) => ({ name: p.name, protocol: p.protocol, port: 53, targetPort: p.port })),
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'kube-dns-host',
        namespace: 'kube-system',
        labels: {
          'kubernetes.io/service-name': 'kube-dns',
          'endpointslice.kubernetes.io/managed-by': MANAGED_BY,
        },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [hostAddress], conditions: { ready: true } }],
      ports,
    },
  ];
}

/** The user CoreDNS acts as, and what it may read (what its kubernetes plugin lists and watches). */
export const COREDNS_USER = 'reaper-flow:coredns';

export function corednsRbac(): readonly [unknown, unknown] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: COREDNS_USER },
      rules: [
        { apiGroups: [''], resources: ['services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: COREDNS_USER },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: COREDNS_USER },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: COREDNS_USER }],
    },
  ];
}
