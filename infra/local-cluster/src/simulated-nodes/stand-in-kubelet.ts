import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { ApiNode as Node, ApiPod as Pod, PodStatus } from '@reaper-flow/domain';
import { formatTime } from '@reaper-flow/domain';
import { ApiError, Informer, type KubeClient, type KubeObject, Resources } from '@reaper-flow/k8s';
import { DAEMON_JOB_LABEL, OVERLAY_ANNOTATION, RUNTIME_CLASS, SIMULATED_LABEL } from '../constants';
import { groupMembers, signalGroup, stopGroups } from '../control-plane/daemon';
import { faultKey, takeFault } from '../faults/faults';
import { type Logger, stderrLogger } from '../log';
import { nodeLayout, stateLayout } from '../paths';
import { removeDir } from '../pods/mounts';
import { ensureOverlayNamespace, stopHelper } from '../pods/overlay-namespace';
import { resolvePodConfig } from '../pods/pod-config';
import { containerArgv } from '../pods/pod-env';
import { PodLogWriter } from '../pods/pod-log';
import { killOrphanedPods, writePidFile } from '../pods/pod-pids';
import { detectSandbox, type SandboxMode, sandboxCommand } from '../pods/pod-sandbox';
import { ContainerConfigError } from '../pods/pod-sources';
import { exitedStatus, failedStatus, runningStatus, waitingStatus } from '../pods/pod-status';
import { KubeletLease, kubeletIdentity } from './kubelet-lease';
import type { KubeletTls, PodLogRef } from './kubelet-server';
import { KubeletServers } from './kubelet-servers';
import { NodeLeases } from './node-leases';

/** How soon a Pod start that met a transient API error is tried again. */
const START_RETRY_MS = 500;

const INJECTED_FAILURE = ['sh', '-c', 'echo injected failure >&2; exit 1'];
/** How long a pod waits for a ConfigMap/Secret it references to appear before it fails. */
const MISSING_OBJECT_GRACE_MS = 10_000;
const KILL_GRACE_MS = 2000;

export interface StandInKubeletOptions {
  readonly client: KubeClient;
  /** Node roots live in `<stateDir>/nodes/<node>/`. */
  readonly stateDir: string;
  readonly log?: Logger;
  /** Another kubelet holds the lease: 'fail' (default) throws KubeletConflictError, 'wait' waits for it. */
  readonly onConflict?: 'wait' | 'fail';
  /** Called after the kubelet stopped because another one took its lease. */
  readonly onLeaseLost?: () => void;
  /**
   * Certificates of the per-node kubelet API servers (logs). Default: the cluster's PKI in
   * `<stateDir>/pki` when it is there; without one no server is started (and `kubectl logs` fails).
   */
  readonly tls?: KubeletTls | undefined;
  /**
   * The Reaper state dir of a node (where its node agent keeps the overlays). Default
   * `<stateDir>/nodes/<node>/reaper`, the dir `npm run demo` gives each node's agent.
   */
  readonly reaperDirOf?: ((node: string) => string) | undefined;
  /**
   * Renew a Lease per simulated node in kube-node-lease (default false): needed where the
   * node-lifecycle controller runs (a cluster with real nodes), which otherwise marks them NotReady.
   */
  readonly nodeLeases?: boolean;
}

/** The kubelet TLS files of a local cluster's PKI dir, when they exist. */
export function kubeletTlsIn(pkiDir: string): KubeletTls | undefined {
  const tls = {
    caCert: join(pkiDir, 'ca.crt'),
    cert: join(pkiDir, 'kubelet.crt'),
    key: join(pkiDir, 'kubelet.key'),
  };
  return Object.values(tls).every((f) => existsSync(f)) ? tls : undefined;
}

interface Entry {
  readonly uid: string;
  readonly node: string;
  pod: Pod;
  state: 'starting' | 'running' | 'done';
  /** Deletion requested (deletionTimestamp): stop the process, then remove the object. */
  deleting: boolean;
  /** The object is gone from the API. */
  gone: boolean;
  pgid?: number;
  /** Status writes of one pod, in order (a fast exit must not be overwritten by "Running"). */
  writes: Promise<void>;
  /** The container's log while this kubelet writes it. */
  log?: PodLogWriter;
}

