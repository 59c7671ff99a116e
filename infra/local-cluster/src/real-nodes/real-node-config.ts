// Pure builders of a real node's configuration: containerd's config.toml, the CNI network and the
// KubeletConfiguration. Everything a node writes lives under its own root, except what the
// kubelet, containerd and libcni hard-code (see real-nodes.ts, which cleans those up).
import { join } from 'node:path';
import { RUNTIME_CLASS } from '../constants';

/** One real node: its name, the slot its bridge, subnet and cgroup root are numbered by, and its root dir. */
export interface RealNodeLayout {
  readonly name: string;
  /** 1..: `rf-br<slot>`, `10.222.<slot>.0/24`, cgroup `/rf-node-<slot>`. Unique on the machine. */
  readonly slot: number;
  readonly root: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly cgroupRoot: string;
  /** The CNI network's name (libcni's cache files in /var/lib/cni/results start with it). */
  readonly network: string;
  readonly containerdConfig: string;
  readonly containerdSocket: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly ipamDir: string;
  readonly kubeletRoot: string;
  readonly kubeletConfig: string;
  readonly kubeletKubeconfig: string;
  readonly certDir: string;
  readonly podLogsDir: string;
}

/** Where everything of real node `name` (slot `slot`) lives under `nodesRoot`. */
export function realNodeLayout(nodesRoot: string, name: string, slot: number): RealNodeLayout {
  const root = join(nodesRoot, name);
  return {
    name,
    slot,
    root,
    bridge: `rf-br${slot}`,
    subnet: `10.222.${slot}.0/24`,
    cgroupRoot: `/rf-node-${slot}`,
    network: `reaper-flow-${slot}`,
    containerdConfig: join(root, 'containerd/config.toml'),
    containerdSocket: join(root, 'containerd/containerd.sock'),
    containerdRoot: join(root, 'containerd/root'),
    containerdState: join(root, 'containerd/state'),
    runcRoot: join(root, 'containerd/runc'),
    cniConfDir: join(root, 'cni/net.d'),
    ipamDir: join(root, 'cni/ipam'),
    kubeletRoot: join(root, 'kubelet'),
    kubeletConfig: join(root, 'kubelet/config.yaml'),
    kubeletKubeconfig: join(root, 'kubelet/kubeconfig'),
    certDir: join(root, 'pki'),
    podLogsDir: join(root, 'pod-logs'),
  };
}

/** CNI plugins of Debian's containernetworking-plugins. */
export const CNI_BIN_DIR = '/usr/lib/cni';

/**
 * containerd 1.6's config: its own root, state, socket and runc root; the CRI with
 * `restrict_oom_score_adj` (root here lacks CAP_SYS_RESOURCE, so runc could not set the sandbox's
 * oom_score_adj of -998 and every sandbox failed), the local pause image as sandbox image, and the
 * `reaper-v2` handler mapped to runc (the Reaper shim is not published anywhere we can install from).
 */
export function containerdConfig(node: RealNodeLayout, pauseImage: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const runtime = (handler: string) => [
    `[${cri}.containerd.runtimes.${JSON.stringify(handler)}]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.${JSON.stringify(handler)}.options]`,
    '  SystemdCgroup = false',
    `  Root = ${JSON.stringify(node.runcRoot)}`,
  ];
  return [
    'version = 2',
    `root = ${JSON.stringify(node.containerdRoot)}`,
    `state = ${JSON.stringify(node.containerdState)}`,
    // Snapshotters this machine cannot use only log errors; the others are not needed.
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]',
    '[grpc]',
    `  address = ${JSON.stringify(node.containerdSocket)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${node.containerdSocket}.ttrpc`)}`,
    '[debug]',
    '  level = "warn"',
    `[plugins."io.containerd.internal.v1.opt"]`,
    `  path = ${JSON.stringify(join(node.root, 'containerd/opt'))}`,
    `[${cri}]`,
    `  sandbox_image = ${JSON.stringify(pauseImage)}`,
    '  restrict_oom_score_adj = true',
    '  disable_apparmor = true',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    ...runtime('runc'),
    ...runtime(RUNTIME_CLASS),
    `[${cri}.cni]`,
    `  bin_dir = ${JSON.stringify(CNI_BIN_DIR)}`,
    `  conf_dir = ${JSON.stringify(node.cniConfDir)}`,
    '  max_conf_num = 1',
    '',
  ].join('\n');
}

/**
 * The node's pod network: a bridge of its own with its own host-local subnet (the bridge is the
 * pods' gateway to the host). No IP masquerade: it would leave iptables rules behind, and pods
 * here only talk to the host.
 */
export function cniConfig(node: RealNodeLayout): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: node.network,
      plugins: [
        {
          type: 'bridge',
          bridge: node.bridge,
          isGateway: true,
          ipMasq: false,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: node.subnet }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: node.ipamDir,
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

export interface KubeletSettings {
  readonly caCert: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly port: number;
  readonly healthzPort: number;
  /** Seconds; the kubelet renews its Lease every quarter of it. */
  readonly leaseDurationSeconds: number;
  /** The nameserver of every Pod (the `kube-dns` Service's ClusterIP) and the cluster's domain. */
  readonly clusterDns: string;
  readonly clusterDomain: string;
}

/**
 * KubeletConfiguration (v1beta1, JSON is valid YAML) for one node: cgroupfs under its own cgroup
 * root (a shared root would let one kubelet's orphan cleanup kill another's pods), cgroup v1
 * allowed, swap allowed, client-CA + webhook authentication, webhook authorization, no read-only
 * port, image GC off (imported images cannot be pulled again), eviction thresholds near zero (a
 * busy test machine must not evict), and every path it writes below the node's root.
 */
export function kubeletConfig(node: RealNodeLayout, s: KubeletSettings): string {
  return `${JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      port: s.port,
      healthzPort: s.healthzPort,
      healthzBindAddress: '127.0.0.1',
      readOnlyPort: 0,
      tlsCertFile: s.servingCert,
      tlsPrivateKeyFile: s.servingKey,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: s.caCert },
      },
      authorization: { mode: 'Webhook' },
      cgroupDriver: 'cgroupfs',
      cgroupRoot: node.cgroupRoot,
      failCgroupV1: false,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${node.containerdSocket}`,
      imageServiceEndpoint: `unix://${node.containerdSocket}`,
      podLogsDir: node.podLogsDir,
      volumePluginDir: join(node.kubeletRoot, 'volume-plugins'),
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
      nodeLeaseDurationSeconds: s.leaseDurationSeconds,
      nodeStatusReportFrequency: '1m',
      maxPods: 30,
      clusterDNS: [s.clusterDns],
      clusterDomain: s.clusterDomain,
      resolvConf: '/etc/resolv.conf',
      serializeImagePulls: false,
      shutdownGracePeriod: '0s',
      logging: { format: 'text', verbosity: 1 },
    },
    null,
    2,
  )}\n`;
}
