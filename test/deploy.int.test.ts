// The deployment (infra/deploy, kustomize) against the real API server: it renders and passes a
// server-side dry run; its RBAC lets each component do what it needs and nothing else; and the apps,
// each holding nothing but a token of its own ServiceAccount, do their job end to end.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, REPO_ROOT, removeDir, removeNode } from '@reaper-flow/local-cluster';
import { overlayPaths } from '@reaper-flow/node-agent';
import { type Config, loadConfig } from '@reaper-flow/runtime';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { kubectl, testEnv, uniqueNodeName, useTestNamespace, waitFor } from './harness/index';
import {
  type AppName,
  type AppProcess,
  isReady,
  startAppProcess,
  whileRunning,
  writeServiceAccountKubeconfig,
} from './support/deploy-apps';
import {
  type AccessCheck,
  canI,
  formatAccessMatrix,
  type Manifest,
  type Rendering,
  renderKustomization,
  toYamlStream,
} from './support/deploy-manifests';

const SYSTEM_NS = 'reaper-system';
const SA = {
  watcher: 'reaper-flow-watcher',
  scheduler: 'reaper-flow-scheduler',
  'node-agent': 'reaper-flow-node-agent',
} as const satisfies Record<AppName, string>;
const LEASE = 'reaper-flow-watcher';
const RBAC_KINDS = new Set(['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);
const DRY_RUN_LINE = /serverside-applied \(server dry run\)$/;

interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Record<string, Record<string, unknown>> }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string; readOnly?: boolean }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  securityContext?: {
    privileged?: boolean;
    runAsUser?: number;
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
  };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  serviceAccountName?: string;
  hostPID?: boolean;
  securityContext?: { runAsNonRoot?: boolean };
  tolerations?: Record<string, unknown>[];
  containers: Container[];
  volumes?: {
    name: string;
    configMap?: { name: string };
    hostPath?: { path: string };
    emptyDir?: Record<string, unknown>;
  }[];
}
interface Workload {
  spec: { replicas?: number; template: { spec: PodSpec }; volumeClaimTemplates?: unknown[] };
}
interface OverlayObj {
  metadata: { name: string; finalizers?: string[] };
  status?: { phase?: string; message?: string; nodes?: { nodeName: string; ready?: boolean }[] };
}
interface DjobObj {
  status?: { phase?: string; readyNodes?: number; totalNodes?: number; failedNodes?: number };
}
interface RpodObj {
  status?: { phase?: string; exitCode?: number; nodeName?: string; podName?: string; message?: string };
}

const podSpecOf = (m: Manifest) => (m as unknown as Workload).spec.template.spec;
const containerOf = (m: Manifest) => {
  const c = podSpecOf(m).containers[0];
  if (!c) throw new Error(`${m.kind}/${m.metadata.name} has no container`);
  return c;
};
const envOf = (c: Container, name: string) => c.env?.find((e) => e.name === name);

