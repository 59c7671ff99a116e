import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ApiNode as Node } from '@reaper-flow/domain';
import { ApiError, KubeClient, Resources } from '@reaper-flow/k8s';
import { RUNTIME_CLASS } from './constants';
import { ensureBinaries, ensureRedisSentinel, ensureRedisServer } from './control-plane/binaries';
import { startClusterServices } from './control-plane/cluster-services';
import {
  apiserverSpec,
  controllerManagerSpec,
  etcdSpec,
  type Ports,
  type ProcessSpec,
  redisSpec,
  schedulerSpec,
} from './control-plane/control-plane';
import { isAlive, killGroupsNow, type SpawnedDaemon, spawnDaemon } from './control-plane/daemon';
import { writeKubeconfig } from './control-plane/kubeconfig';
import { createPki } from './control-plane/pki';
import { freePorts } from './control-plane/ports';
import {
  apiserverReady,
  componentHealthy,
  etcdHealthy,
  redisPing,
  waitReady,
} from './control-plane/readiness';
import {
  CLUSTER_NODES,
  type ClusterTopology,
  clusterNodeSpec,
  clusterReady,
  createCluster,
} from './control-plane/redis-cluster';
import {
  LOCAL_MASTER_NAME,
  type SentinelPorts,
  type SentinelTopology,
  sentinelSpecs,
  sentinelTopologyReady,
} from './control-plane/redis-sentinel';
import { stopLocalCluster } from './control-plane/teardown';
import { type Logger, stderrLogger } from './log';
import { defaultStateDir, stateLayout } from './paths';
import { realNodeLayout } from './real-nodes/real-node-config';
import { cgroupPids, hostAddress, ipForward } from './real-nodes/real-node-host';
import { ensureRealNodeDeps, realNodesRoot, startRealNodes } from './real-nodes/real-nodes';
import { KUBELET_LEASE, KUBELET_LEASE_NAMESPACE, kubeletIdentity } from './simulated-nodes/kubelet-lease';
import { addNode, isNodeReady, NOT_READY_TAINT } from './simulated-nodes/nodes';
import { StandInKubelet } from './simulated-nodes/stand-in-kubelet';
import { type ClusterState, type RealNodeRecord, readState, writeState } from './state';

export interface StartLocalClusterOptions {
  /** Default: $REAPER_FLOW_STATE_DIR or `<repo>/.reaper-flow/local`. */
  readonly stateDir?: string;
  /** Simulated nodes node-1..node-N to create, all Ready (default 0). */
  readonly nodes?: number;
  /** Run the stand-in kubelet (default true): in this process when attached, as a daemon when detached. */
  readonly withKubelet?: boolean;
  /**
   * false (default): the cluster belongs to this process and is killed when it exits (SIGINT, SIGTERM,
   * exit). true: daemons keep running after this process exits; `down` stops them.
   */
  readonly detach?: boolean;
  readonly log?: Logger;
  /**
   * `standalone` (default): one redis-server. `sentinel`: a primary (process `redis`), two replicas
   * and three sentinels, master name `reaper`; the apps find the primary through the sentinels.
   * `cluster`: a Redis Cluster of three primaries (the first is process `redis`) and three replicas.
   */
  readonly redis?: 'standalone' | 'sentinel' | 'cluster';
  /**
   * Real kubelet nodes real-1..real-N beside the simulated ones (default 0), each with its own
   * containerd, bridge and cgroup root (real-nodes.ts). With any, kube-controller-manager also runs
   * the node-lifecycle controller and the stand-in kubelet renews the simulated nodes' Leases.
   */
  readonly realNodes?: number;
}

