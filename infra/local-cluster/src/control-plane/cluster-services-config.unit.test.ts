import { describe, expect, it } from 'vitest';
import { CLUSTER_DNS_IP, corefile, kubeDnsObjects, kubeProxyConfig } from './cluster-services-config';

describe('cluster services configuration', () => {
  it('kube-proxy runs in nftables mode for the pod range and leaves the conntrack sysctls alone', () => {
    const config = JSON.parse(
      kubeProxyConfig({
        kubeconfig: '/s/kp.kubeconfig',
        nodeName: 'real-1',
        healthzPort: 41000,
        metricsPort: 41001,
      }),
    );
    expect(config).toEqual({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: '/s/kp.kubeconfig' },
      mode: 'nftables',
      clusterCIDR: '10.222.0.0/16',
      hostnameOverride: 'real-1',
      nodePortAddresses: ['primary'],
      healthzBindAddress: '127.0.0.1:41000',
      metricsBindAddress: '127.0.0.1:41001',
      conntrack: {
        maxPerCore: 0,
        min: 0,
        tcpEstablishedTimeout: '0s',
        tcpCloseWaitTimeout: '0s',
        udpTimeout: '0s',
        udpStreamTimeout: '0s',
      },
      logging: { format: 'text', verbosity: 1 },
    });
  });

  it('CoreDNS serves the cluster zones on the host address from the API server', () => {
    const text = corefile({
      hostAddress: '192.0.2.2',
      dnsPort: 41053,
      healthPort: 41054,
      readyPort: 41055,
      kubeconfig: '/s/coredns.kubeconfig',
    });
    expect(text.split('\n')).toEqual([
      'cluster.local:41053 in-addr.arpa:41053 ip6.arpa:41053 {',
      '  bind 192.0.2.2',
      '  errors',
      '  health 127.0.0.1:41054',
      '  ready 127.0.0.1:41055',
      '  kubernetes cluster.local in-addr.arpa ip6.arpa {',
      '    kubeconfig /s/coredns.kubeconfig',
      '    pods insecure',
      '    fallthrough in-addr.arpa ip6.arpa',
      '  }',
      '  cache 5',
      '}',
      '',
    ]);
  });

  it('the kube-dns Service maps port 53 to CoreDNS on the host through its EndpointSlice', () => {
    const [service, slice] = kubeDnsObjects('192.0.2.2', 41053) as [
      { spec: { clusterIP: string; ports: { name: string; port: number; targetPort: number }[] } },
      {
        metadata: { labels: Record<string, string> };
        endpoints: { addresses: string[] }[];
        ports: { name: string; port: number }[];
      },
    ];
    expect(service.spec.clusterIP).toBe(CLUSTER_DNS_IP);
    expect(service.spec.ports.map((p) => [p.name, p.port, p.targetPort])).toEqual([
      ['dns', 53, 41053],
      ['dns-tcp', 53, 41053],
    ]);
    expect(slice.metadata.labels['kubernetes.io/service-name']).toBe('kube-dns');
    expect(slice.endpoints).toEqual([{ addresses: ['192.0.2.2'], conditions: { ready: true } }]);
    expect(slice.ports.map((p) => [p.name, p.port])).toEqual([
      ['dns', 41053],
      ['dns-tcp', 41053],
    ]);
  });
});
