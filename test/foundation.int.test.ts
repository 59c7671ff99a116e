// The ground the rest of reaper-flow stands on: a real API server with RBAC, ServiceAccount tokens and
// garbage collection, simulated nodes, and the stand-in kubelet running pods of RuntimeClass reaper-v2.
import { ApiError, type KubeClient, type ResourceRef, Resources } from '@reaper-flow/k8s';
import {
  addNode,
  DAEMON_JOB_LABEL,
  FAULTS_CONFIGMAP,
  FAULTS_NAMESPACE,
  faultKey,
  isNodeReady,
  type Node,
  type Pod,
  RUNTIME_CLASS,
  rebootNode,
  removeNode,
  setNodeFault,
} from '@reaper-flow/local-cluster';
import { afterAll, describe, expect, it } from 'vitest';
import { uniqueNodeName, useTestNamespace, waitFor } from './harness';

const roles: ResourceRef = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  plural: 'roles',
  kind: 'Role',
  namespaced: true,
};
const roleBindings: ResourceRef = { ...roles, plural: 'rolebindings', kind: 'RoleBinding' };

describe('foundation: local control plane and stand-in kubelet', () => {
  const t = useTestNamespace('foundation');
  const nodes: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
    for (const node of nodes) await removeNode(t.client, node);
  });

  async function newNode(): Promise<string> {
    const name = uniqueNodeName('foundation');
    nodes.push(name);
    await addNode(t.client, { name });
    return name;
  }

  function podSpec(
    name: string,
    node: string,
    command: string[],
    extra: {
      labels?: Record<string, string>;
      runtimeClassName?: string;
      spec?: Record<string, unknown>;
    } = {},
  ): Pod {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: t.namespace, labels: extra.labels ?? {} },
      spec: {
        nodeName: node,
        runtimeClassName: extra.runtimeClassName ?? RUNTIME_CLASS,
        containers: [{ name: 'main', image: 'reaper/none', command }],
        ...extra.spec,
      },
    } as Pod;
  }

  function createPod(pod: Pod): Promise<Pod> {
    return t.client.create<Pod>(Resources.pods, pod, { namespace: t.namespace });
  }

  function podEnded(name: string): Promise<Pod> {
    return waitFor(
      async () => {
        const pod = await t.client.get<Pod>(Resources.pods, name, { namespace: t.namespace });
        const phase = pod?.status?.phase;
        return phase === 'Succeeded' || phase === 'Failed' ? pod : undefined;
      },
      { description: `pod ${name} in a terminal phase`, timeoutMs: 30_000 },
    );
  }

  const exitCodeOf = (pod: Pod) => pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode;

  it('a pod on a simulated node runs its command and ends Failed with its exit code', async () => {
    const node = await newNode();
    await createPod(podSpec('exit-three', node, ['sh', '-c', 'exit 3']));

    const pod = await podEnded('exit-three');

    expect(pod.status?.phase).toBe('Failed');
    expect(exitCodeOf(pod)).toBe(3);
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.reason).toBe('Error');
    expect(pod.status?.startTime).toBeTruthy();
  }, 60_000);

  it('a pod sees its configMap and secret volumes at their mountPath, their keys as env vars, and the node as hostname', async () => {
    const node = await newNode();
    await t.client.create(
      Resources.configMaps,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'greeting' },
        data: { greeting: 'hello from a configmap' },
      },
      { namespace: t.namespace },
    );
    await t.client.create(
      Resources.secrets,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'creds' },
        data: { password: Buffer.from('s3cret').toString('base64') },
      },
      { namespace: t.namespace },
    );
    // Each check exits with its own code, so a failure says which one.
    const script = [
      'cat /cfg/greeting; echo; echo "$GREETING"',
      'test "$(cat /cfg/greeting)" = "hello from a configmap" || exit 10',
      'test "$GREETING" = "hello from a configmap" || exit 11',
      'test "$(cat /creds/password)" = s3cret || exit 12',
      'test "$PASSWORD" = s3cret || exit 13',
      `test "$(hostname)" = ${node} || exit 14`,
      'test "$(pwd)" = /cfg || exit 15',
      'touch /cfg/x 2>/dev/null && exit 16',
      'exit 0',
    ].join('\n');
    await createPod(
      podSpec('config', node, ['sh', '-c', script], {
        spec: {
          volumes: [
            { name: 'cfg', configMap: { name: 'greeting' } },
            { name: 'creds', secret: { secretName: 'creds' } },
          ],
          containers: [
            {
              name: 'main',
              image: 'reaper/none',
              command: ['sh', '-c', script],
              workingDir: '/cfg',
              env: [
                { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'greeting', key: 'greeting' } } },
                { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
              ],
              volumeMounts: [
                { name: 'cfg', mountPath: '/cfg', readOnly: true },
                { name: 'creds', mountPath: '/creds', readOnly: true },
              ],
            },
          ],
        },
      }),
    );

    const pod = await podEnded('config');

    expect(exitCodeOf(pod)).toBe(0);
    expect(pod.status?.phase).toBe('Succeeded');
  }, 60_000);

  it('a pod whose env refers to a missing key fails with CreateContainerConfigError', async () => {
    const node = await newNode();
    await t.client.create(
      Resources.configMaps,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'no-such-key' }, data: { other: 'x' } },
      { namespace: t.namespace },
    );
    await createPod(
      podSpec('missing-key', node, ['true'], {
        spec: {
          containers: [
            {
              name: 'main',
              image: 'reaper/none',
              command: ['true'],
              env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'no-such-key', key: 'wanted' } } }],
            },
          ],
        },
      }),
    );

    const pod = await podEnded('missing-key');

    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.reason).toBe('CreateContainerConfigError');
    expect(pod.status?.message).toContain('wanted');
  }, 60_000);

  it('deleting a running pod stops its process and removes the pod', async () => {
    const node = await newNode();
    await createPod(podSpec('sleeper', node, ['sleep', '600']));
    await waitFor(
      async () =>
        (await t.client.get<Pod>(Resources.pods, 'sleeper', { namespace: t.namespace }))?.status?.phase ===
        'Running',
      { description: 'pod sleeper Running' },
    );

    await t.client.delete(Resources.pods, 'sleeper', { namespace: t.namespace });

    await waitFor(
      async () => !(await t.client.get<Pod>(Resources.pods, 'sleeper', { namespace: t.namespace })),
      {
        description: 'pod sleeper gone',
        timeoutMs: 20_000,
      },
    );
  }, 60_000);

  it('deleting an owner removes its dependents through garbage collection', async () => {
    const owner = await t.client.create<{ metadata: { uid: string } }>(
      Resources.configMaps,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' }, data: {} },
      { namespace: t.namespace },
    );
    await t.client.create(
      Resources.configMaps,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'child',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid }],
        },
        data: {},
      },
      { namespace: t.namespace },
    );

    await t.client.delete(Resources.configMaps, 'owner', { namespace: t.namespace });

    await waitFor(
      async () => !(await t.client.get(Resources.configMaps, 'child', { namespace: t.namespace })),
      {
        description: 'configmap child garbage-collected',
      },
    );
  }, 60_000);

  it('a ServiceAccount token from TokenRequest is refused what RBAC does not grant and allowed what it does', async () => {
    const ns = t.namespace;
    await t.client.create(
      Resources.serviceAccounts,
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader' } },
      { namespace: ns },
    );
    await t.client.create(
      Resources.pods,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'target' },
        spec: { containers: [{ name: 'c', image: 'reaper/none' }] },
      },
      { namespace: ns },
    );
    const tokenRequest = await t.client.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/reader/token`,
      {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { expirationSeconds: 600 },
        },
      },
    );
    const reader: KubeClient = await t.client.withToken(tokenRequest.status.token);
    try {
      const denied = await reader.get(Resources.pods, 'target', { namespace: ns }).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(ApiError);
      expect((denied as ApiError).code).toBe('Forbidden');
      expect((denied as ApiError).httpStatus).toBe(403);

      await t.client.create(
        roles,
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'pod-getter' },
          rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
        },
        { namespace: ns },
      );
      await t.client.create(
        roleBindings,
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'reader-gets-pods' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-getter' },
          subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
        },
        { namespace: ns },
      );

      // RBAC is enforced from the API server's informer cache: the grant takes effect shortly after.
      const pod = await waitFor(() => reader.get<Pod>(Resources.pods, 'target', { namespace: ns }), {
        description: 'reader may get pod target',
      });
      expect(pod.metadata.name).toBe('target');
      const stillDenied = await reader.list(Resources.secrets, { namespace: ns }).catch((e: unknown) => e);
      expect((stillDenied as ApiError).code).toBe('Forbidden');
    } finally {
      reader.close();
    }
  }, 60_000);

  it('a node reboot toggles Ready (False, then True) and changes the bootID', async () => {
    const node = await newNode();
    const list = await t.client.list<Node>(Resources.nodes, { fieldSelector: `metadata.name=${node}` });
    const seen: boolean[] = [];
    const abort = new AbortController();
    // Watching from the listed resourceVersion: no update made after the list can be missed.
    const watching = (async () => {
      for await (const event of t.client.watch<Node>(Resources.nodes, {
        fieldSelector: `metadata.name=${node}`,
        resourceVersion: list.metadata.resourceVersion,
        signal: abort.signal,
      })) {
        if (event.type === 'MODIFIED') seen.push(isNodeReady(event.object));
      }
    })();
    try {
      const { previousBootID, bootID } = await rebootNode(t.client, node, { downMs: 300 });

      await waitFor(() => seen.includes(false) && seen.lastIndexOf(true) > seen.indexOf(false), {
        description: `Ready False then True on ${node} (seen ${JSON.stringify(seen)})`,
      });
      expect(bootID).not.toBe(previousBootID);
      const after = await t.client.get<Node>(Resources.nodes, node);
      expect(after?.status?.nodeInfo?.bootID).toBe(bootID);
      expect(after && isNodeReady(after)).toBe(true);
    } finally {
      abort.abort();
      await watching;
    }
  }, 60_000);

  it('the fault switch makes the next run of a job fail with exit 1 and the one after succeed', async () => {
    const node = await newNode();
    const labels = { [DAEMON_JOB_LABEL]: 'nightly' };
    await setNodeFault(t.client, { namespace: t.namespace, job: 'nightly', node, times: 1 });

    await createPod(podSpec('nightly-1', node, ['sh', '-c', 'exit 0'], { labels }));
    const first = await podEnded('nightly-1');
    await createPod(podSpec('nightly-2', node, ['sh', '-c', 'exit 0'], { labels }));
    const second = await podEnded('nightly-2');

    expect(first.status?.phase).toBe('Failed');
    expect(exitCodeOf(first)).toBe(1);
    expect(second.status?.phase).toBe('Succeeded');
    expect(exitCodeOf(second)).toBe(0);
    const faults = await t.client.get<{ data?: Record<string, string> }>(
      Resources.configMaps,
      FAULTS_CONFIGMAP,
      {
        namespace: FAULTS_NAMESPACE,
      },
    );
    expect(faults?.data?.[faultKey(t.namespace, 'nightly', node)]).toBeUndefined();
  }, 60_000);

  it('a pod of another runtimeClass is left alone and stays Pending', async () => {
    const node = await newNode();
    const otherClass = `${t.namespace}-other`;
    await t.client.create(Resources.runtimeClasses, {
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: otherClass },
      handler: 'other',
    });
    cleanups.push(() => t.client.delete(Resources.runtimeClasses, otherClass));
    // No kubelet finishes its deletion: remove it at once, or the namespace could never go away.
    cleanups.push(() =>
      t.client.delete(Resources.pods, 'foreign', { namespace: t.namespace, gracePeriodSeconds: 0 }),
    );
    await createPod(podSpec('foreign', node, ['sh', '-c', 'exit 0'], { runtimeClassName: otherClass }));
    // The kubelet handles pods in the order it sees them: once a reaper-v2 pod created after
    // `foreign` on the same node has run, `foreign` has been seen, and skipped.
    await createPod(podSpec('witness', node, ['sh', '-c', 'exit 0']));
    await podEnded('witness');

    const foreign = await t.client.get<Pod>(Resources.pods, 'foreign', { namespace: t.namespace });

    expect(foreign?.status?.phase).toBe('Pending');
    expect(foreign?.status?.containerStatuses).toBeUndefined();
    expect(foreign?.status?.startTime).toBeUndefined();
  }, 60_000);
});