export interface LocalCluster {
  readonly stateDir: string;
  readonly kubeconfigPath: string;
  /** The primary's URL (with Sentinel: the first primary, until a failover). */
  readonly redisUrl: string;
  /** With `redis: 'sentinel'`: the master name and the sentinels' addresses. */
  readonly redisSentinel: SentinelTopology | undefined;
  /** With `redis: 'cluster'`: the nodes' addresses. */
  readonly redisCluster: ClusterTopology | undefined;
  /** The environment an app needs to reach this Redis (REDIS_URL, and REDIS_MODE etc. with Sentinel or Cluster). */
  readonly redisEnv: Readonly<Record<string, string>>;
  readonly binDir: string;
  readonly apiserverUrl: string;
  /** Names of the real kubelet nodes (`realNodes`), all Ready when start-up resolved. */
  readonly realNodes: readonly string[];
  /** The in-process kubelet of an attached cluster started withKubelet. */
  readonly kubelet: StandInKubelet | undefined;
  /** Stops every process, removes the data dirs and state.json. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Brings up etcd, kube-apiserver, kube-controller-manager (garbage collector, namespace and
 * serviceaccount controllers), kube-scheduler and redis on free loopback ports with a fresh PKI, writes an admin
 * kubeconfig and state.json, creates the RuntimeClass reaper-v2, optional simulated nodes and the
 * stand-in kubelet. Resolves once everything answers; on failure everything started is stopped again
 * and the error carries the tail of the failing process's log.
 */
export async function startLocalCluster(opts: StartLocalClusterOptions = {}): Promise<LocalCluster> {
  const t0 = performance.now();
  const baseLog = opts.log ?? stderrLogger('cluster');
  const log: Logger = (m) => baseLog(`${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s ${m}`);
  const stateDir = resolve(opts.stateDir ?? defaultStateDir());
  const layout = stateLayout(stateDir);
  const detach = opts.detach ?? false;

  const previous = await readState(stateDir);
  if (previous?.processes.some(isAlive)) {
    throw new Error(`a cluster is already running in ${stateDir}: stop it first (npm run cluster -- down)`);
  }
  if (previous) await stopLocalCluster(stateDir, log);
  await rm(layout.logsDir, { recursive: true, force: true });
  await mkdir(layout.dataDir, { recursive: true });

  const withSentinel = opts.redis === 'sentinel';
  const withCluster = opts.redis === 'cluster';
  const realNodeCount = opts.realNodes ?? 0;
  // With real nodes the API server is also reached at the machine's address (the nodes' InternalIP):
  // Pods get there through the `kubernetes` Service.
  const host = realNodeCount > 0 ? hostAddress() : undefined;
  const [{ binDir, kubelet: kubeletBinary, coredns }, redisServer, redisSentinel, pki, portList] =
    await Promise.all([
      realNodeCount > 0
        ? ensureRealNodeDeps(log)
        : ensureBinaries().then((dir) => ({ binDir: dir, kubelet: undefined, coredns: undefined })),
      ensureRedisServer(log),
      withSentinel ? ensureRedisSentinel(log) : undefined,
      createPki(layout.pkiDir, host ? { hostAddress: host } : {}),
      freePorts(withSentinel ? 11 : withCluster ? 5 + 2 * CLUSTER_NODES : 6),
    ]);
  const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler, redis] = portList as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ports: Ports = { etcdClient, etcdPeer, apiserver, controllerManager, scheduler, redis };
  const etcdData = await mkdtemp(join(layout.dataDir, 'etcd-'));
  const redisData = await mkdtemp(join(layout.dataDir, 'redis-'));
  const apiserverUrl = `https://127.0.0.1:${ports.apiserver}`;
  const redisUrl = `redis://127.0.0.1:${ports.redis}`;
  const sentinelPorts: SentinelPorts | undefined = withSentinel
    ? {
        primary: ports.redis,
        replicas: portList.slice(6, 8) as [number, number],
        sentinels: portList.slice(8, 11) as [number, number, number],
      }
    : undefined;
  const redisSentinelTopology: SentinelTopology | undefined = sentinelPorts && {
    masterName: LOCAL_MASTER_NAME,
    sentinels: sentinelPorts.sentinels.map((p) => `127.0.0.1:${p}`),
  };
  // The first node is `ports.redis`; the other five follow the control plane's ports, then the
  // six cluster bus ports.
  const clusterPorts = withCluster ? [ports.redis, ...portList.slice(6, 5 + CLUSTER_NODES)] : undefined;
  const busPorts = portList.slice(5 + CLUSTER_NODES);
  const redisClusterTopology: ClusterTopology | undefined = clusterPorts && {
    nodes: clusterPorts.map((p) => `127.0.0.1:${p}`),
  };
  const redisEnv: Record<string, string> = redisSentinelTopology
    ? {
        REDIS_URL: redisUrl,
        REDIS_MODE: 'sentinel',
        REDIS_SENTINELS: redisSentinelTopology.sentinels.join(','),
        REDIS_MASTER_NAME: redisSentinelTopology.masterName,
      }
    : redisClusterTopology
      ? {
          REDIS_URL: redisUrl,
          REDIS_MODE: 'cluster',
          REDIS_CLUSTER_NODES: redisClusterTopology.nodes.join(','),
        }
      : { REDIS_URL: redisUrl };

