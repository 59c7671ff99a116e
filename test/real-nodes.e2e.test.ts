// Real kubelet nodes in the local cluster: a cluster of its own with one simulated node and two real
// ones (upstream kubelet, Debian's containerd and runc, the reaper-v2 handler mapped to runc, the
// local placeholder image), the apps as processes. What the stand-in kubelet cannot show: the backing
// Pod runs in the image the scheduler names, the kubelet reports the real exit code and serves the
// log, an app image of `npm run images` (imported under the Helm chart's default name) starts its
// entry point on a real node, the node-lifecycle controller turns a Node whose kubelet stopped
// NotReady while the simulated node's Leases keep it Ready, and `down` leaves nothing on the machine.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import {
  applyCrds,
  isNodeReady,
  type LocalCluster,
  type Node,
  REAL_NODE_LABEL,
  REPO_ROOT,
  type RealNodeRecord,
  readState,
  realNodeLeftovers,
  startLocalCluster,
  stderrLogger,
} from '@reaper-flow/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl as runKubectl, waitFor } from './harness/index';
import { type AppProcess, describeOutput, killApp, spawnApp } from './support/app-processes';

const NAMESPACE = 'real-nodes';

interface ReaperStatus {
  status?: {
    phase?: string;
    exitCode?: number;
    nodeName?: string;
    readyNodes?: number;
    totalNodes?: number;
    nodeStatuses?: { nodeName: string; phase: string; exitCode?: number }[];
  };
}