/**
 * Dev/test stand-in for a kubelet: runs the first container's command of Pods with runtimeClassName
 * reaper-v2 bound to simulated Nodes as local processes (isolated in their own mount and UTS
 * namespace when possible) and reports their lifecycle through pods/status. A Lease keeps it a
 * singleton per cluster.
 *
 * Guarantees: a pod in a terminal phase is never run again; a pod found Running at start-up (its
 * process belonged to a previous kubelet, now gone or stopped) is marked Failed "kubelet restarted";
 * a pod is otherwise run at most once per kubelet, at least once across kubelet crashes.
 */
export class StandInKubelet {
  private readonly nodes = new Set<string>();
  /** Uids of the simulated nodes, for their Leases' owner references. */
  private readonly nodeUids = new Map<string, string>();
  private nodeLeases: NodeLeases | undefined;
  /** Our pods bound to a node not (yet) known as simulated, by uid. */
  private readonly waiting = new Map<string, Pod>();
  private readonly pods = new Map<string, Entry>();
  private readonly lease: KubeletLease;
  private readonly log: Logger;
  private sandbox: SandboxMode = 'direct';
  /** The kubelet API server of each simulated node (undefined: no certificates). */
  private servers: KubeletServers | undefined;
  /** Records of the overlay namespace helpers this kubelet used (stopped with it). */
  private readonly helpers = new Set<string>();
  private stopping = false;
  /** The node and pod informers, stopped with the kubelet. */
  private readonly informers: Pick<Informer<KubeObject>, 'stop'>[] = [];

  private constructor(private readonly opts: StandInKubeletOptions) {
    this.log = opts.log ?? stderrLogger('stand-in-kubelet');
    this.lease = new KubeletLease(opts.client, kubeletIdentity());
  }

  /** Takes the lease, then resolves once the current nodes and pods have been listed and acted on. */
  static async start(opts: StandInKubeletOptions): Promise<StandInKubelet> {
    const kubelet = new StandInKubelet(opts);
    await kubelet.lease.acquire(opts.onConflict ?? 'fail');
    kubelet.lease.keepRenewing((reason) => {
      kubelet.log(`lost the kubelet lease (${reason}); stopping`);
      void kubelet.stop().then(() => opts.onLeaseLost?.());
    });
    kubelet.sandbox = detectSandbox(kubelet.log);
    const tls = opts.tls ?? kubeletTlsIn(stateLayout(opts.stateDir).pkiDir);
    if (tls) {
      kubelet.servers = new KubeletServers(
        opts.client,
        tls,
        (node) => (ns, pod) => kubelet.podLog(node, ns, pod),
        kubelet.log,
      );
    } else {
      kubelet.log('WARNING: no kubelet certificate: the kubelet API (kubectl logs) is not served');
    }
    // A predecessor that crashed may have left pod processes running: they are stopped, and their
    // pods are then marked Failed below like any Running pod without a process.
    await killOrphanedPods(stateLayout(opts.stateDir).nodesDir);
    await kubelet.watch(
      new Informer<Node>({
        kube: opts.client,
        resource: Resources.nodes,
        labelSelector: `${SIMULATED_LABEL}=true`,
        handler: async ({ type, object }) =>
          type === 'DELETED' ? kubelet.onNodeGone(object.metadata.name) : kubelet.onNode(object),
        onError: (err) => kubelet.log(`watch nodes failed (${(err as Error).message}); retrying`),
      }),
    );
    if (opts.nodeLeases) {
      kubelet.nodeLeases = new NodeLeases(opts.client, () => kubelet.nodeUids, kubelet.log);
      kubelet.nodeLeases.start();
    }
    await kubelet.watch(
      new Informer<Pod>({
        kube: opts.client,
        resource: Resources.pods,
        handler: async ({ type, object }) =>
          type === 'DELETED' ? kubelet.onPodGone(object) : kubelet.onPod(object),
        onError: (err) => kubelet.log(`watch pods failed (${(err as Error).message}); retrying`),
      }),
    );
    kubelet.log(
      `serving pods of runtimeClass ${RUNTIME_CLASS} on simulated nodes (sandbox: ${kubelet.sandbox})`,
    );
    return kubelet;
  }