  const state: ClusterState = {
    version: 1,
    stateDir,
    binDir,
    kubeconfigPath: layout.kubeconfig,
    redisUrl,
    apiserverUrl,
    ports,
    ...(redisSentinelTopology
      ? { redisSentinel: { ...redisSentinelTopology, sentinels: [...redisSentinelTopology.sentinels] } }
      : {}),
    ...(redisClusterTopology ? { redisCluster: { nodes: [...redisClusterTopology.nodes] } } : {}),
    processes: [],
    dataDirs: [layout.dataDir, layout.pkiDir, layout.nodesDir],
    kubelet: opts.withKubelet === false ? 'none' : detach ? 'daemon' : 'in-process',
    ...(realNodeCount > 0 ? { realNodes: [], ipForwardBefore: ipForward() } : {}),
    startedAt: new Date().toISOString(),
  };
  const realNodes: RealNodeRecord[] = [];
  const started: SpawnedDaemon[] = [];
  let kubelet: StandInKubelet | undefined;
  let client: KubeClient | undefined;
  const current = (): ClusterState => ({
    ...state,
    processes: started.map((d) => d.record),
    ...(realNodeCount > 0 ? { realNodes: [...realNodes] } : {}),
  });
  const start = async (spec: ProcessSpec): Promise<SpawnedDaemon> => {
    const daemon = await spawnDaemon(spec.name, spec.command, spec.args, {
      log: layout.logFile(spec.name),
      match: spec.match,
      detach,
    });
    started.push(daemon);
    // Recorded at once, so a start that dies half-way can still be cleaned up by `down`.
    await writeState(current());
    log(`${spec.name} started (pid ${daemon.record.pid})`);
    return daemon;
  };

