import { describe, expect, it } from 'vitest';
import type { Pod } from '../k8s-types';
import type { Persisted } from '../schemas/object-meta';
import { parseReaperPod, type ReaperPod } from '../schemas/reaper-pod';
import { seedExample, seedExampleNames } from '../schemas/seed-examples.test-support';
import { desiredPod } from './desired-pod';

const NAMESPACE = 'demo';
const UID = '6f1c2a9e-0000-4000-8000-000000000001';

/** A seed example as the API server would return it: parsed, with namespace and uid. */
function storedExample(name: string): Persisted<ReaperPod> {
  const example = seedExample('ReaperPod', name);
  const result = parseReaperPod({
    ...example,
    metadata: { ...example.metadata, namespace: NAMESPACE, uid: UID },
  });
  if (!result.ok) throw new Error(result.issues.join('\n'));
  return result.value as Persisted<ReaperPod>;
}

function podMeta(name: string, extra: { annotations?: Record<string, string> } = {}) {
  return {
    name,
    namespace: NAMESPACE,
    labels: {
      'app.kubernetes.io/managed-by': 'reaper-flow',
      'reaper.io/reaper-pod': name,
      'reaper.io/owner': name,
    },
    ...extra,
    ownerReferences: [
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperPod',
        name,
        uid: UID,
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  };
}

const expectedPods: Readonly<Record<string, Pod>> = {
  'hello-world': {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: podMeta('hello-world'),
    spec: {
      runtimeClassName: 'reaper-v2',
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'reaper/placeholder:v1',
          command: ['/bin/sh', '-c', 'echo Hello from $(hostname) at $(date)'],
        },
      ],
    },
  },
  'with-config': {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: podMeta('with-config'),
    spec: {
      runtimeClassName: 'reaper-v2',
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'reaper/placeholder:v1',
          command: ['/bin/sh', '-c', 'cat /config/greeting'],
          volumeMounts: [{ name: 'config', mountPath: '/config', readOnly: true }],
        },
      ],
      volumes: [{ name: 'config', configMap: { name: 'app-config' } }],
    },
  },
  'compute-task': {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: podMeta('compute-task'),
    spec: {
      runtimeClassName: 'reaper-v2',
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'reaper/placeholder:v1',
          command: ['/bin/sh', '-c', 'echo Running on $(hostname)'],
        },
      ],
      nodeSelector: { 'workload-type': 'compute' },
    },
  },
  'install-slurm': {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: podMeta('install-slurm', { annotations: { 'reaper.runtime/overlay-name': 'slurm' } }),
    spec: {
      runtimeClassName: 'reaper-v2',
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'reaper/placeholder:v1',
          command: [
            'bash',
            '-c',
            'echo "would run: apt-get update && apt-get install -y slurm-wlm" && mkdir -p /tmp/reaper-flow-examples && touch /tmp/reaper-flow-examples/install-slurm.marker',
          ],
        },
      ],
    },
  },
};