describe('real kubelet nodes', () => {
  let stateDir: string;
  let cluster: LocalCluster | undefined;
  let client: KubeClient | undefined;
  let records: readonly RealNodeRecord[] = [];
  const apps: AppProcess[] = [];

  const kube = () => {
    if (!client) throw new Error('cluster not started');
    return client;
  };

  function kubectl(args: readonly string[]): ReturnType<typeof runKubectl> {
    if (!cluster) throw new Error('cluster not started');
    return runKubectl(args, { cluster });
  }

  // Cold machine: apt-get installs containerd, runc and the CNI plugins, kubelet is compiled
  // (minutes on 2 cores) and the app images are built (about a minute); warm: about 45 s, of which
  // about 15 s rebuild the images from cached layers and about 20 s import them into the two nodes.
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'reaper-flow-real-nodes-'));
    cluster = await startLocalCluster({
      stateDir,
      nodes: 1,
      realNodes: 2,
      withKubelet: true,
      log: stderrLogger('real-nodes'),
    });
    records = (await readState(stateDir))?.realNodes ?? [];
    client = await KubeClient.create({ kubeconfigPath: cluster.kubeconfigPath });
    await applyCrds(client, join(REPO_ROOT, 'infra/crds'));
    await client.create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    await waitFor(() => kube().get(Resources.serviceAccounts, 'default', { namespace: NAMESPACE }), {
      description: 'the default ServiceAccount',
    });
    const suffix = randomBytes(3).toString('hex');
    const env = {
      KUBECONFIG: cluster.kubeconfigPath,
      ...cluster.redisEnv,
      REAPER_FLOW_PREFIX: `{rf-real-${suffix}}`,
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
      REAPER_FLOW__WATCHER__LEASE_NAME: `rf-real-${suffix}`,
      REAPER_FLOW__DASHBOARD__ENABLED: 'false',
    };
    apps.push(spawnApp('watcher', 'watcher', env), spawnApp('scheduler', 'scheduler', env));
  }, 1_800_000);

  afterAll(async () => {
    for (const app of apps) await killApp(app);
    client?.close();
    await cluster?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }, 120_000);

  it('a ReaperPod scheduled on a real node exits with its code and its Pod log is served', {
    timeout: 90_000,
  }, async () => {
    const marker = `real-${randomBytes(4).toString('hex')}`;
    await kube().create(
      Resources.reaperPods,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperPod',
        metadata: { name: 'exit-three' },
        spec: {
          command: ['sh', '-c', `echo ${marker} from $(hostname); exit 3`],
          nodeSelector: { [REAL_NODE_LABEL]: 'true' },
        },
      },
      { namespace: NAMESPACE },
    );
    const done = await waitFor(
      async () => {
        const rp = await kube().get<ReaperStatus>(Resources.reaperPods, 'exit-three', {
          namespace: NAMESPACE,
        });
        return rp?.status?.phase === 'Failed' ? rp.status : undefined;
      },
      { description: 'ReaperPod exit-three Failed', timeoutMs: 60_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${describeOutput(apps)}`);
    });
    expect(done.exitCode).toBe(3);
    expect(records.map((r) => r.name)).toContain(done.nodeName);
    const logs = await kubectl(['logs', '-n', NAMESPACE, 'exit-three']);
    expect(logs.stderr).toBe('');
    expect(logs.stdout).toBe(`${marker} from exit-three\n`);
  });

  it('a DaemonJob completes on every real node', { timeout: 90_000 }, async () => {
    await kube().create(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name: 'on-real-nodes' },
        spec: {
          command: ['sh', '-c', 'test -x /bin/busybox && echo done'],
          nodeSelector: { [REAL_NODE_LABEL]: 'true' },
        },
      },
      { namespace: NAMESPACE },
    );
    const status = await waitFor(
      async () => {
        const job = await kube().get<ReaperStatus>(Resources.reaperDaemonJobs, 'on-real-nodes', {
          namespace: NAMESPACE,
        });
        return job?.status?.phase === 'Completed' || job?.status?.phase === 'PartiallyFailed'
          ? job.status
          : undefined;
      },
      { description: 'DaemonJob on-real-nodes done', timeoutMs: 75_000 },
    );
    expect(status.phase).toBe('Completed');
    expect((status.nodeStatuses ?? []).map((n) => [n.nodeName, n.phase, n.exitCode]).sort()).toEqual(
      records.map((r) => [r.name, 'Succeeded', 0]).sort(),
    );
  });

  it('the scheduler image starts on a real node as a non-root user and stops at its missing config file', {
    timeout: 90_000,
  }, async () => {
    // What the Helm chart and the kustomize base name by default; nothing may be pulled. Without
    // its ConfigMap the app's first statement, reading the config file, is as far as it gets
    // (test/deployment.e2e.test.ts runs the whole release).
    await kube().create(
      Resources.pods,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'scheduler-image' },
        spec: {
          nodeName: records[0]?.name,
          restartPolicy: 'Never',
          securityContext: { runAsNonRoot: true },
          containers: [{ name: 'scheduler', image: 'reaper-flow/scheduler:0.1.0', imagePullPolicy: 'Never' }],
        },
      },
      { namespace: NAMESPACE },
    );
    interface PodStatus {
      status?: {
        phase?: string;
        containerStatuses?: { state?: { terminated?: { exitCode?: number } } }[];
      };
    }
    const pod = await waitFor(
      async () => {
        const p = await kube().get<PodStatus>(Resources.pods, 'scheduler-image', { namespace: NAMESPACE });
        return p?.status?.phase === 'Failed' ? p : undefined;
      },
      { description: 'Pod scheduler-image Failed', timeoutMs: 60_000 },
    );
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
    const logs = await kubectl(['logs', '-n', NAMESPACE, 'scheduler-image']);
    expect(logs.stdout).toContain(
      'cannot read /etc/reaper-flow/reaper-flow.yaml: ENOENT: no such file or directory',
    );
    // The bundle's source map is in the image: the trace names the TypeScript source.
    expect(logs.stdout).toMatch(/at loadConfig \(\/app\/packages\/runtime\/src\/config\.ts:\d+:\d+\)/);
  });

  it('a stopped kubelet makes its Node NotReady; the simulated node stays Ready', {
    timeout: 90_000,
  }, async () => {
    const state = await readState(stateDir);
    const victim = records[1];
    const kubelet = state?.processes.find((p) => p.name === `kubelet-${victim?.name}`);
    if (!kubelet) throw new Error(`no kubelet process of ${victim?.name} in the state file`);
    process.kill(kubelet.pid, 'SIGTERM');
    // The node-lifecycle controller's grace period is 20 s; the taints follow the condition.
    const node = await waitFor(
      async () => {
        const n = await kube().get<Node>(Resources.nodes, victim?.name ?? '');
        const tainted = n?.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable');
        return n && !isNodeReady(n) && tainted ? n : undefined;
      },
      { description: `Node ${victim?.name} NotReady and tainted unreachable`, timeoutMs: 60_000 },
    );
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('Unknown');
    // By now the cluster has run for well over the 20 s grace: only its Leases keep node-1 Ready.
    const simulated = await kube().get<Node>(Resources.nodes, 'node-1');
    expect(simulated && isNodeReady(simulated)).toBe(true);
    const other = await kube().get<Node>(Resources.nodes, records[0]?.name ?? '');
    expect(other && isNodeReady(other)).toBe(true);
  });

  it('down removes every process, mount, bridge and cgroup of the real nodes', {
    timeout: 120_000,
  }, async () => {
    expect(records).toHaveLength(2);
    // A Pod still running on the surviving node when the cluster goes down.
    await kube().create(
      Resources.pods,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'still-running' },
        spec: {
          runtimeClassName: 'reaper-v2',
          nodeName: records[0]?.name,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: 'reaper/placeholder:v1', command: ['sleep', '3600'] }],
        },
      },
      { namespace: NAMESPACE },
    );
    await waitFor(
      async () =>
        (
          await kube().get<{ status?: { phase?: string } }>(Resources.pods, 'still-running', {
            namespace: NAMESPACE,
          })
        )?.status?.phase === 'Running',
      { description: 'Pod still-running Running', timeoutMs: 60_000 },
    );
    expect(realNodeLeftovers(stateDir, records).length).toBeGreaterThan(0);
    for (const app of apps) await killApp(app);
    kube().close();
    client = undefined;
    await cluster?.stop();
    expect(realNodeLeftovers(stateDir, records)).toEqual([]);
  });
});
