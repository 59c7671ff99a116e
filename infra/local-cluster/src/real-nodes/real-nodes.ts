// Real kubelet nodes beside the simulated ones (`up --real-nodes N`): per node its own containerd
// (Debian's, with runc), CNI bridge and subnet, cgroup root, directories, certificates and ports,
// the local pause and placeholder images imported, and an upstream kubelet built from the same Go
// module as the control plane. Start-up; teardown is in real-node-teardown.ts, the host-side details
// in real-node-host.ts.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BUSYBOX,
  type BuiltImage,
  buildAppImages,
  buildNodeImages,
  isStaticElf,
  PAUSE_IMAGE,
} from '@reaper-flow/images';
import { REAL_NODE_LABEL } from '../constants';
import { ensureBinaries, ensureCoreDns, ensureDebianPackages, onPath } from '../control-plane/binaries';
import { CLUSTER_DNS_IP, CLUSTER_DOMAIN } from '../control-plane/cluster-services-config';
import type { ProcessSpec } from '../control-plane/control-plane';
import { isAlive, type SpawnedDaemon } from '../control-plane/daemon';
import { writeKubeconfig } from '../control-plane/kubeconfig';
import { createNodeCertificates } from '../control-plane/pki';
import { freePorts } from '../control-plane/ports';
import type { Logger } from '../log';
import type { RealNodeRecord } from '../state';
import { CNI_BIN_DIR, cniConfig, containerdConfig, kubeletConfig, realNodeLayout } from './real-node-config';
import { createCgroupRoot, freeSlots } from './real-node-host';

const exec = promisify(execFile);

/** Kubelet Lease duration: renewed every 5 s, well inside the node-lifecycle controller's 20 s grace. */
const REAL_NODE_LEASE_SECONDS = 20;

/**
 * Installs what real nodes need when it is missing (Debian's containerd, runc, CNI plugins,
 * busybox-static for the placeholder image, gcc for the pause program, nftables for kube-proxy) and
 * builds kubelet and kube-proxy into the binary cache (with the control plane's binaries, if they
 * are missing too) and CoreDNS into its own. Returns their paths.
 */
export async function ensureRealNodeDeps(
  log: Logger,
): Promise<{ binDir: string; kubelet: string; coredns: string }> {
  await ensureDebianPackages(
    [
      {
        name: 'containerd',
        present: () => onPath('containerd') !== undefined && onPath('ctr') !== undefined,
      },
      { name: 'runc', present: () => onPath('runc') !== undefined },
      { name: 'containernetworking-plugins', present: () => existsSync(join(CNI_BIN_DIR, 'bridge')) },
      { name: 'busybox-static', present: () => staticBusybox() },
      { name: 'gcc', present: () => onPath('gcc') !== undefined },
      { name: 'libc6-dev', present: () => existsSync('/usr/lib/x86_64-linux-gnu/libc.a') },
      { name: 'iproute2', present: () => onPath('ip') !== undefined },
      // kube-proxy's nftables mode runs `nft`.
      { name: 'nftables', present: () => onPath('nft') !== undefined },
    ],
    log,
  );
  // One after the other: both compile Go, and two cold builds at once only thrash 2 cores.
  const binDir = await ensureBinaries(['kubelet', 'kube-proxy']);
  const coredns = await ensureCoreDns();
  return { binDir, kubelet: join(binDir, 'kubelet'), coredns };
}

function staticBusybox(): boolean {
  try {
    return isStaticElf(readFileSync(BUSYBOX));
  } catch {
    return false;
  }
}

export interface StartRealNodesOptions {
  readonly count: number;
  readonly stateDir: string;
  readonly pkiDir: string;
  readonly apiserverUrl: string;
  readonly kubelet: string;
  /** The machine's address: every node's InternalIP. */
  readonly hostAddress: string;
  /** Starts a process and records it in the cluster's state (so a failed start is cleaned up). */
  readonly start: (spec: ProcessSpec) => Promise<SpawnedDaemon>;
  /** Records a node in the state before it changes anything on the host. */
  readonly record: (node: RealNodeRecord) => Promise<void>;
  readonly log: Logger;
}

/** Where the real nodes' roots are: `<stateDir>/real-nodes/<name>`. */
export function realNodesRoot(stateDir: string): string {
  return join(stateDir, 'real-nodes');
}

/**
 * Starts real nodes `real-1..real-N`: host set-up, containerd, image import, kubelet. Resolves once
 * every kubelet process runs; its Node registers and turns Ready shortly after (the caller waits).
 */