describe('desiredPod', () => {
  it('has an expected Pod for every ReaperPod in infra/examples', () => {
    expect(Object.keys(expectedPods).sort()).toEqual(seedExampleNames('ReaperPod').sort());
  });

  it.each(Object.keys(expectedPods))('builds the whole backing Pod of the seed example %s', (name) => {
    expect(desiredPod(storedExample(name))).toEqual(expectedPods[name]);
  });

  it('maps every workload field: env sources, all volume kinds, identity, placement and runtime annotations', () => {
    const rpod: Persisted<ReaperPod> = {
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperPod',
      metadata: {
        name: 'nightly-node-a',
        namespace: 'ops',
        uid: 'uid-7',
        labels: {
          'reaper.io/daemon-job': 'nightly',
          'reaper.io/node': 'node-a',
          'reaper.io/daemon-job-node': 'node-a',
          team: 'infra',
        },
      },
      spec: {
        command: ['/usr/bin/env'],
        args: ['-0'],
        env: [
          { name: 'EMPTY', value: '' },
          { name: 'GREETING', value: 'hi' },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token', optional: true } } },
          { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
        ],
        volumes: [
          { name: 'config', mountPath: '/etc/config', configMap: 'my-configmap', readOnly: true },
          { name: 'secret', mountPath: '/etc/secret', secret: 'my-secret' },
          { name: 'host', mountPath: '/data', hostPath: '/opt/data', readOnly: false },
          { name: 'scratch', mountPath: '/tmp/work', emptyDir: true },
        ],
        workingDir: '/srv',
        runAsUser: 1000,
        runAsGroup: 2000,
        dnsMode: 'kubernetes',
        overlayName: 'node-config',
        nodeName: 'node-a',
        nodeSelector: { role: 'compute' },
        tolerations: [
          { key: 'dedicated', operator: 'Equal', value: 'reaper', effect: 'NoSchedule' },
          { operator: 'Exists' },
        ],
      },
    };
    const expected: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'nightly-node-a',
        namespace: 'ops',
        labels: {
          'app.kubernetes.io/managed-by': 'reaper-flow',
          'reaper.io/reaper-pod': 'nightly-node-a',
          'reaper.io/owner': 'nightly-node-a',
          'reaper.io/daemon-job': 'nightly',
          'reaper.io/node': 'node-a',
          'reaper.io/daemon-job-node': 'node-a',
        },
        annotations: {
          'reaper.runtime/dns-mode': 'kubernetes',
          'reaper.runtime/overlay-name': 'node-config',
        },
        ownerReferences: [
          {
            apiVersion: 'reaper.io/v1alpha1',
            kind: 'ReaperPod',
            name: 'nightly-node-a',
            uid: 'uid-7',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        runtimeClassName: 'reaper-v2',
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'reaper/placeholder:v1',
            command: ['/usr/bin/env'],
            args: ['-0'],
            env: [
              { name: 'EMPTY', value: '' },
              { name: 'GREETING', value: 'hi' },
              { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token', optional: true } } },
              { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
            ],
            workingDir: '/srv',
            volumeMounts: [
              { name: 'config', mountPath: '/etc/config', readOnly: true },
              { name: 'secret', mountPath: '/etc/secret' },
              { name: 'host', mountPath: '/data', readOnly: false },
              { name: 'scratch', mountPath: '/tmp/work' },
            ],
            securityContext: { runAsUser: 1000, runAsGroup: 2000 },
          },
        ],
        volumes: [
          { name: 'config', configMap: { name: 'my-configmap' } },
          { name: 'secret', secret: { secretName: 'my-secret' } },
          { name: 'host', hostPath: { path: '/opt/data' } },
          { name: 'scratch', emptyDir: {} },
        ],
        nodeSelector: { role: 'compute' },
        nodeName: 'node-a',
        tolerations: [
          { key: 'dedicated', operator: 'Equal', value: 'reaper', effect: 'NoSchedule' },
          { operator: 'Exists' },
        ],
      },
    };
    expect(desiredPod(rpod)).toStrictEqual(expected);
  });

  it('sets only the security context fields that are given', () => {
    const rpod = { ...storedExample('hello-world') };
    const pod = desiredPod({ ...rpod, spec: { ...rpod.spec, runAsGroup: 0 } });
    expect(pod.spec.containers[0]?.securityContext).toEqual({ runAsGroup: 0 });
  });

  it('shortens a ReaperPod name that is too long for a label value, stably', () => {
    const rpod = storedExample('hello-world');
    const name = `${'x'.repeat(70)}.example`;
    const pod = desiredPod({ ...rpod, metadata: { ...rpod.metadata, name } });
    const value = pod.metadata.labels?.['reaper.io/reaper-pod'] ?? '';
    expect(pod.metadata.name).toBe(name);
    expect(value).toMatch(/^x{52}-[0-9a-z]{10}$/);
    expect(desiredPod({ ...rpod, metadata: { ...rpod.metadata, name } }).metadata.labels).toEqual(
      pod.metadata.labels,
    );
  });

  it('does not change the ReaperPod it is given', () => {
    const rpod = storedExample('with-config');
    const before = structuredClone(rpod);
    desiredPod(rpod);
    expect(rpod).toStrictEqual(before);
  });
});
