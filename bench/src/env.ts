// Where the bench runs: its own local cluster in a temp state dir (default), or the cluster of
// KUBECONFIG + REDIS_URL when both are set. The stand-in kubelet runs as a child process of the
// bench (so its CPU is measured apart), unless a live one already serves an external cluster.
import { chown, copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApiError, KubeClient, Resources } from '@reaper-flow/k8s';
import {
  applyCrds,
  defaultStateDir,
  ensureRuntimeClass,
  type LocalCluster,
  REPO_ROOT,
  readState,
  removeDir,
  startLocalCluster,
} from '@reaper-flow/local-cluster';
import { createRedis } from '@reaper-flow/queue';
import type { Redis } from 'ioredis';
import { ChildApp } from './child';
import { progress } from './progress';

export interface ClusterProcess {
  readonly name: string;
  readonly pid: number;
}

export interface BenchEnv {
  readonly kubeconfigPath: string;
  readonly redisUrl: string;
  /** true: KUBECONFIG + REDIS_URL were given; nothing of the cluster is ours to stop. */
  readonly external: boolean;
  /** Admin client of the bench (watches, applies, metrics, the API floor). */
  readonly client: KubeClient;
  readonly redis: Redis;
  /** etcd, kube-apiserver, kube-controller-manager, redis: their CPU is read from /proc. */
  readonly clusterProcesses: readonly ClusterProcess[];
  /** The kubelet child, or undefined when an external one serves the cluster. */
  readonly kubelet: ChildApp | undefined;
  /** How pods run: plain processes, sandboxed, or up to an external kubelet. */
  readonly pods: string;
  stop(): Promise<void>;
  /** For a signal handler: kill what can be killed synchronously. */
  killNow(): void;
}

const KUBELET_LEASE = { name: 'stand-in-kubelet', namespace: 'kube-system' };

interface Lease {
  spec?: { holderIdentity?: string | null; renewTime?: string | null; leaseDurationSeconds?: number };
}

async function kubeletLease(client: KubeClient): Promise<Lease | undefined> {
  return client.get<Lease>(Resources.leases, KUBELET_LEASE.name, { namespace: KUBELET_LEASE.namespace });
}

function leaseFresh(lease: Lease | undefined): boolean {
  const spec = lease?.spec;
  if (!spec?.holderIdentity || !spec.renewTime) return false;
  return Date.parse(spec.renewTime) + (spec.leaseDurationSeconds ?? 15) * 1000 > Date.now();
}

/** nobody:nogroup: an unprivileged stand-in kubelet runs pods as plain processes (no sandbox). */
const NOBODY = 65534;

export interface EnvOptions {
  readonly resultsDir: string;
  readonly maxSockets: number;
  /**
   * Pods as plain processes: when the bench runs as root, the stand-in kubelet is started as
   * nobody, which makes it skip its mount/UTS-namespace sandbox (it needs root). The bench's pods
   * run /bin/true with no volumes, so nothing is lost but the sandbox's CPU, which would otherwise
   * compete with the control plane for the same cores.
   */
  readonly plainPods: boolean;
}