export async function startRealNodes(opts: StartRealNodesOptions): Promise<RealNodeRecord[]> {
  const t0 = performance.now();
  const nodeIp = opts.hostAddress;
  const nodeImages = await buildNodeImages();
  opts.log(
    `node images built: ${nodeImages.pause.name} (${kb(nodeImages.pause)}), ${nodeImages.placeholder.name} (${kb(nodeImages.placeholder)})`,
  );
  // The app images and Redis (`npm run images`), under the names the Helm chart and the kustomize
  // base use by default, so their Pods start here with imagePullPolicy Never (nothing is pulled).
  const t1 = performance.now();
  const appImages = await buildAppImages({ log: opts.log });
  opts.log(
    `app images built in ${((performance.now() - t1) / 1000).toFixed(1)} s: ${appImages.images.map((i) => i.name).join(', ')}`,
  );
  // One tarball for the five: the layers the app images share are imported once.
  const images = [nodeImages.pause, nodeImages.placeholder, { path: appImages.allInOne }];
  const slots = freeSlots(opts.count);
  const ports = await freePorts(2 * opts.count);
  const records: RealNodeRecord[] = slots.map((slot, i) => ({
    name: `real-${i + 1}`,
    slot,
    root: join(realNodesRoot(opts.stateDir), `real-${i + 1}`),
    kubeletPort: ports[2 * i] ?? 0,
    healthzPort: ports[2 * i + 1] ?? 0,
  }));
  for (const r of records) await opts.record(r);
  await Promise.all(records.map((r) => startRealNode(r, nodeIp, images, opts)));
  opts.log(
    `${records.length} real node(s) started in ${((performance.now() - t0) / 1000).toFixed(1)} s (node IP ${nodeIp})`,
  );
  return records;
}

async function startRealNode(
  record: RealNodeRecord,
  nodeIp: string,
  images: readonly { readonly path: string }[],
  opts: StartRealNodesOptions,
): Promise<void> {
  const node = realNodeLayout(realNodesRoot(opts.stateDir), record.name, record.slot);
  for (const dir of [
    node.containerdRoot,
    node.containerdState,
    node.runcRoot,
    node.cniConfDir,
    node.ipamDir,
    node.kubeletRoot,
    node.podLogsDir,
  ])
    await mkdir(dir, { recursive: true });
  await writeFile(node.containerdConfig, containerdConfig(node, PAUSE_IMAGE));
  await writeFile(join(node.cniConfDir, '10-reaper-flow.conflist'), cniConfig(node));
  await createCgroupRoot(node.cgroupRoot);

  const containerd = await opts.start({
    name: `containerd-${record.name}`,
    command: onPath('containerd') ?? 'containerd',
    args: ['--config', node.containerdConfig],
    match: node.containerdConfig,
  });
  await waitFor(`containerd of ${record.name}`, containerd, async () => {
    await ctr(node.containerdSocket, ['version']);
    return true;
  });
  for (const image of images)
    await ctr(node.containerdSocket, ['-n', 'k8s.io', 'images', 'import', image.path], 120_000);

  const certs = await createNodeCertificates(opts.pkiDir, record.name, nodeIp);
  const caCert = join(opts.pkiDir, 'ca.crt');
  await writeKubeconfig(node.kubeletKubeconfig, {
    server: opts.apiserverUrl,
    caCert,
    clientCert: certs.clientCert,
    clientKey: certs.clientKey,
    user: `system:node:${record.name}`,
  });
  await writeFile(
    node.kubeletConfig,
    kubeletConfig(node, {
      caCert,
      servingCert: certs.servingCert,
      servingKey: certs.servingKey,
      port: record.kubeletPort,
      healthzPort: record.healthzPort,
      leaseDurationSeconds: REAL_NODE_LEASE_SECONDS,
      clusterDns: CLUSTER_DNS_IP,
      clusterDomain: CLUSTER_DOMAIN,
    }),
  );
  const kubelet = await opts.start({
    name: `kubelet-${record.name}`,
    command: opts.kubelet,
    args: [
      `--config=${node.kubeletConfig}`,
      `--kubeconfig=${node.kubeletKubeconfig}`,
      `--root-dir=${node.kubeletRoot}`,
      `--cert-dir=${node.certDir}`,
      `--node-ip=${nodeIp}`,
      `--hostname-override=${record.name}`,
      `--node-labels=${REAL_NODE_LABEL}=true`,
    ],
    match: `--root-dir=${node.kubeletRoot}`,
  });
  await waitFor(`kubelet of ${record.name}`, kubelet, async () => {
    const res = await fetch(`http://127.0.0.1:${record.healthzPort}/healthz`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  });
}

/** Runs Debian's ctr against one node's containerd. */
export async function ctr(socket: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await exec('ctr', ['--address', socket, ...args], { timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`ctr ${args.join(' ')} failed: ${stderr.trim() || (err as Error).message}`, {
      cause: err,
    });
  }
}

async function waitFor(what: string, daemon: SpawnedDaemon, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = 'not ready yet';
  for (;;) {
    if (!isAlive(daemon.record)) {
      throw new Error(`${what} exited; the end of ${daemon.record.log}:\n${await tailOf(daemon.record.log)}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not ready after 60 s (${last}); see ${daemon.record.log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tailOf(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-30).join('\n');
}

function kb(image: BuiltImage): string {
  return `${Math.round(image.size / 1024)} KiB`;
}