  /** Stops watching, stops every pod process (SIGTERM, then SIGKILL) and releases the lease. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const watchesStopped = Promise.allSettled(this.informers.map((i) => i.stop()));
    this.lease.stopRenewing();
    this.nodeLeases?.stop();
    await stopGroups(this.runningGroups(), KILL_GRACE_MS);
    for (const record of this.helpers) stopHelper(record);
    await watchesStopped;
    await this.servers?.close();
    await this.lease.release().catch((err: Error) => this.log(`releasing the lease: ${err.message}`));
  }

  /**
   * Starts `informer` (stopped with the kubelet) and waits for its first list; a first list that
   * fails fails the start.
   */
  private async watch<T extends KubeObject>(informer: Informer<T>): Promise<void> {
    this.informers.push(informer);
    informer.start();
    try {
      await informer.whenSynced({ failOnError: true });
    } catch (err) {
      await informer.stop();
      throw err;
    }
  }

  /** For process exit handlers (cannot await): SIGKILL every pod process now. */
  killNow(): void {
    for (const pgid of this.runningGroups()) signalGroup(pgid, 'SIGKILL');
    for (const record of this.helpers) stopHelper(record);
  }

  private runningGroups(): number[] {
    return [...this.pods.values()].flatMap((e) => (e.state === 'running' && e.pgid ? [e.pgid] : []));
  }

  private onNode(node: Node): void {
    const name = node.metadata.name;
    this.nodes.add(name);
    if (node.metadata.uid) this.nodeUids.set(name, node.metadata.uid);
    this.servers?.serve(node);
    for (const [uid, pod] of this.waiting) {
      if (pod.spec.nodeName === name) {
        this.waiting.delete(uid);
        this.onPod(pod);
      }
    }
  }

  private onNodeGone(name: string): void {
    this.nodes.delete(name);
    this.nodeUids.delete(name);
    this.servers?.remove(name);
  }

  /** The log of a pod of `node` this kubelet knows (running, or finished and not yet deleted). */
  private podLog(node: string, namespace: string, name: string): PodLogRef | undefined {
    for (const entry of this.pods.values()) {
      const meta = entry.pod.metadata;
      if (
        entry.node !== node ||
        entry.gone ||
        meta.name !== name ||
        (meta.namespace ?? 'default') !== namespace
      )
        continue;
      const path = nodeLayout(this.opts.stateDir, node).podLog(namespace, name);
      if (!entry.log && !existsSync(path)) return undefined;
      return { path, container: entry.pod.spec.containers[0]?.name ?? 'main', writer: entry.log };
    }
    return undefined;
  }