export async function startEnv(opts: EnvOptions): Promise<BenchEnv> {
  const log = (m: string) => progress.step(m);
  let cluster: LocalCluster | undefined;
  let tempDir: string | undefined;
  let kubeletDir: string | undefined;
  let kubeconfigPath: string;
  let redisUrl: string;
  let processes: ClusterProcess[] = [];
  const external = !!(process.env.KUBECONFIG && process.env.REDIS_URL);

  if (external) {
    kubeconfigPath = resolve(process.env.KUBECONFIG as string);
    redisUrl = process.env.REDIS_URL as string;
    log(`using the cluster of KUBECONFIG=${kubeconfigPath} and REDIS_URL=${redisUrl}`);
    const state = await readState(defaultStateDir()).catch(() => undefined);
    if (state && resolve(state.kubeconfigPath) === kubeconfigPath) {
      processes = state.processes.filter((p) => p.name !== 'stand-in-kubelet');
    }
  } else {
    tempDir = await mkdtemp(join(tmpdir(), 'reaper-flow-bench-'));
    log(`starting a local cluster in ${tempDir} (first run: builds the control plane, minutes)`);
    cluster = await progress.during(
      'cluster start',
      startLocalCluster({
        stateDir: tempDir,
        nodes: 0,
        withKubelet: false,
        log: (m) => log(`cluster: ${m}`),
      }),
    );
    ({ kubeconfigPath, redisUrl } = cluster);
    kubeletDir = tempDir;
    processes = ((await readState(tempDir))?.processes ?? []).map((p) => ({ name: p.name, pid: p.pid }));
  }

  const client = await KubeClient.create({
    kubeconfigPath,
    maxSockets: opts.maxSockets,
    userAgent: 'reaper-flow-bench',
  });
  const redis = createRedis({ url: redisUrl }, 'producer');
  let kubelet: ChildApp | undefined;
  let pods = 'external stand-in kubelet';
  const stop = async () => {
    await kubelet?.stop(10_000);
    client.close();
    redis.disconnect();
    await cluster?.stop();
    if (tempDir) await removeDir(tempDir).catch(() => undefined);
    if (kubeletDir && kubeletDir !== tempDir) await removeDir(kubeletDir).catch(() => undefined);
  };
  try {
    await ensureRuntimeClass(client);
    const crds = await applyCrds(client, join(REPO_ROOT, 'infra/crds'));
    log(`CRDs Established: ${crds.join(', ')}`);
    if (external && leaseFresh(await kubeletLease(client))) {
      log('a stand-in kubelet already serves this cluster: using it (its CPU is not measured)');
    } else {
      const unprivileged = opts.plainPods && process.getuid?.() === 0;
      if (unprivileged || !kubeletDir)
        kubeletDir = await mkdtemp(join(tmpdir(), 'reaper-flow-bench-kubelet-'));
      let kubeletKubeconfig = kubeconfigPath;
      if (unprivileged) {
        // Its own state dir and a copy of the admin kubeconfig, both owned by nobody.
        kubeletKubeconfig = join(kubeletDir, 'kubeconfig');
        await copyFile(kubeconfigPath, kubeletKubeconfig);
        await chown(kubeletDir, NOBODY, NOBODY);
        await chown(kubeletKubeconfig, NOBODY, NOBODY);
      }
      kubelet = await ChildApp.start({
        name: 'stand-in-kubelet',
        run: { tsxEntry: 'infra/local-cluster/src/simulated-nodes/stand-in-kubelet-main.ts' },
        args: ['--state-dir', kubeletDir, '--kubeconfig', kubeletKubeconfig],
        env: { ...process.env, KUBECONFIG: kubeletKubeconfig, ...(unprivileged ? { HOME: kubeletDir } : {}) },
        logFile: join(opts.resultsDir, 'stand-in-kubelet.log'),
        ...(unprivileged ? { uid: NOBODY, gid: NOBODY } : {}),
      });
      const identity = `stand-in-kubelet-${kubelet.pid}`;
      await kubelet.waitReady(
        60_000,
        async () => (await kubeletLease(client))?.spec?.holderIdentity === identity,
      );
      pods = unprivileged
        ? 'plain processes (stand-in kubelet as nobody)'
        : 'sandboxed (own mount + UTS namespace per pod)';
      log(
        `stand-in kubelet running (pid ${kubelet.pid}${unprivileged ? ', as nobody: pods are plain processes' : ', pods sandboxed'})`,
      );
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }

  return {
    kubeconfigPath,
    redisUrl,
    external,
    client,
    redis,
    clusterProcesses: processes,
    kubelet,
    pods,
    stop,
    killNow: () => kubelet?.killNow(),
  };
}

/** Creates a namespace and waits for its default ServiceAccount (Pods need it). */
export async function createNamespace(client: KubeClient, name: string): Promise<void> {
  try {
    await client.create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'reaper.io/bench': 'true' } },
    });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'AlreadyExists')) throw err;
  }
  const deadline = Date.now() + 60_000;
  while (!(await client.get(Resources.serviceAccounts, 'default', { namespace: name }))) {
    if (Date.now() > deadline) throw new Error(`no default ServiceAccount in namespace ${name} after 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