describe('deployment: infra/deploy', () => {
  const t = useTestNamespace('deploy');
  let client: KubeClient;
  let rendering: Rendering;
  let shippedConfig: Config;
  let workDir: string;
  let namespaceCreatedHere = false;
  let namespaceReady: Promise<void> | undefined;
  let rbacReady: Promise<void> | undefined;
  const procs: AppProcess[] = [];
  let node: string | undefined;

  beforeAll(async () => {
    client = t.client;
    workDir = await mkdtemp(join(tmpdir(), 'reaper-flow-deploy-'));
    rendering = await renderKustomization('infra/deploy');
    const cm = rendering.get('ConfigMap', 'reaper-flow-config') as unknown as {
      data: Record<string, string>;
    };
    await writeFile(join(workDir, 'reaper-flow.yaml'), cm.data['reaper-flow.yaml'] ?? '');
    shippedConfig = loadConfig({ file: join(workDir, 'reaper-flow.yaml'), env: {} });
  }, 60_000);

  afterAll(async () => {
    // Overlays hold the cleanup finalizer: after a failure half-way, release them so the test
    // namespace can go (the agent that would clean up may be gone).
    if (client) {
      const left = await client
        .list<OverlayObj>(Resources.reaperOverlays, { namespace: t.namespace })
        .catch(() => ({ items: [] as OverlayObj[] }));
      for (const o of left.items) {
        await client
          .patch(
            Resources.reaperOverlays,
            o.metadata.name,
            'merge',
            { metadata: { finalizers: null } },
            { namespace: t.namespace },
          )
          .catch(() => undefined);
      }
    }
    await Promise.all(procs.map((p) => p.stop(5_000)));
    if (node && client) await removeNode(client, node).catch(() => undefined);
    if (namespaceCreatedHere && rendering) {
      // Ours alone: the cluster-scoped RBAC objects, and the namespace with everything in it.
      const rbac = rendering.manifests.filter((m) => RBAC_KINDS.has(m.kind));
      await kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], {
        input: toYamlStream(rbac),
      });
      await kubectl(['delete', 'namespace', SYSTEM_NS, '--ignore-not-found', '--wait=false']);
    }
    if (workDir) await removeDir(workDir).catch(() => undefined);
  }, 90_000);

  /** Applies the rendered Namespace for real (namespaced objects need it, even in a dry run). */
  const ensureSystemNamespace = () => {
    namespaceReady ??= (async () => {
      // One left Terminating by an earlier run must be gone before it can be applied again.
      const existing = await waitFor(
        async () => {
          const ns = await client.get<{ status?: { phase?: string } }>(Resources.namespaces, SYSTEM_NS);
          return ns?.status?.phase === 'Terminating' ? undefined : { existed: ns !== undefined };
        },
        { description: `namespace ${SYSTEM_NS} not Terminating`, timeoutMs: 60_000 },
      );
      namespaceCreatedHere = !existing.existed;
      const applied = await kubectl(['apply', '--server-side', '-f', '-'], {
        input: toYamlStream([rendering.get('Namespace', SYSTEM_NS)]),
      });
      if (applied.code !== 0) throw new Error(`applying namespace ${SYSTEM_NS}: ${applied.stderr}`);
    })();
    return namespaceReady;
  };

  /** Applies the ServiceAccounts, Roles, ClusterRoles and bindings for real. */
  const ensureRbac = () => {
    rbacReady ??= (async () => {
      await ensureSystemNamespace();
      const rbac = rendering.manifests.filter((m) => RBAC_KINDS.has(m.kind));
      const applied = await kubectl(['apply', '--server-side', '-f', '-'], { input: toYamlStream(rbac) });
      if (applied.code !== 0) throw new Error(`applying the RBAC objects: ${applied.stderr}`);
    })();
    return rbacReady;
  };

  it('renders with kubectl kustomize and passes a server-side dry run', async () => {
    const kinds = new Set(rendering.manifests.map((m) => m.kind));
    for (const kind of [
      'CustomResourceDefinition',
      'Namespace',
      'RuntimeClass',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'ConfigMap',
      'Secret',
      'Deployment',
      'DaemonSet',
      'StatefulSet',
      'Service',
    ]) {
      expect(kinds, `a ${kind} is rendered`).toContain(kind);
    }

    // The CRDs are copies (kustomize loads no file outside its directory): byte-equal to infra/crds.
    const crdFiles = (await readdir(join(REPO_ROOT, 'infra/crds'))).filter((f) => f.endsWith('.yaml')).sort();
    expect((await readdir(join(REPO_ROOT, 'infra/deploy/base/crds'))).sort()).toEqual(crdFiles);
    for (const file of crdFiles) {
      const copy = await readFile(join(REPO_ROOT, 'infra/deploy/base/crds', file), 'utf8');
      expect(copy, `infra/deploy/base/crds/${file} is a copy of infra/crds/${file}`).toBe(
        await readFile(join(REPO_ROOT, 'infra/crds', file), 'utf8'),
      );
    }

    await ensureSystemNamespace();
    const dry = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], {
      input: rendering.yaml,
    });
    expect(dry.code, dry.stderr).toBe(0);
    const accepted = dry.stdout.split('\n').filter((l) => DRY_RUN_LINE.test(l));
    expect(accepted.length, dry.stdout).toBe(rendering.manifests.length);

    // The external-Redis variant, through `apply -k` as an operator would run it.
    const external = await renderKustomization('infra/deploy/overlays/external-redis');
    expect(external.manifests.some((m) => m.kind === 'StatefulSet')).toBe(false);
    for (const [kind, name] of [
      ['Deployment', 'reaper-flow-watcher'],
      ['Deployment', 'reaper-flow-scheduler'],
      ['DaemonSet', 'reaper-flow-node-agent'],
    ] as const) {
      expect(envOf(containerOf(external.get(kind, name)), 'REDIS_URL')?.valueFrom).toEqual({
        secretKeyRef: { name: 'reaper-flow-redis', key: 'url' },
      });
    }
    const dryExternal = await kubectl([
      'apply',
      '--server-side',
      '--dry-run=server',
      '-k',
      join(REPO_ROOT, 'infra/deploy/overlays/external-redis'),
    ]);
    expect(dryExternal.code, dryExternal.stderr).toBe(0);

    // The Sentinel variants: in-cluster (three Redis Pods, each with a sentinel) and external.
    for (const overlay of ['sentinel', 'external-sentinel']) {
      const dir = `infra/deploy/overlays/${overlay}`;
      const rendered = await renderKustomization(dir);
      const redis = rendered.manifests.find((m) => m.kind === 'StatefulSet') as
        | { spec: { replicas: number; template: { spec: { containers: { name: string }[] } } } }
        | undefined;
      if (overlay === 'sentinel') {
        expect(redis?.spec.replicas).toBe(3);
        expect(redis?.spec.template.spec.containers.map((c) => c.name)).toEqual(['redis', 'sentinel']);
      } else expect(redis).toBeUndefined();
      for (const [kind, name] of [
        ['Deployment', 'reaper-flow-watcher'],
        ['Deployment', 'reaper-flow-scheduler'],
        ['DaemonSet', 'reaper-flow-node-agent'],
      ] as const) {
        expect(envOf(containerOf(rendered.get(kind, name)), 'REDIS_MODE')?.value, `${dir} ${name}`).toBe(
          'sentinel',
        );
      }
      const dry = await kubectl(['apply', '--server-side', '--dry-run=server', '-k', join(REPO_ROOT, dir)]);
      expect(dry.code, dry.stderr).toBe(0);
    }

    // An external Redis Cluster: no in-cluster Redis, cluster mode and the seed nodes from the Secret.
    const clusterDir = 'infra/deploy/overlays/external-cluster';
    const onCluster = await renderKustomization(clusterDir);
    expect(onCluster.manifests.some((m) => m.kind === 'StatefulSet')).toBe(false);
    for (const [kind, name] of [
      ['Deployment', 'reaper-flow-watcher'],
      ['Deployment', 'reaper-flow-scheduler'],
      ['DaemonSet', 'reaper-flow-node-agent'],
    ] as const) {
      const container = containerOf(onCluster.get(kind, name));
      expect(envOf(container, 'REDIS_MODE')?.value, `${clusterDir} ${name}`).toBe('cluster');
      expect(envOf(container, 'REDIS_CLUSTER_NODES')?.valueFrom).toEqual({
        secretKeyRef: { name: 'reaper-flow-redis', key: 'nodes' },
      });
    }
    const dryCluster = await kubectl([
      'apply',
      '--server-side',
      '--dry-run=server',
      '-k',
      join(REPO_ROOT, clusterDir),
    ]);
    expect(dryCluster.code, dryCluster.stderr).toBe(0);
  }, 150_000);

  it('wires the workloads the way the apps read their configuration', () => {
    // The shipped configuration is valid and points at what is deployed next to it.
    const redisHost = new URL(shippedConfig.redis.url).hostname;
    const redisSvc = rendering.get('Service', 'reaper-flow-redis');
    expect(redisHost).toBe(`${redisSvc.metadata.name}.${redisSvc.metadata.namespace}.svc`);
    expect(shippedConfig.metrics.host).toBe('0.0.0.0');
    expect(shippedConfig.dashboard.host).toBe('0.0.0.0');
    expect(shippedConfig.watcher.leaseNamespace).toBe(SYSTEM_NS);
    const leaseRole = rendering.get('Role', 'reaper-flow-watcher-leader-election') as unknown as {
      rules: { resourceNames?: string[]; verbs: string[] }[];
    };
    expect(leaseRole.rules.find((r) => r.verbs.includes('update'))?.resourceNames).toEqual([
      shippedConfig.watcher.leaseName,
    ]);

    const workloads = {
      watcher: rendering.get('Deployment', 'reaper-flow-watcher'),
      scheduler: rendering.get('Deployment', 'reaper-flow-scheduler'),
      'node-agent': rendering.get('DaemonSet', 'reaper-flow-node-agent'),
    } as const;
    for (const [app, manifest] of Object.entries(workloads) as [AppName, Manifest][]) {
      const pod = podSpecOf(manifest);
      const c = containerOf(manifest);
      expect(pod.serviceAccountName).toBe(SA[app]);
      // The config file: REAPER_FLOW_CONFIG names the file of the mounted ConfigMap.
      const configVolume = pod.volumes?.find((v) => v.configMap?.name === 'reaper-flow-config');
      const mount = c.volumeMounts?.find((m) => m.name === configVolume?.name);
      expect(envOf(c, 'REAPER_FLOW_CONFIG')?.value).toBe(`${mount?.mountPath}/reaper-flow.yaml`);
      // Probes on the metrics port the configuration binds.
      expect(c.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(shippedConfig.metrics.port);
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/livez', port: 'metrics' });
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
      expect(c.resources?.requests && c.resources.limits).toBeTruthy();
      expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    }
    for (const app of ['watcher', 'scheduler'] as const) {
      const c = containerOf(workloads[app]);
      expect(podSpecOf(workloads[app]).securityContext?.runAsNonRoot).toBe(true);
      expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
    }
    expect((workloads.watcher as unknown as Workload).spec.replicas).toBe(2);
    expect(envOf(containerOf(workloads.watcher), 'POD_NAME')?.valueFrom).toEqual({
      fieldRef: { fieldPath: 'metadata.name' },
    });
    const scheduler = containerOf(workloads.scheduler);
    expect(scheduler.ports?.find((p) => p.name === 'dashboard')?.containerPort).toBe(
      shippedConfig.dashboard.port,
    );
    const passwordRef = envOf(scheduler, 'DASHBOARD_PASSWORD')?.valueFrom?.secretKeyRef;
    expect(rendering.get('Secret', String(passwordRef?.name)).metadata.namespace).toBe(SYSTEM_NS);

    const agentPod = podSpecOf(workloads['node-agent']);
    const agent = containerOf(workloads['node-agent']);
    expect(envOf(agent, 'NODE_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
    expect(agentPod.tolerations).toEqual([{ operator: 'Exists' }]);
    const stateVolume = agentPod.volumes?.find((v) => v.hostPath?.path === '/run/reaper');
    expect(agent.volumeMounts?.find((m) => m.name === stateVolume?.name)?.mountPath).toBe(
      shippedConfig.nodeAgent.stateDir,
    );
    expect(agent.securityContext).toMatchObject({ privileged: false, runAsUser: 0 });

    const redis = rendering.get('StatefulSet', 'reaper-flow-redis');
    const args = containerOf(redis).args?.join(' ') ?? '';
    for (const setting of ['--appendonly yes', '--appendfsync everysec', '--maxmemory-policy noeviction']) {
      expect(args).toContain(setting);
    }
    expect((redis as unknown as Workload).spec.volumeClaimTemplates).toHaveLength(1);
  });

  it('grants each ServiceAccount what its component needs and denies the rest', async () => {
    await ensureRbac();
    const ns = t.namespace;
    const W = SA.watcher;
    const S = SA.scheduler;
    const A = SA['node-agent'];
    type Extra = Partial<Pick<AccessCheck, 'namespace' | 'subresource'>>;
    const allow = (serviceAccount: string, verb: string, resource: string, extra: Extra = {}) =>
      ({ serviceAccount, verb, resource, expected: 'yes', ...extra }) as AccessCheck;
    const deny = (serviceAccount: string, verb: string, resource: string, extra: Extra = {}) =>
      ({ serviceAccount, verb, resource, expected: 'no', ...extra }) as AccessCheck;
    const all = { namespace: '*' };
    const inNs = { namespace: ns };
    const inSystem = { namespace: SYSTEM_NS };
    const status = { namespace: ns, subresource: 'status' };
    const lease = `leases.coordination.k8s.io/${LEASE}`;

    const checks: AccessCheck[] = [
      // watcher: list + watch what it mirrors, its Lease; no write anywhere else.
      ...['reaperpods.reaper.io', 'reaperoverlays.reaper.io', 'reaperdaemonjobs.reaper.io', 'pods'].flatMap(
        (r) => [allow(W, 'list', r, all), allow(W, 'watch', r, all)],
      ),
      allow(W, 'list', 'nodes'),
      allow(W, 'watch', 'nodes'),
      allow(W, 'create', 'leases.coordination.k8s.io', inSystem),
      allow(W, 'get', lease, inSystem),
      allow(W, 'update', lease, inSystem),
      deny(W, 'update', 'leases.coordination.k8s.io/someone-elses-lease', inSystem),
      deny(W, 'delete', lease, inSystem),
      deny(W, 'create', 'leases.coordination.k8s.io', { namespace: 'kube-system' }),
      deny(W, 'create', 'pods', inNs),
      deny(W, 'patch', 'pods', inNs),
      deny(W, 'delete', 'pods', inNs),
      deny(W, 'create', 'reaperpods.reaper.io', inNs),
      deny(W, 'patch', 'reaperpods.reaper.io', inNs),
      deny(W, 'delete', 'reaperpods.reaper.io', inNs),
      deny(W, 'patch', 'reaperoverlays.reaper.io', inNs),
      deny(W, 'patch', 'reaperdaemonjobs.reaper.io', status),
      deny(W, 'create', 'events', inNs),
      deny(W, 'get', 'secrets', inNs),
      // scheduler: its writes; reads only by get (the world comes from Redis).
      allow(S, 'get', 'reaperpods.reaper.io', inNs),
      allow(S, 'create', 'reaperpods.reaper.io', inNs),
      allow(S, 'delete', 'reaperpods.reaper.io', inNs),
      allow(S, 'get', 'reaperoverlays.reaper.io', inNs),
      allow(S, 'patch', 'reaperoverlays.reaper.io', inNs),
      allow(S, 'patch', 'reaperpods.reaper.io', status),
      allow(S, 'patch', 'reaperoverlays.reaper.io', status),
      allow(S, 'patch', 'reaperdaemonjobs.reaper.io', status),
      allow(S, 'update', 'reaperpods.reaper.io', { namespace: ns, subresource: 'finalizers' }),
      allow(S, 'create', 'pods', inNs),
      allow(S, 'get', 'pods', inNs),
      allow(S, 'delete', 'pods', inNs),
      // The kube-scheduler binds the backing Pods; the scheduler may not.
      deny(S, 'create', 'pods', { namespace: ns, subresource: 'binding' }),
      allow(S, 'create', 'events', inNs),
      allow(S, 'patch', 'events', inNs),
      deny(S, 'get', 'secrets', inNs),
      deny(S, 'get', 'configmaps', inNs),
      deny(S, 'delete', 'nodes'),
      deny(S, 'patch', 'nodes'),
      deny(S, 'update', 'pods', inNs),
      deny(S, 'list', 'reaperpods.reaper.io', all),
      deny(S, 'delete', 'reaperoverlays.reaper.io', inNs),
      deny(S, 'get', 'reaperdaemonjobs.reaper.io', inNs),
      deny(S, 'patch', 'reaperdaemonjobs.reaper.io', inNs),
      deny(S, 'create', 'serviceaccounts', { namespace: SYSTEM_NS, subresource: 'token' }),
      deny(S, 'create', 'clusterrolebindings.rbac.authorization.k8s.io'),
      // node-agent: read an overlay, apply its node's status entry; nothing else.
      allow(A, 'get', 'reaperoverlays.reaper.io', inNs),
      allow(A, 'patch', 'reaperoverlays.reaper.io', status),
      deny(A, 'create', 'pods', inNs),
      deny(A, 'get', 'secrets', inNs),
      deny(A, 'delete', 'reaperpods.reaper.io', inNs),
      deny(A, 'patch', 'reaperoverlays.reaper.io', inNs),
      deny(A, 'list', 'reaperoverlays.reaper.io', all),
      deny(A, 'get', 'nodes'),
      deny(A, 'patch', 'nodes'),
      deny(A, 'create', 'events', inNs),
    ];
    const answers = await canI(checks, SYSTEM_NS);
    console.info(
      `kubectl auth can-i --as=system:serviceaccount:${SYSTEM_NS}:<sa>\n${formatAccessMatrix(answers)}`,
    );
    const wrong = answers
      .filter((a) => a.actual !== a.expected)
      .map((a) => `${a.serviceAccount} ${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}`);
    expect(wrong).toEqual([]);
  }, 90_000);

  it('runs a ReaperPod, a DaemonJob and an overlay end to end, each app on its own ServiceAccount token', async () => {
    const env = testEnv();
    await ensureRbac();
    onTestFailed(() => {
      for (const p of procs) console.error(`----- ${p.app} (pid ${p.pid}) -----\n${p.logs().join('\n')}`);
    });

    // One kubeconfig per component, holding only that ServiceAccount's token.
    const kubeconfigs = {} as Record<AppName, string>;
    for (const app of ['watcher', 'scheduler', 'node-agent'] as const) {
      const path = join(workDir, `${app}.kubeconfig`);
      const user = await writeServiceAccountKubeconfig({
        adminKubeconfigPath: env.kubeconfigPath,
        namespace: SYSTEM_NS,
        serviceAccount: SA[app],
        path,
      });
      expect(user).toBe(`system:serviceaccount:${SYSTEM_NS}:${SA[app]}`);
      kubeconfigs[app] = path;
    }

    node = uniqueNodeName('deploy');
    await addNode(client, { name: node });
    const stateDir = join(workDir, 'agent-state');
    // A Lease left by an earlier run's watcher would make ours wait out its duration.
    await client.delete(Resources.leases, LEASE, { namespace: SYSTEM_NS });

    // The shipped configuration file, with only what differs on this machine overridden.
    const common = {
      REAPER_FLOW_CONFIG: join(workDir, 'reaper-flow.yaml'),
      REDIS_URL: env.redisUrl,
      REAPER_FLOW_PREFIX: `{rf-deploy-${randomBytes(4).toString('hex')}}`,
      METRICS_PORT: '0',
      REAPER_FLOW__METRICS__HOST: '127.0.0.1',
      REAPER_FLOW__DASHBOARD__ENABLED: 'false',
      LOG_LEVEL: 'info',
      // Quick retries: the test waits for convergence.
      REAPER_FLOW__QUEUES__RECONCILE_BACKOFF_MS: '200',
      REAPER_FLOW__QUEUES__FAILED_REQUEUE_MS: '5000',
    };
    const watcher = startAppProcess('watcher', { ...common, KUBECONFIG: kubeconfigs.watcher });
    procs.push(watcher);
    const scheduler = startAppProcess('scheduler', { ...common, KUBECONFIG: kubeconfigs.scheduler });
    procs.push(scheduler);
    const agent = startAppProcess('node-agent', {
      ...common,
      KUBECONFIG: kubeconfigs['node-agent'],
      NODE_NAME: node,
      REAPER_STATE_DIR: stateDir,
    });
    procs.push(agent);

    const running = <T>(work: Promise<T>) => whileRunning(procs, work);
    for (const p of procs) {
      await running(
        waitFor(() => isReady(p), { description: `${p.app} answering 200 on /readyz`, timeoutMs: 90_000 }),
      );
    }
    // The watcher leads (the Lease is held by its process) with its informers synced (/readyz).
    await running(
      waitFor(
        async () => {
          const held = await client.get<{ spec?: { holderIdentity?: string } }>(Resources.leases, LEASE, {
            namespace: SYSTEM_NS,
          });
          return held?.spec?.holderIdentity === `${hostname()}_${watcher.pid}`;
        },
        { description: `Lease ${SYSTEM_NS}/${LEASE} held by the watcher process`, timeoutMs: 30_000 },
      ),
    );
    await running(
      waitFor(() => isReady(watcher), { description: 'the leading watcher synced', timeoutMs: 60_000 }),
    );

    const ns = t.namespace;
    // A ReaperPod: the scheduler creates and binds its Pod, the stand-in kubelet runs it.
    await client.create(
      Resources.reaperPods,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperPod',
        metadata: { name: 'deployed-hello', namespace: ns },
        spec: {
          command: ['/bin/sh', '-c', 'echo hello from $(hostname)'],
          nodeSelector: { 'kubernetes.io/hostname': node },
        },
      },
      { namespace: ns },
    );
    const done = await running(
      waitFor(
        async () => {
          const r = await client.get<RpodObj>(Resources.reaperPods, 'deployed-hello', { namespace: ns });
          return r?.status?.phase === 'Succeeded' ? r : undefined;
        },
        { description: 'ReaperPod deployed-hello Succeeded', timeoutMs: 60_000 },
      ),
    );
    expect(done.status).toMatchObject({
      phase: 'Succeeded',
      exitCode: 0,
      nodeName: node,
      podName: 'deployed-hello',
    });
    const pod = await client.get<{ spec: { runtimeClassName?: string; nodeName?: string } }>(
      Resources.pods,
      'deployed-hello',
      { namespace: ns },
    );
    expect(pod?.spec).toMatchObject({ runtimeClassName: 'reaper-v2', nodeName: node });

    // A ReaperDaemonJob on our node: the scheduler's run creates its ReaperPod and writes its status.
    await client.create(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name: 'deployed-djob', namespace: ns },
        spec: {
          command: ['/bin/sh', '-c', 'echo node $(hostname)'],
          nodeSelector: { 'kubernetes.io/hostname': node },
        },
      },
      { namespace: ns },
    );
    const job = await running(
      waitFor(
        async () => {
          const j = await client.get<DjobObj>(Resources.reaperDaemonJobs, 'deployed-djob', { namespace: ns });
          return j?.status?.phase === 'Completed' ? j : undefined;
        },
        { description: 'ReaperDaemonJob deployed-djob Completed', timeoutMs: 60_000 },
      ),
    );
    expect(job.status).toMatchObject({ readyNodes: 1, totalNodes: 1, failedNodes: 0 });

    // A ReaperOverlay: Ready with the agent's entry for its node, and the overlay on the agent's disk.
    await client.create(
      Resources.reaperOverlays,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperOverlay',
        metadata: { name: 'deployed-overlay', namespace: ns },
        spec: { resetPolicy: 'Manual' },
      },
      { namespace: ns },
    );
    const getOverlay = () =>
      client.get<OverlayObj>(Resources.reaperOverlays, 'deployed-overlay', { namespace: ns });
    const ready = await running(
      waitFor(
        async () => {
          const o = await getOverlay();
          const entry = o?.status?.nodes?.find((n) => n.nodeName === node);
          return o?.status?.phase === 'Ready' && entry?.ready === true ? o : undefined;
        },
        { description: `ReaperOverlay deployed-overlay Ready with ${node} ready`, timeoutMs: 60_000 },
      ),
    );
    expect(ready.metadata.finalizers).toContain('reaper.io/overlay-cleanup');
    const onDisk = overlayPaths(stateDir, ns, 'deployed-overlay').overlayDir;
    expect(existsSync(onDisk)).toBe(true);

    // Its deletion completes: the agent cleans its node, the scheduler removes the finalizer.
    // Every node of the cluster must report clean, so a node of another test file (its agents serve
    // another queue prefix) holds the deletion until that node is removed: hence the long timeout;
    // with only our node, this takes a second or two.
    await client.delete(Resources.reaperOverlays, 'deployed-overlay', { namespace: ns });
    await running(
      waitFor(async () => (await getOverlay()) === undefined, {
        description: 'ReaperOverlay deployed-overlay gone (finalizer removed)',
        timeoutMs: 180_000,
      }),
    ).catch(async (err: Error) => {
      // The status message names the nodes the deletion waits for.
      throw new Error(`${err.message}; overlay status: ${JSON.stringify((await getOverlay())?.status)}`);
    });
    expect(existsSync(onDisk)).toBe(false);

    // Least privilege held: no request of any app was refused.
    for (const p of procs) {
      expect(
        p.logs().filter((l) => /forbidden/i.test(l)),
        `${p.app} logged no Forbidden`,
      ).toEqual([]);
    }
    const peaks = await Promise.all(procs.map(async (p) => `${p.app} ${await p.peakRssMiB()} MiB`));
    console.info(`peak RSS: ${peaks.join(', ')}`);

    // They stop cleanly on SIGTERM, as a Pod's containers are stopped.
    const exits = await Promise.all(procs.map((p) => p.stop()));
    expect(exits).toEqual(procs.map(() => ({ code: 0, signal: null })));
  }, 360_000);
});