  private onPod(pod: Pod): void {
    const uid = pod.metadata.uid;
    const node = pod.spec.nodeName;
    // Another runtime class, or not bound: not ours (such pods stay Pending).
    if (!uid || !node || pod.spec.runtimeClassName !== RUNTIME_CLASS || this.stopping) return;
    const known = this.pods.get(uid);
    if (known) {
      known.pod = pod;
      if (pod.metadata.deletionTimestamp) this.terminate(known);
      return;
    }
    if (!this.nodes.has(node)) {
      this.waiting.set(uid, pod);
      return;
    }
    this.waiting.delete(uid);
    const entry: Entry = {
      uid,
      node,
      pod,
      state: 'starting',
      deleting: false,
      gone: false,
      writes: Promise.resolve(),
    };
    this.pods.set(uid, entry);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      entry.state = 'done';
    } else if (phase === 'Running') {
      entry.state = 'done';
      this.writeStatus(
        entry,
        failedStatus(pod, {
          reason: 'KubeletRestarted',
          message: 'kubelet restarted: the container process of this pod is gone',
          exitCode: 137,
        }),
      );
    } else if (!pod.metadata.deletionTimestamp) {
      void this.run(entry);
      return;
    }
    if (pod.metadata.deletionTimestamp) this.terminate(entry);
  }

  private onPodGone(pod: Pod): void {
    const uid = pod.metadata.uid ?? '';
    this.waiting.delete(uid);
    const entry = this.pods.get(uid);
    if (!entry) return;
    entry.gone = true;
    this.terminate(entry);
  }

  /** Deletion: stop the process if any; once it is gone, finish the deletion. */
  private terminate(entry: Entry): void {
    const first = !entry.deleting;
    entry.deleting = true;
    if (entry.state === 'running' && entry.pgid && first) {
      const pgid = entry.pgid;
      signalGroup(pgid, 'SIGTERM');
      setTimeout(() => {
        if (groupMembers(pgid).length > 0) signalGroup(pgid, 'SIGKILL');
      }, KILL_GRACE_MS).unref();
    } else if (entry.state === 'done' && (first || entry.gone)) {
      void this.finishDeletion(entry);
    }
    // 'starting': run() sees `deleting` before it spawns anything.
  }

  /** As a kubelet finishing termination: remove the object (grace 0) and the pod's files. */
  private async finishDeletion(entry: Entry): Promise<void> {
    const { name, namespace } = entry.pod.metadata;
    try {
      if (!entry.gone) {
        await entry.writes;
        await this.opts.client.delete(Resources.pods, name, {
          namespace,
          gracePeriodSeconds: 0,
          preconditions: { uid: entry.uid },
        });
      }
      await removeDir(nodeLayout(this.opts.stateDir, entry.node).podDir(entry.uid));
    } catch (err) {
      if (!(err instanceof ApiError && (err.code === 'NotFound' || err.code === 'Conflict'))) {
        this.log(`finishing deletion of ${namespace}/${name}: ${(err as Error).message}`);
      }
    }
    if (entry.gone) this.pods.delete(entry.uid);
  }

  private async run(entry: Entry): Promise<void> {
    const { pod, node } = entry;
    const ns = pod.metadata.namespace ?? 'default';
    const where = `${node} ${ns}/${pod.metadata.name}`;
    const layout = nodeLayout(this.opts.stateDir, node);
    try {
      const container = pod.spec.containers[0];
      if (!container?.command?.length) {
        throw new ContainerConfigError(
          'the stand-in kubelet runs spec.containers[0].command (images are not pulled): set command',
          false,
        );
      }
      const podDir = layout.podDir(entry.uid);
      const { env, mounts } = await resolvePodConfig({
        client: this.opts.client,
        pod: () => entry.pod,
        node,
        podDir,
        hostDir: layout.hostDir,
        log: this.log,
        graceMs: MISSING_OBJECT_GRACE_MS,
        cancelled: () => entry.deleting || this.stopping,
        onWaiting: (message) =>
          this.writeStatus(
            entry,
            waitingStatus(entry.pod, { reason: 'CreateContainerConfigError', message }),
          ),
      });
      if (entry.deleting || this.stopping) return this.settle(entry);
      const job = pod.metadata.labels?.[DAEMON_JOB_LABEL] ?? pod.metadata.name;
      const injected = await takeFault(this.opts.client, faultKey(ns, job, node));
      if (injected) this.log(`${where}: injecting a failure for job ${job}`);
      const argv = injected ? INJECTED_FAILURE : containerArgv(container, env);
      await Promise.all(
        [layout.rootfs, layout.logsDir, layout.runDir, join(podDir, 'tmp')].map((d) =>
          mkdir(d, { recursive: true }),
        ),
      );
      const overlayName = pod.metadata.annotations?.[OVERLAY_ANNOTATION];
      const overlay = overlayName
        ? await ensureOverlayNamespace({
            reaperDir: this.opts.reaperDirOf?.(node) ?? layout.reaperDir,
            runDir: layout.runDir,
            namespace: ns,
            name: overlayName,
          })
        : undefined;
      if (overlay) this.helpers.add(overlay.record);
      const cmd = sandboxCommand({
        mode: this.sandbox,
        overlay: overlay && { helperPid: overlay.pid, mergedDir: overlay.mergedDir },
        node,
        nodeRoot: layout.root,
        rootfs: layout.rootfs,
        tmpDir: join(podDir, 'tmp'),
        mounts,
        workingDir: container.workingDir,
        argv,
      });
      if (entry.deleting || this.stopping) return this.settle(entry);
      const log = await PodLogWriter.create(layout.podLog(ns, pod.metadata.name));
      if (entry.deleting || this.stopping) {
        log.close();
        return this.settle(entry);
      }
      const startedAt = formatTime(Date.now());
      // Through pipes into the CRI log (not the file directly): each line gets its time and stream.
      const child = spawn(cmd.command, cmd.args, {
        cwd: cmd.cwd,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      entry.log = log;
      if (child.stdout && child.stderr) {
        log.attach(child.stdout, 'stdout');
        log.attach(child.stderr, 'stderr');
      } else {
        log.close();
      }
      child.once('error', (err) => this.onExit(entry, startedAt, { exitCode: 128, error: err.message }));
      child.once('exit', (code, signal) => {
        const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
        this.onExit(entry, startedAt, { exitCode });
      });
      if (!child.pid) return;
      // All synchronous up to the status write: the exit handler cannot run before "Running" is
      // queued, so a fast exit's status always comes after it.
      entry.pgid = child.pid;
      entry.state = 'running';
      writePidFile(layout.pidFile(entry.uid), child.pid);
      this.writeStatus(entry, runningStatus(pod, startedAt));
      this.log(`${where}: started (pid ${child.pid})`);
    } catch (err) {
      if (err instanceof ApiError && err.transient && !entry.deleting && !this.stopping) {
        // The API server was away (restarting, overloaded): a kubelet retries the start, it does not
        // fail the Pod for it.
        this.log(`${where}: start interrupted (${err.message}); retrying`);
        await new Promise((r) => setTimeout(r, START_RETRY_MS));
        return this.run(entry);
      }
      const config = err instanceof ContainerConfigError;
      this.log(`${where}: cannot start: ${(err as Error).message}`);
      this.writeStatus(
        entry,
        failedStatus(pod, {
          reason: config ? 'CreateContainerConfigError' : 'StartError',
          message: (err as Error).message,
          exitCode: 128,
        }),
      );
      this.settle(entry);
    }
  }

  private onExit(entry: Entry, startedAt: string, exit: { exitCode: number; error?: string }): void {
    if (entry.state === 'done') return;
    const where = `${entry.node} ${entry.pod.metadata.namespace}/${entry.pod.metadata.name}`;
    this.log(`${where}: exited with code ${exit.exitCode}${exit.error ? ` (${exit.error})` : ''}`);
    void rm(nodeLayout(this.opts.stateDir, entry.node).pidFile(entry.uid), { force: true });
    // On shutdown the pod keeps its Running status; the next kubelet marks it "kubelet restarted".
    if (!this.stopping && !entry.deleting) {
      const finishedAt = formatTime(Date.now());
      this.writeStatus(
        entry,
        exit.error
          ? failedStatus(entry.pod, { reason: 'StartError', message: exit.error, exitCode: 128 })
          : exitedStatus(entry.pod, { exitCode: exit.exitCode, startedAt, finishedAt }),
      );
    }
    this.settle(entry);
  }

  /** The pod will not run (again): finish a pending deletion if there is one. */
  private settle(entry: Entry): void {
    entry.state = 'done';
    if (entry.deleting) void this.finishDeletion(entry);
  }

  private writeStatus(entry: Entry, status: PodStatus): void {
    const { name, namespace } = entry.pod.metadata;
    entry.writes = entry.writes.then(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.opts.client.patch(
            Resources.pods,
            name,
            'merge',
            { status },
            { namespace, subresource: 'status' },
          );
          return;
        } catch (err) {
          if (err instanceof ApiError && err.code === 'NotFound') return;
          if (!(err instanceof ApiError && err.transient) || attempt >= 5 || this.stopping) {
            this.log(`status of ${namespace}/${name}: ${(err as Error).message}`);
            return;
          }
          await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        }
      }
    });
  }
}
