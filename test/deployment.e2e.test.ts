// reaper-flow deployed the way a user deploys it: `helm install` of infra/helm/reaper-flow into a
// local cluster of two real kubelet nodes (no simulated ones), with the images of `npm run images`
// (imagePullPolicy Never), Pods reaching the API server through the `kubernetes` Service and Redis
// and the dashboard by their Service names (kube-proxy, CoreDNS). Everything after the install
// goes through the deployed system only: objects in, status, Pod logs and the dashboard out.
// Last, the release is uninstalled and the kustomize tree (infra/deploy) installed in its place.
//
// Both real nodes share this machine, so the release keeps their host paths apart: the node
// agents' state dir is per node (nodeAgent.stateDirPerNode, kustomize's components/state-dir-per-node:
// <stateDir>/<node> on the host), and the Redis volume is a hostPath PersistentVolume of this
// cluster's own; every host path is under the cluster's state dir, removed with it.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KubeClient, type ResourceRef, Resources, type WatchEvent } from '@reaper-flow/k8s';
import {
  ensureHelm,
  type LocalCluster,
  REAL_NODE_LABEL,
  REPO_ROOT,
  startLocalCluster,
  stderrLogger,
} from '@reaper-flow/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { kubectl as runKubectl, waitFor } from './harness/index';
import { run } from './support/deploy-manifests';

const RELEASE = 'reaper-flow';
const SYSTEM = 'reaper-system';
const NAMESPACE = 'deploy-e2e';
const STORAGE_CLASS = 'rf-local-hostpath';

const apps = (plural: string, kind: string): ResourceRef => ({
  group: 'apps',
  version: 'v1',
  plural,
  kind,
  namespaced: true,
});
const refs = {
  deployments: apps('deployments', 'Deployment'),
  statefulSets: apps('statefulsets', 'StatefulSet'),
  daemonSets: apps('daemonsets', 'DaemonSet'),
  persistentVolumes: {
    group: '',
    version: 'v1',
    plural: 'persistentvolumes',
    kind: 'PersistentVolume',
    namespaced: false,
  } as ResourceRef,
};