  const detachHandlers = detach
    ? () => {}
    : killOnExit(
        () => started.map((d) => d.record.pid),
        () => kubelet,
        () => realNodes.map((n) => realNodeLayout(realNodesRoot(stateDir), n.name, n.slot).cgroupRoot),
      );
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await kubelet?.stop();
    client?.close();
    await stopLocalCluster(stateDir, log);
    detachHandlers();
  };

  try {
    const etcd = await start(etcdSpec(binDir, ports, etcdData));
    const redisDaemon = await start(
      clusterPorts
        ? clusterNodeSpec(redisServer, 0, { port: ports.redis, busPort: busPorts[0] as number }, redisData)
        : redisSpec(redisServer, ports.redis, redisData),
    );
    if (clusterPorts) {
      for (const [i, port] of clusterPorts.entries()) {
        if (i === 0) continue;
        const dir = await mkdtemp(join(layout.dataDir, 'redis-'));
        await start(clusterNodeSpec(redisServer, i, { port, busPort: busPorts[i] as number }, dir));
      }
    }
    if (sentinelPorts && redisSentinel) {
      const dirs = async (kind: string, n: number) =>
        Promise.all(Array.from({ length: n }, () => mkdtemp(join(layout.dataDir, `${kind}-`))));
      const specs = await sentinelSpecs(redisServer, redisSentinel, sentinelPorts, {
        primary: redisData,
        replicas: await dirs('redis-replica', 2),
        sentinels: await dirs('redis-sentinel', 3),
      });
      // specs[0] is the primary, started above.
      for (const spec of specs.slice(1)) await start(spec);
    }
    await waitReady('etcd', () => etcdHealthy(`http://127.0.0.1:${ports.etcdClient}`), {
      log: etcd.record.log,
      child: etcd.child,
      timeoutMs: 30_000,
    });

    const api = await start(apiserverSpec(binDir, ports, pki, host ? { hostAddress: host } : {}));
    await Promise.all([
      writeKubeconfig(layout.kubeconfig, {
        server: apiserverUrl,
        caCert: pki.caCert,
        clientCert: pki.adminCert,
        clientKey: pki.adminKey,
        user: 'admin',
      }),
      writeKubeconfig(layout.controllerManagerKubeconfig, {
        server: apiserverUrl,
        caCert: pki.caCert,
        clientCert: pki.controllerManagerCert,
        clientKey: pki.controllerManagerKey,
        user: 'system:kube-controller-manager',
      }),
      writeKubeconfig(layout.schedulerKubeconfig, {
        server: apiserverUrl,
        caCert: pki.caCert,
        clientCert: pki.schedulerCert,
        clientKey: pki.schedulerKey,
        user: 'system:kube-scheduler',
      }),
    ]);
    const admin = await KubeClient.create({ kubeconfigPath: layout.kubeconfig, requestTimeoutMs: 10_000 });
    client = admin;
    await waitReady('kube-apiserver', () => apiserverReady(admin), {
      log: api.record.log,
      child: api.child,
      timeoutMs: 120_000,
    });
    log(`kube-apiserver ready at ${apiserverUrl}`);

    // Started only now: it gives up when the API server is not healthy within a few seconds.
    const cm = await start(
      controllerManagerSpec(binDir, ports, layout.controllerManagerKubeconfig, pki, {
        nodeLifecycle: realNodeCount > 0,
        workloads: realNodeCount > 0,
      }),
    );
    const sched = await start(schedulerSpec(binDir, ports, layout.schedulerKubeconfig));
    const withKubelet = opts.withKubelet !== false;
    const kubeletDaemon =
      withKubelet && detach
        ? await start(kubeletDaemonSpec(stateDir, layout.kubeconfig, realNodeCount > 0))
        : undefined;
    // The rest is independent: done concurrently, since start-up time is what a developer waits for.
    await Promise.all([
      ensureRuntimeClass(admin),
      waitReady('redis', () => redisPing(redisUrl), {
        log: redisDaemon.record.log,
        child: redisDaemon.child,
        timeoutMs: 30_000,
      }).then(
        () =>
          (sentinelPorts &&
            waitReady('redis sentinels', () => sentinelTopologyReady(sentinelPorts), {
              log: layout.logFile('redis-sentinel-1'),
              timeoutMs: 60_000,
            })) ||
          (clusterPorts &&
            (async () => {
              for (const port of clusterPorts.slice(1))
                await waitReady('redis cluster node', () => redisPing(`redis://127.0.0.1:${port}`), {
                  log: redisDaemon.record.log,
                  timeoutMs: 30_000,
                });
              await createCluster(clusterPorts);
              await waitReady('redis cluster', () => clusterReady(clusterPorts), {
                log: redisDaemon.record.log,
                timeoutMs: 60_000,
              });
            })()),
      ),
      // Pods need their namespace's `default` ServiceAccount (ServiceAccount admission): its
      // appearance shows the controller manager runs and its controllers can act.
      waitReady(
        'kube-controller-manager',
        async () => !!(await admin.get(Resources.serviceAccounts, 'default', { namespace: 'default' })),
        { log: cm.record.log, child: cm.child, timeoutMs: 60_000 },
      ),
      waitReady('kube-scheduler', () => componentHealthy(ports.scheduler), {
        log: sched.record.log,
        child: sched.child,
        timeoutMs: 60_000,
      }),
      kubeletDaemon &&
        waitReady('stand-in-kubelet', () => holdsLease(admin, kubeletIdentity(kubeletDaemon.record.pid)), {
          log: kubeletDaemon.record.log,
          child: kubeletDaemon.child,
          timeoutMs: 60_000,
        }),
      withKubelet &&
        !detach &&
        StandInKubelet.start({
          client: admin,
          stateDir,
          log: stderrLogger('stand-in-kubelet'),
          nodeLeases: realNodeCount > 0,
        }).then((k) => {
          kubelet = k;
        }),
      host &&
        kubeletBinary &&
        startRealNodes({
          count: realNodeCount,
          stateDir,
          pkiDir: layout.pkiDir,
          apiserverUrl,
          kubelet: kubeletBinary,
          hostAddress: host,
          start,
          record: async (node) => {
            realNodes.push(node);
            await writeState(current());
          },
          log,
        }).then(async (nodes) => {
          await Promise.all([
            ...nodes.map((n) => waitRealNodeReady(admin, n.name)),
            // Once the kubelets run (their Nodes register at once): kube-proxy reads its Node's
            // addresses at start, waiting up to 30 s for it to exist.
            coredns &&
              startClusterServices({
                client: admin,
                binDir,
                coredns,
                pkiDir: layout.pkiDir,
                dir: join(layout.dataDir, 'services'),
                apiserverUrl,
                hostAddress: host,
                nodeName: nodes[0]?.name ?? 'real-1',
                start,
                log,
              }),
          ]);
          log(`real nodes Ready: ${nodes.map((n) => n.name).join(', ')}`);
        }),
      (async () => {
        for (let i = 1; i <= (opts.nodes ?? 0); i++) await addNode(admin, { name: `node-${i}` });
      })(),
    ]);
    await writeState(current());
    if (detach) admin.close();
    log(
      `cluster up: KUBECONFIG=${layout.kubeconfig} ${Object.entries(redisEnv)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  } catch (err) {
    log(`start-up failed; stopping what was started`);
    await stop().catch((e: Error) => log(`cleanup after failed start-up: ${e.message}`));
    throw err;
  }

  return {
    stateDir,
    kubeconfigPath: layout.kubeconfig,
    redisUrl,
    redisSentinel: redisSentinelTopology,
    redisCluster: redisClusterTopology,
    redisEnv,
    binDir,
    apiserverUrl,
    realNodes: realNodes.map((n) => n.name),
    kubelet,
    stop,
  };
}

/** A real node is usable once its Node is Ready and the node-lifecycle controller lifted the not-ready taint. */
async function waitRealNodeReady(client: KubeClient, name: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const node = await client.get<Node>(Resources.nodes, name).catch(() => undefined);
    if (node && isNodeReady(node) && !(node.spec?.taints ?? []).some((t) => t.key === NOT_READY_TAINT))
      return;
    if (Date.now() > deadline) {
      throw new Error(
        `real node ${name} not Ready and untainted within 120 s: ${JSON.stringify(node?.status?.conditions ?? 'no Node')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Starts the stand-in kubelet daemon of a running (detached) cluster again, after it died. It takes
 * over once its predecessor's lease has expired, then marks pods that were Running "kubelet restarted".
 */
export async function restartKubeletDaemon(
  state: ClusterState,
  log: Logger = stderrLogger('cluster'),
): Promise<void> {
  const spec = kubeletDaemonSpec(state.stateDir, state.kubeconfigPath, (state.realNodes ?? []).length > 0);
  const daemon = await spawnDaemon(spec.name, spec.command, spec.args, {
    log: stateLayout(state.stateDir).logFile(spec.name),
    match: spec.match,
    detach: true,
  });
  await writeState({
    ...state,
    processes: [...state.processes.filter((p) => p.name !== 'stand-in-kubelet'), daemon.record],
  });
  log(`stand-in-kubelet restarted (pid ${daemon.record.pid}); it takes over when the old lease expires`);
  const admin = await KubeClient.create({ kubeconfigPath: state.kubeconfigPath });
  try {
    await waitReady('stand-in-kubelet', () => holdsLease(admin, kubeletIdentity(daemon.record.pid)), {
      log: daemon.record.log,
      child: daemon.child,
      timeoutMs: 60_000,
    });
  } finally {
    admin.close();
  }
}

/** Creates RuntimeClass reaper-v2 (handler reaper-v2) if it does not exist. */
export async function ensureRuntimeClass(client: KubeClient): Promise<void> {
  try {
    await client.create(Resources.runtimeClasses, {
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: RUNTIME_CLASS },
      handler: RUNTIME_CLASS,
    });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'AlreadyExists')) throw err;
  }
}

