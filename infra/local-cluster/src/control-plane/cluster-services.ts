// Services and DNS for Pods on real nodes: one upstream kube-proxy (nftables mode) and CoreDNS as
// processes on the host, each with a client certificate of its own, plus the `kube-dns` Service.
// Their configuration is built in cluster-services-config.ts; `down` stops both (recorded
// processes) and deletes kube-proxy's nftables tables (removeKubeProxyRules).
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeClient, ResourceRef } from '@reaper-flow/k8s';
import type { Logger } from '../log';
import { programRunning } from '../real-nodes/real-node-host';
import {
  COREDNS_USER,
  corednsRbac,
  corefile,
  KUBE_PROXY_NFT_TABLES,
  kubeDnsObjects,
  kubeProxyConfig,
} from './cluster-services-config';
import type { ProcessSpec } from './control-plane';
import type { SpawnedDaemon } from './daemon';
import { writeKubeconfig } from './kubeconfig';
import { createClientCertificate } from './pki';
import { freePorts } from './ports';
import { waitReady } from './readiness';

const exec = promisify(execFile);
const FIELD_MANAGER = 'reaper-flow-local-cluster';

const refs = {
  services: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  endpointSlices: {
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    kind: 'EndpointSlice',
    namespaced: true,
  },
  clusterRoles: {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterroles',
    kind: 'ClusterRole',
    namespaced: false,
  },
  clusterRoleBindings: {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    namespaced: false,
  },
} satisfies Record<string, ResourceRef>;

export interface StartClusterServicesOptions {
  readonly client: KubeClient;
  readonly binDir: string;
  readonly coredns: string;
  readonly pkiDir: string;
  /** Where their configuration files go. */
  readonly dir: string;
  readonly apiserverUrl: string;
  readonly hostAddress: string;
  /** A real node's name, for kube-proxy's node addresses. */
  readonly nodeName: string;
  readonly start: (spec: ProcessSpec) => Promise<SpawnedDaemon>;
  readonly log: Logger;
}

/**
 * Starts kube-proxy and CoreDNS and creates the `kube-dns` Service; resolves once kube-proxy
 * answers its health check and CoreDNS has synced with the API server.
 */
export async function startClusterServices(opts: StartClusterServicesOptions): Promise<void> {
  await mkdir(opts.dir, { recursive: true });
  const [proxyHealthz, proxyMetrics, dnsPort, dnsHealth, dnsReady] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const caCert = join(opts.pkiDir, 'ca.crt');
  const [proxyCert, dnsCert] = await Promise.all([
    // Bound by the bootstrap ClusterRoleBinding system:node-proxier.
    createClientCertificate(opts.pkiDir, 'kube-proxy', { cn: 'system:kube-proxy' }),
    createClientCertificate(opts.pkiDir, 'coredns', { cn: COREDNS_USER }),
  ]);
  const proxyKubeconfig = join(opts.dir, 'kube-proxy.kubeconfig');
  const dnsKubeconfig = join(opts.dir, 'coredns.kubeconfig');
  const proxyConfig = join(opts.dir, 'kube-proxy.yaml');
  const dnsCorefile = join(opts.dir, 'Corefile');
  await Promise.all([
    writeKubeconfig(proxyKubeconfig, {
      server: opts.apiserverUrl,
      caCert,
      clientCert: proxyCert.cert,
      clientKey: proxyCert.key,
      user: 'system:kube-proxy',
    }),
    writeKubeconfig(dnsKubeconfig, {
      server: opts.apiserverUrl,
      caCert,
      clientCert: dnsCert.cert,
      clientKey: dnsCert.key,
      user: COREDNS_USER,
    }),
    writeFile(
      proxyConfig,
      kubeProxyConfig({
        kubeconfig: proxyKubeconfig,
        nodeName: opts.nodeName,
        healthzPort: proxyHealthz,
        metricsPort: proxyMetrics,
      }),
    ),
    writeFile(
      dnsCorefile,
      corefile({
        hostAddress: opts.hostAddress,
        dnsPort,
        healthPort: dnsHealth,
        readyPort: dnsReady,
        kubeconfig: dnsKubeconfig,
      }),
    ),
  ]);
  const [role, binding] = corednsRbac();
  const [service, slice] = kubeDnsObjects(opts.hostAddress, dnsPort);
  await apply(opts.client, refs.clusterRoles, COREDNS_USER, role);
  await apply(opts.client, refs.clusterRoleBindings, COREDNS_USER, binding);
  await apply(opts.client, refs.services, 'kube-dns', service, 'kube-system');
  await apply(opts.client, refs.endpointSlices, 'kube-dns-host', slice, 'kube-system');

  const proxy = await opts.start({
    name: 'kube-proxy',
    command: join(opts.binDir, 'kube-proxy'),
    args: [`--config=${proxyConfig}`],
    match: proxyConfig,
  });
  const dns = await opts.start({
    name: 'coredns',
    command: opts.coredns,
    args: ['-conf', dnsCorefile],
    match: dnsCorefile,
  });
  await Promise.all([
    waitReady('kube-proxy', () => httpOk(`http://127.0.0.1:${proxyHealthz}/healthz`), {
      log: proxy.record.log,
      child: proxy.child,
      timeoutMs: 60_000,
    }),
    waitReady('coredns', () => httpOk(`http://127.0.0.1:${dnsReady}/ready`), {
      log: dns.record.log,
      child: dns.child,
      timeoutMs: 60_000,
    }),
  ]);
  opts.log(`kube-proxy (nftables) and CoreDNS (${opts.hostAddress}:${dnsPort}, Service kube-dns) ready`);
}

async function apply(
  client: KubeClient,
  ref: ResourceRef,
  name: string,
  body: unknown,
  namespace?: string,
): Promise<void> {
  await client.patch(ref, name, 'apply', body, {
    fieldManager: FIELD_MANAGER,
    ...(namespace ? { namespace } : {}),
  });
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/** kube-proxy's nftables tables still on the machine (`table ip kube-proxy`, ...). */
export function kubeProxyTables(): string[] {
  let out: string;
  try {
    out = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return [];
  }
  const present = new Set(out.split('\n').map((l) => l.trim()));
  return KUBE_PROXY_NFT_TABLES.map((t) => `table ${t.family} ${t.name}`).filter((t) => present.has(t));
}

/**
 * Deletes kube-proxy's nftables tables once no kube-proxy runs on the machine (a stopped
 * kube-proxy leaves its rules in place: they would keep translating ClusterIPs to dead Pods).
 */
export async function removeKubeProxyRules(): Promise<void> {
  if (programRunning('kube-proxy')) return;
  for (const table of kubeProxyTables()) {
    await exec('nft', ['delete', ...table.split(' ')]);
  }
}