interface Meta {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    generation?: number;
  };
}
interface Workload extends Meta {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    desiredNumberScheduled?: number;
    numberReady?: number;
    updatedNumberScheduled?: number;
  };
}
interface PodObj extends Meta {
  spec?: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface ReaperPodObj extends Meta {
  status?: { phase?: string; exitCode?: number; nodeName?: string };
}
interface DaemonJobObj extends Meta {
  status?: {
    phase?: string;
    nodeStatuses?: { nodeName: string; phase: string; exitCode?: number; attempts?: number }[];
  };
}
interface OverlayObj extends Meta {
  status?: {
    phase?: string;
    observedResetGeneration?: number;
    nodes?: { nodeName: string; resetGeneration?: number }[];
  };
}

/** Ready as `kubectl rollout status` means it: the controller saw this generation and every replica is updated and ready. */
function workloadReady(w: Workload): boolean {
  const s = w.status ?? {};
  if ((s.observedGeneration ?? 0) < (w.metadata.generation ?? 1)) return false;
  if (s.desiredNumberScheduled !== undefined) {
    return (
      s.desiredNumberScheduled > 0 &&
      s.numberReady === s.desiredNumberScheduled &&
      s.updatedNumberScheduled === s.desiredNumberScheduled
    );
  }
  const want = w.spec?.replicas ?? 1;
  return s.readyReplicas === want && s.updatedReplicas === want;
}

describe('deployed with Helm on real nodes', () => {
  let stateDir: string;
  let cluster: LocalCluster | undefined;
  let client: KubeClient | undefined;
  let realNodes: readonly string[] = [];
  const password = randomBytes(12).toString('hex');
  let helm = '';
  /** Every ReaperPod event of the test namespace, from a watch opened before the first object. */
  const reaperPodEvents: WatchEvent<ReaperPodObj>[] = [];
  const stopWatch = new AbortController();

  const kube = () => {
    if (!client) throw new Error('cluster not started');
    return client;
  };

  function kubectl(args: readonly string[]): ReturnType<typeof runKubectl> {
    if (!cluster) throw new Error('cluster not started');
    return runKubectl(args, { cluster });
  }

  /** What the release's Pods say, for a failure message. */
  async function releaseState(): Promise<string> {
    const out = await kubectl(['get', 'pods,pvc', '-n', SYSTEM, '-o', 'wide']);
    const events = await kubectl(['get', 'events', '-n', SYSTEM, '--sort-by=.lastTimestamp']);
    return `${out.stdout}${out.stderr}\n${events.stdout.split('\n').slice(-25).join('\n')}`;
  }

  async function watchReaperPods(): Promise<void> {
    let resourceVersion: string | undefined;
    while (!stopWatch.signal.aborted) {
      try {
        for await (const ev of kube().watch<ReaperPodObj>(Resources.reaperPods, {
          namespace: NAMESPACE,
          signal: stopWatch.signal,
          ...(resourceVersion ? { resourceVersion } : {}),
        })) {
          if (ev.type === 'BOOKMARK') {
            resourceVersion = ev.object.metadata.resourceVersion;
            continue;
          }
          reaperPodEvents.push(ev);
          resourceVersion = ev.object.metadata.resourceVersion;
        }
      } catch (err) {
        if (stopWatch.signal.aborted) return;
        // A watch the API server ended (or refused while the new CRD's watch cache starts) is
        // resumed from the last resourceVersion, after a pause so a refusal does not spin.
        stderrLogger('deployment')(`ReaperPod watch ended (${(err as Error).message}); resuming`);
        await delay(500);
      }
    }
  }

  /** The ReaperPods (by name) that were ever created, with how many times each name was ADDED. */
  function addedCounts(prefix: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const ev of reaperPodEvents) {
      if (ev.type !== 'ADDED' || !ev.object.metadata.name.startsWith(prefix)) continue;
      counts.set(ev.object.metadata.name, (counts.get(ev.object.metadata.name) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Redis's volume: a hostPath PersistentVolume of this cluster (no provisioner here) in a dir of
   * its own, owned by the Redis image's user (a hostPath volume gets no fsGroup).
   */
  async function createRedisVolume(name: string, subdir: string): Promise<void> {
    const path = join(stateDir, 'host-paths', subdir);
    await mkdir(path, { recursive: true });
    await chown(path, 999, 999);
    await kube().create(refs.persistentVolumes, {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        storageClassName: STORAGE_CLASS,
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path, type: 'Directory' },
      },
    });
  }

  /** The version of Debian's redis-server, the tag of the Redis image `npm run images` writes. */
  async function debianRedisVersion(): Promise<string> {
    const { stdout } = await promisify(execFile)('redis-server', ['--version']);
    const version = stdout.match(/\bv=(\d+\.\d+\.\d+)/)?.[1];
    if (!version) throw new Error(`unexpected redis-server --version: ${stdout}`);
    return version;
  }

  /** Every Deployment, StatefulSet and DaemonSet in the release namespace. */
  async function workloads(): Promise<Workload[]> {
    return (
      await Promise.all(
        [refs.deployments, refs.statefulSets, refs.daemonSets].map(
          async (ref) => (await kube().list<Workload>(ref, { namespace: SYSTEM })).items,
        ),
      )
    ).flat();
  }

  async function daemonJobDone(name: string, timeoutMs: number): Promise<DaemonJobObj> {
    let last: DaemonJobObj | undefined;
    return waitFor(
      async () => {
        last = await kube().get<DaemonJobObj>(Resources.reaperDaemonJobs, name, { namespace: NAMESPACE });
        const phase = last?.status?.phase;
        return phase === 'Completed' || phase === 'PartiallyFailed' || phase === 'Failed' ? last : undefined;
      },
      { description: `DaemonJob ${name} finished`, timeoutMs },
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}\nlast ${name}: ${JSON.stringify(last?.status)}\n${await releaseState()}`,
      );
    });
  }

  function examples(file: string): Map<string, Record<string, unknown>> {
    return examplesText.get(file) ?? new Map();
  }
  const examplesText = new Map<string, Map<string, Record<string, unknown>>>();

  // Warm: about a minute for the cluster (images rebuilt from cached layers and imported into both
  // nodes) and about a minute until the release is ready. Cold: apt-get, kubelet, kube-proxy and
  // CoreDNS compiled, helm compiled (minutes each on 2 cores).
  beforeAll(async () => {
    helm = await ensureHelm();
    for (const file of ['daemon-jobs.yaml', 'overlay.yaml']) {
      const byName = new Map<string, Record<string, unknown>>();
      for (const doc of parseAllDocuments(await readFile(join(REPO_ROOT, 'infra/examples', file), 'utf8'))) {
        const obj = doc.toJS() as Meta & { kind: string };
        if (obj) byName.set(`${obj.kind}/${obj.metadata.name}`, obj as unknown as Record<string, unknown>);
      }
      examplesText.set(file, byName);
    }
    stateDir = await mkdtemp(join(tmpdir(), 'reaper-flow-deployment-'));
    cluster = await startLocalCluster({
      stateDir,
      nodes: 0,
      realNodes: 2,
      withKubelet: false,
      log: stderrLogger('deployment'),
    });
    realNodes = cluster.realNodes;
    client = await KubeClient.create({ kubeconfigPath: cluster.kubeconfigPath });
    // The composable examples target `role: compute`.
    for (const node of realNodes)
      await kube().patch(Resources.nodes, node, 'merge', { metadata: { labels: { role: 'compute' } } });

    const hostPaths = join(stateDir, 'host-paths');
    await createRedisVolume('rf-redis-data', 'redis');
    const redisVersion = await debianRedisVersion();
    const install = await run(helm, [
      'install',
      RELEASE,
      join(REPO_ROOT, 'infra/helm/reaper-flow'),
      '--kubeconfig',
      cluster.kubeconfigPath,
      '--namespace',
      SYSTEM,
      '--create-namespace',
      '--set',
      [
        'watcher.image.pullPolicy=Never',
        'scheduler.image.pullPolicy=Never',
        'nodeAgent.image.pullPolicy=Never',
        'redis.bundled.image.repository=reaper-flow/redis',
        `redis.bundled.image.tag=${redisVersion}`,
        'redis.bundled.image.pullPolicy=Never',
        `redis.bundled.storage.storageClassName=${STORAGE_CLASS}`,
        'redis.bundled.storage.size=1Gi',
        // The local cluster made it already (cluster-scoped, one per cluster).
        'runtimeClass.create=false',
        `nodeAgent.stateDir=${join(hostPaths, 'reaper')}`,
        'nodeAgent.stateDirPerNode=true',
        `dashboard.password=${password}`,
        // A DaemonJob failure must show at once, not after a 10 s backoff.
        'config.retry.baseMs=1000',
      ].join(','),
    ]);
    if (install.code !== 0) throw new Error(`helm install failed (${install.code}): ${install.stderr}`);
    await kube().create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    await waitFor(() => kube().get(Resources.serviceAccounts, 'default', { namespace: NAMESPACE }), {
      description: 'the default ServiceAccount',
    });
    void watchReaperPods();
  }, 1_800_000);

  afterAll(async () => {
    stopWatch.abort();
    client?.close();
    await cluster?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }, 180_000);

  it('every Deployment, StatefulSet and DaemonSet of the release becomes ready', {
    timeout: 300_000,
  }, async () => {
    await waitFor(async () => (await workloads()).every(workloadReady), {
      description: 'the release ready',
      timeoutMs: 280_000,
      intervalMs: 1000,
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await releaseState()}`);
    });
    const ready = (await workloads()).map((w) => `${w.metadata.name}`).sort();
    expect(ready).toEqual([
      'reaper-flow-node-agent',
      'reaper-flow-redis',
      'reaper-flow-scheduler',
      'reaper-flow-watcher',
    ]);
    // Every Pod of the release runs on a real node (there are no others).
    const pods = (await kube().list<PodObj>(Resources.pods, { namespace: SYSTEM })).items;
    expect(pods.length).toBe(7);
    for (const pod of pods) expect(realNodes).toContain(pod.spec?.nodeName);
  });

  it('a ReaperPod runs on a real node with its exit code and its log', { timeout: 120_000 }, async () => {
    const marker = `deployed-${randomBytes(4).toString('hex')}`;
    await kube().create(
      Resources.reaperPods,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperPod',
        metadata: { name: 'exit-three' },
        spec: {
          command: ['sh', '-c', `echo ${marker}; exit 3`],
          nodeSelector: { [REAL_NODE_LABEL]: 'true' },
        },
      },
      { namespace: NAMESPACE },
    );
    const done = await waitFor(
      async () => {
        const rp = await kube().get<ReaperPodObj>(Resources.reaperPods, 'exit-three', {
          namespace: NAMESPACE,
        });
        return rp?.status?.phase === 'Failed' ? rp.status : undefined;
      },
      { description: 'ReaperPod exit-three Failed', timeoutMs: 100_000 },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await releaseState()}`);
    });
    expect(done.exitCode).toBe(3);
    expect(realNodes).toContain(done.nodeName);
    // The ReaperPod watch the later tests count on is open.
    await waitFor(
      () => reaperPodEvents.some((ev) => ev.type === 'ADDED' && ev.object.metadata.name === 'exit-three'),
      { description: 'the ReaperPod watch saw exit-three' },
    );
    const logs = await kubectl(['logs', '-n', NAMESPACE, 'exit-three']);
    expect(logs.stderr).toBe('');
    expect(logs.stdout).toBe(`${marker}\n`);
  });

  // On these nodes the reaper-v2 handler is runc (the Reaper shim is not installable here), so the
  // two jobs' containers do not share overlay node-config as the Reaper runtime's would: a hostPath
  // volume at the examples' marker dir stands in for it. Both nodes are this machine, so the marker
  // file is named per node (a DaemonJob's ReaperPod on node N is `<job>-N`, its hostname that name).
  // Otherwise the jobs are the examples as written.
  it('the composable DaemonJobs complete in order on every real node, sharing what they wrote', {
    timeout: 240_000,
  }, async () => {
    const jobs = examples('daemon-jobs.yaml');
    const shared = join(stateDir, 'host-paths', 'examples');
    const markerVolume = {
      name: 'examples',
      hostPath: shared,
      mountPath: '/var/lib/reaper-flow-examples',
    };
    await kube().create(Resources.reaperOverlays, examples('overlay.yaml').get('ReaperOverlay/node-config'), {
      namespace: NAMESPACE,
    });
    for (const name of ['mount-filesystems', 'install-packages']) {
      const job = jobs.get(`ReaperDaemonJob/${name}`) as { spec: Record<string, unknown> };
      const args = (job.spec.args as string[]).map((a) =>
        // Per node: the marker file carries the node's name (the hostname after the job's name).
        a.replaceAll('mount-filesystems.marker', 'mount-filesystems.$(hostname | cut -d- -f3-).marker'),
      );
      await kube().create(
        Resources.reaperDaemonJobs,
        { ...job, spec: { ...job.spec, args, volumes: [markerVolume] } },
        { namespace: NAMESPACE },
      );
    }
    const install = await daemonJobDone('install-packages', 220_000);
    expect(install.status?.phase).toBe('Completed');
    const mount = await kube().get<DaemonJobObj>(Resources.reaperDaemonJobs, 'mount-filesystems', {
      namespace: NAMESPACE,
    });
    for (const job of [mount, install]) {
      expect((job?.status?.nodeStatuses ?? []).map((n) => [n.nodeName, n.phase]).sort()).toEqual(
        realNodes.map((n) => [n, 'Succeeded']).sort(),
      );
    }
    for (const node of realNodes) {
      // In order on this node: install-packages' ReaperPod appeared only after mount-filesystems'
      // had succeeded (one watch, so the events are in the API server's order).
      const succeeded = reaperPodEvents.findIndex(
        (ev) =>
          ev.object.metadata.name === `mount-filesystems-${node}` && ev.object.status?.phase === 'Succeeded',
      );
      const created = reaperPodEvents.findIndex(
        (ev) => ev.type === 'ADDED' && ev.object.metadata.name === `install-packages-${node}`,
      );
      expect(succeeded, node).toBeGreaterThanOrEqual(0);
      expect(created, node).toBeGreaterThan(succeeded);
      const out = await kubectl(['logs', '-n', NAMESPACE, `install-packages-${node}`]);
      expect(out.stdout, node).toContain(
        `node-config prepared on mount-filesystems-${node} by mount-filesystems`,
      );
    }
  });

  it('an overlay reset completes on every real node', { timeout: 120_000 }, async () => {
    const overlay = () =>
      kube().get<OverlayObj>(Resources.reaperOverlays, 'node-config', { namespace: NAMESPACE });
    await waitFor(async () => (await overlay())?.status?.phase === 'Ready', {
      description: 'node-config Ready',
    });
    await kube().patch(
      Resources.reaperOverlays,
      'node-config',
      'merge',
      { spec: { resetGeneration: 1 } },
      {
        namespace: NAMESPACE,
      },
    );
    let last: OverlayObj | undefined;
    await waitFor(
      async () => {
        last = await overlay();
        const entries = last?.status?.nodes ?? [];
        return (
          last?.status?.phase === 'Ready' &&
          last.status.observedResetGeneration === 1 &&
          realNodes.every((n) => entries.some((e) => e.nodeName === n && e.resetGeneration === 1))
        );
      },
      { description: 'node-config reset on every real node', timeoutMs: 100_000 },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}
last: ${JSON.stringify(last?.status)}
${await releaseState()}`);
    });
  });

  it('deleting the leader watcher Pod lets another watcher take over, and a new DaemonJob still runs', {
    timeout: 180_000,
  }, async () => {
    interface Lease {
      spec?: { holderIdentity?: string };
    }
    const holder = async () =>
      (await kube().get<Lease>(Resources.leases, `${RELEASE}-watcher`, { namespace: SYSTEM }))?.spec
        ?.holderIdentity;
    const leader = await waitFor(holder, { description: 'a watcher holds the Lease' });
    const watchers = (
      await kube().list<PodObj>(Resources.pods, {
        namespace: SYSTEM,
        labelSelector: 'app.kubernetes.io/component=watcher',
      })
    ).items.map((p) => p.metadata.name);
    expect(watchers).toContain(leader);
    await kube().delete(Resources.pods, leader, { namespace: SYSTEM });
    const next = await waitFor(
      async () => {
        const h = await holder();
        return h && h !== leader ? h : undefined;
      },
      { description: 'another watcher holds the Lease', timeoutMs: 60_000 },
    ).catch(async (err: Error) => {
      // Seen once in a full run on main: say who holds the Lease and what every watcher logged.
      const lease = await kubectl(['get', 'lease', `${RELEASE}-watcher`, '-n', SYSTEM, '-o', 'yaml']);
      const logs = await Promise.all(
        watchers.map(async (w) => {
          const out = await kubectl(['logs', '-n', SYSTEM, w, '--tail=40']);
          return `--- ${w}:\n${out.stdout}${out.stderr}`;
        }),
      );
      throw new Error(`${err.message}\n${lease.stdout}\n${await releaseState()}\n${logs.join('\n')}`);
    });
    // The standby polls every renewIntervalMs (5 s in the chart); the Deployment's replacement Pod
    // tries once it starts. The leader released the Lease on SIGTERM, so either may win the race
    // (the CI run of 19:10 failed waiting for the standby only): what matters is that a live watcher
    // Pod other than the deleted one leads.
    const live = (
      await kube().list<PodObj>(Resources.pods, {
        namespace: SYSTEM,
        labelSelector: 'app.kubernetes.io/component=watcher',
      })
    ).items.map((p) => p.metadata.name);
    expect(live).toContain(next);
    console.log(
      `[deployment] Lease moved from ${leader} to ${next} (${watchers.includes(next) ? 'the standby' : 'the replacement Pod'})`,
    );
    await kube().create(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name: 'after-failover' },
        spec: { command: ['sh', '-c', 'echo after failover'], nodeSelector: { [REAL_NODE_LABEL]: 'true' } },
      },
      { namespace: NAMESPACE },
    );
    const job = await daemonJobDone('after-failover', 120_000);
    expect(job.status?.phase).toBe('Completed');
  });

  it('deleting the scheduler Pods mid-run loses nothing: the run completes and no node runs twice', {
    timeout: 240_000,
  }, async () => {
    await kube().create(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name: 'through-restart' },
        spec: {
          command: ['sh', '-c', 'sleep 10; echo survived'],
          nodeSelector: { [REAL_NODE_LABEL]: 'true' },
        },
      },
      { namespace: NAMESPACE },
    );
    // Mid-run: every node's ReaperPod is Running.
    await waitFor(
      async () =>
        realNodes.every((n) =>
          reaperPodEvents.some(
            (ev) =>
              ev.object.metadata.name === `through-restart-${n}` && ev.object.status?.phase === 'Running',
          ),
        ),
      { description: 'through-restart running on every real node', timeoutMs: 60_000 },
    );
    const schedulers = (
      await kube().list<PodObj>(Resources.pods, {
        namespace: SYSTEM,
        labelSelector: 'app.kubernetes.io/component=scheduler',
      })
    ).items.map((p) => p.metadata.name);
    expect(schedulers).toHaveLength(2);
    for (const pod of schedulers) await kube().delete(Resources.pods, pod, { namespace: SYSTEM });
    const job = await daemonJobDone('through-restart', 200_000);
    expect(job.status?.phase).toBe('Completed');
    expect((job.status?.nodeStatuses ?? []).map((n) => [n.nodeName, n.phase]).sort()).toEqual(
      realNodes.map((n) => [n, 'Succeeded']).sort(),
    );
    // One ReaperPod per node, created once, of attempt 1.
    expect([...addedCounts('through-restart-').entries()].sort()).toEqual(
      realNodes.map((n) => [`through-restart-${n}`, 1]).sort(),
    );
    const attempts = new Set(
      reaperPodEvents
        .filter((ev) => ev.object.metadata.name.startsWith('through-restart-'))
        .map((ev) => ev.object.metadata.annotations?.['reaper.io/attempt']),
    );
    expect([...attempts]).toEqual(['1']);
    // The Deployment brought its Pods back.
    await waitFor(
      async () => {
        const d = await kube().get<Workload>(refs.deployments, `${RELEASE}-scheduler`, { namespace: SYSTEM });
        return d && workloadReady(d);
      },
      { description: 'the scheduler Deployment ready again', timeoutMs: 120_000 },
    );
  });

  it('the dashboard answers 401 without credentials through kubectl port-forward', {
    timeout: 90_000,
  }, async () => {
    const c = cluster;
    if (!c) throw new Error('cluster not started');
    const forward = spawn(
      join(c.binDir, 'kubectl'),
      ['port-forward', '-n', SYSTEM, `svc/${RELEASE}-dashboard`, ':3000', '--address', '127.0.0.1'],
      { env: { ...process.env, KUBECONFIG: c.kubeconfigPath }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let output = '';
      forward.stdout.setEncoding('utf8').on('data', (d: string) => {
        output += d;
      });
      forward.stderr.setEncoding('utf8').on('data', (d: string) => {
        output += d;
      });
      const port = await waitFor(() => output.match(/Forwarding from 127\.0\.0\.1:(\d+)/)?.[1], {
        description: `kubectl port-forward listening (output: ${output})`,
        timeoutMs: 60_000,
      });
      const url = `http://127.0.0.1:${port}/`;
      const anonymous = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      expect(anonymous.status).toBe(401);
      const authed = await fetch(url, {
        headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` },
        signal: AbortSignal.timeout(10_000),
        redirect: 'manual',
      });
      expect(authed.status).toBeLessThan(400);
    } finally {
      forward.kill('SIGTERM');
    }
  });

  // The second way to install: the kustomize tree, after `helm uninstall` (the CRDs stay, as Helm
  // leaves them), with an overlay of the kind infra/deploy/README.md describes: the local images,
  // nothing pulled, the Redis volume and the dashboard password, plus the state-dir-per-node
  // component (both nodes are this machine) and the agents' hostPath under this cluster's dir.
  it('kustomize: infra/deploy with a local overlay becomes ready and runs a DaemonJob on every real node', {
    timeout: 300_000,
  }, async () => {
    const c = cluster;
    if (!c) throw new Error('cluster not started');
    const uninstall = await run(helm, ['uninstall', RELEASE, '--kubeconfig', c.kubeconfigPath, '-n', SYSTEM]);
    expect(uninstall.code, uninstall.stderr).toBe(0);
    await waitFor(
      async () => (await kube().list<PodObj>(Resources.pods, { namespace: SYSTEM })).items.length === 0,
      {
        description: "the Helm release's Pods gone",
        timeoutMs: 120_000,
      },
    );
    // A fresh Redis volume: Helm leaves the PVC (and the PV keeps its data).
    await kube().delete(
      {
        group: '',
        version: 'v1',
        plural: 'persistentvolumeclaims',
        kind: 'PersistentVolumeClaim',
        namespaced: true,
      },
      'data-reaper-flow-redis-0',
      { namespace: SYSTEM },
    );
    await kube().delete(refs.persistentVolumes, 'rf-redis-data');
    await createRedisVolume('rf-redis-data-kustomize', 'redis-kustomize');

    const dir = join(stateDir, 'kustomize-overlay');
    await mkdir(dir, { recursive: true });
    const deploy = relative(dir, join(REPO_ROOT, 'infra/deploy'));
    const redisVersion = await debianRedisVersion();
    await writeFile(
      join(dir, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [deploy],
        components: [`${deploy}/components/state-dir-per-node`],
        images: [{ name: 'redis', newName: 'reaper-flow/redis', newTag: redisVersion }],
        secretGenerator: [
          {
            name: 'reaper-flow-dashboard',
            namespace: SYSTEM,
            behavior: 'replace',
            literals: [`password=${password}`],
          },
        ],
        patches: [
          {
            target: { group: 'apps', version: 'v1', kind: '(Deployment|DaemonSet|StatefulSet)' },
            patch: stringify([
              { op: 'add', path: '/spec/template/spec/containers/0/imagePullPolicy', value: 'Never' },
            ]),
          },
          {
            target: { group: 'apps', version: 'v1', kind: 'StatefulSet', name: 'reaper-flow-redis' },
            patch: stringify([
              { op: 'add', path: '/spec/volumeClaimTemplates/0/spec/storageClassName', value: STORAGE_CLASS },
              {
                op: 'replace',
                path: '/spec/volumeClaimTemplates/0/spec/resources/requests/storage',
                value: '1Gi',
              },
            ]),
          },
          {
            target: { group: 'apps', version: 'v1', kind: 'DaemonSet', name: 'reaper-flow-node-agent' },
            patch: stringify([
              {
                op: 'replace',
                path: '/spec/template/spec/volumes/0/hostPath/path',
                value: join(stateDir, 'host-paths', 'reaper-kustomize'),
              },
            ]),
          },
        ],
      }),
    );
    const apply = await kubectl(['apply', '--server-side', '--force-conflicts', '-k', dir]);
    expect(apply.code, apply.stderr).toBe(0);
    await waitFor(async () => (await workloads()).every(workloadReady), {
      description: 'the kustomize installation ready',
      timeoutMs: 200_000,
      intervalMs: 1000,
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await releaseState()}`);
    });
    expect((await workloads()).map((w) => w.metadata.name).sort()).toEqual([
      'reaper-flow-node-agent',
      'reaper-flow-redis',
      'reaper-flow-scheduler',
      'reaper-flow-watcher',
    ]);
    await kube().create(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name: 'from-kustomize' },
        spec: { command: ['sh', '-c', 'echo kustomized'], nodeSelector: { [REAL_NODE_LABEL]: 'true' } },
      },
      { namespace: NAMESPACE },
    );
    const job = await daemonJobDone('from-kustomize', 120_000);
    expect(job.status?.phase).toBe('Completed');
    expect((job.status?.nodeStatuses ?? []).map((n) => [n.nodeName, n.phase]).sort()).toEqual(
      realNodes.map((n) => [n, 'Succeeded']).sort(),
    );
  });
});
