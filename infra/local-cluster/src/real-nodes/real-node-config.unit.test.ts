import { describe, expect, it } from 'vitest';
import { cniConfig, containerdConfig, kubeletConfig, realNodeLayout } from './real-node-config';

const node = realNodeLayout('/state/real-nodes', 'real-2', 7);
const settings = {
  caCert: '/state/pki/ca.crt',
  servingCert: '/state/pki/node-real-2-serving.crt',
  servingKey: '/state/pki/node-real-2-serving.key',
  port: 40001,
  healthzPort: 40002,
  leaseDurationSeconds: 20,
  clusterDns: '10.0.0.10',
  clusterDomain: 'cluster.local',
};

describe('real node configuration', () => {
  it('numbers the bridge, subnet, network and cgroup root by the slot', () => {
    expect(node).toMatchObject({
      root: '/state/real-nodes/real-2',
      bridge: 'rf-br7',
      subnet: '10.222.7.0/24',
      network: 'reaper-flow-7',
      cgroupRoot: '/rf-node-7',
    });
  });

  it('containerd maps reaper-v2 to runc, restricts oom_score_adj and keeps its state under the node root', () => {
    const toml = containerdConfig(node, 'localhost/reaper-flow/pause:v1');
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('sandbox_image = "localhost/reaper-flow/pause:v1"');
    expect(toml).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."reaper-v2"]');
    const paths = [...toml.matchAll(/^\s*(?:root|state|address|path|Root|conf_dir) = "([^"]*)"/gm)].map(
      (m) => m[1],
    );
    expect(paths.length).toBeGreaterThan(5);
    for (const p of paths) expect(p).toMatch(/^\/state\/real-nodes\/real-2\//);
  });

  it('the CNI network is the node bridge with host-local addresses from its subnet, kept under its root', () => {
    const net = JSON.parse(cniConfig(node));
    expect(net.name).toBe('reaper-flow-7');
    expect(net.plugins[0]).toMatchObject({
      type: 'bridge',
      bridge: 'rf-br7',
      ipMasq: false,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.222.7.0/24' }]],
        dataDir: '/state/real-nodes/real-2/cni/ipam',
      },
    });
  });

  it('the kubelet authenticates by client CA and webhook, runs no read-only port and no image GC', () => {
    const config = JSON.parse(kubeletConfig(node, settings));
    expect(config).toMatchObject({
      kind: 'KubeletConfiguration',
      port: 40001,
      healthzPort: 40002,
      readOnlyPort: 0,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: '/state/pki/ca.crt' },
      },
      authorization: { mode: 'Webhook' },
      cgroupDriver: 'cgroupfs',
      cgroupRoot: '/rf-node-7',
      failCgroupV1: false,
      failSwapOn: false,
      imageGCHighThresholdPercent: 100,
      containerRuntimeEndpoint: 'unix:///state/real-nodes/real-2/containerd/containerd.sock',
      podLogsDir: '/state/real-nodes/real-2/pod-logs',
      nodeLeaseDurationSeconds: 20,
      clusterDNS: ['10.0.0.10'],
      clusterDomain: 'cluster.local',
    });
  });
});