function kubeletDaemonSpec(stateDir: string, kubeconfig: string, nodeLeases: boolean): ProcessSpec {
  const main = fileURLToPath(new URL('./simulated-nodes/stand-in-kubelet-main.ts', import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return {
    name: 'stand-in-kubelet',
    command: process.execPath,
    args: [
      '--import',
      tsx,
      main,
      '--state-dir',
      stateDir,
      '--kubeconfig',
      kubeconfig,
      ...(nodeLeases ? ['--node-leases'] : []),
    ],
    match: 'stand-in-kubelet-main',
  };
}

async function holdsLease(client: KubeClient, identity: string): Promise<boolean> {
  const lease = await client.get<{ spec?: { holderIdentity?: string } }>(Resources.leases, KUBELET_LEASE, {
    namespace: KUBELET_LEASE_NAMESPACE,
  });
  return lease?.spec?.holderIdentity === identity;
}

/**
 * Ties an attached cluster to this process: on exit or a termination signal every daemon group and
 * pod is killed at once (handlers cannot await). Returns a function removing the handlers.
 */
function killOnExit(
  pids: () => number[],
  kubelet: () => StandInKubelet | undefined,
  realNodeCgroups: () => string[],
): () => void {
  const killAll = () => {
    kubelet()?.killNow();
    killGroupsNow(pids());
    // A real node's pods outlive its kubelet and containerd (their shims are not in its group).
    // Their bridges, cgroups and mounts need `down` with the state file.
    for (const root of realNodeCgroups()) {
      for (const pid of cgroupPids(root)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    remove();
    // Re-raise: with no other listener the process now ends as the signal intends.
    process.kill(process.pid, signal);
  };
  const remove = () => {
    process.off('exit', killAll);
    for (const s of signals) process.off(s, onSignal);
  };
  process.on('exit', killAll);
  for (const s of signals) process.on(s, onSignal);
  return remove;
}
