import { describe, expect, it } from 'vitest';
import { isDnsLabel } from '../schemas/names';
import type { Persisted } from '../schemas/object-meta';
import { parseReaperDaemonJob, type ReaperDaemonJob } from '../schemas/reaper-daemon-job';
import { parseReaperPod, type ReaperPod } from '../schemas/reaper-pod';
import { seedExample } from '../schemas/seed-examples.test-support';
import { desiredPod } from './desired-pod';
import { desiredReaperPodForNode, reaperPodNameFor } from './desired-reaper-pod';
import { isLabelValue } from './labels';

const JOB_UID = '0d9f5a43-0000-4000-8000-00000000000a';

function storedJob(name: string, namespace = 'demo'): Persisted<ReaperDaemonJob> {
  const example = seedExample('ReaperDaemonJob', name);
  const result = parseReaperDaemonJob({
    ...example,
    metadata: { ...example.metadata, namespace, uid: JOB_UID },
  });
  if (!result.ok) throw new Error(result.issues.join('\n'));
  return result.value as Persisted<ReaperDaemonJob>;
}

function jobOwner(name: string) {
  return {
    apiVersion: 'reaper.io/v1alpha1',
    kind: 'ReaperDaemonJob',
    name,
    uid: JOB_UID,
    controller: true,
    blockOwnerDeletion: true,
  };
}

describe('desiredReaperPodForNode', () => {
  it('pins the install-packages job to a node, copying the workload but not the nodeSelector', () => {
    const expected: ReaperPod = {
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperPod',
      metadata: {
        name: 'install-packages-worker-1',
        namespace: 'demo',
        labels: {
          'app.kubernetes.io/managed-by': 'reaper-flow',
          'reaper.io/daemon-job': 'install-packages',
          'reaper.io/node': 'worker-1',
          'reaper.io/daemon-job-node': 'worker-1',
        },
        annotations: { 'reaper.io/run-id': 'run-42', 'reaper.io/attempt': '1' },
        ownerReferences: [jobOwner('install-packages')],
      },
      spec: {
        command: ['/bin/sh', '-c'],
        args: [
          'cat /var/lib/reaper-flow-examples/mount-filesystems.marker && echo "would run: apt-get update && apt-get install -y htop" && touch /var/lib/reaper-flow-examples/install-packages.marker',
        ],
        overlayName: 'node-config',
        nodeName: 'worker-1',
      },
    };
    expect(
      desiredReaperPodForNode(storedJob('install-packages'), 'worker-1', { runId: 'run-42', attempt: 1 }),
    ).toStrictEqual(expected);
  });

  it('copies every workload field a job carries and leaves out run annotations that are not given', () => {
    const base = storedJob('node-info');
    const job: Persisted<ReaperDaemonJob> = {
      ...base,
      spec: {
        ...base.spec,
        env: [{ name: 'A', value: '1' }],
        volumes: [{ name: 'scratch', mountPath: '/scratch', emptyDir: true }],
        workingDir: '/srv',
        dnsMode: 'host',
        runAsUser: 0,
        runAsGroup: 0,
        tolerations: [{ operator: 'Exists' }],
        nodeSelector: { role: 'compute' },
      },
    };
    expect(desiredReaperPodForNode(job, 'worker-2')).toStrictEqual({
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperPod',
      metadata: {
        name: 'node-info-worker-2',
        namespace: 'demo',
        labels: {
          'app.kubernetes.io/managed-by': 'reaper-flow',
          'reaper.io/daemon-job': 'node-info',
          'reaper.io/node': 'worker-2',
          'reaper.io/daemon-job-node': 'worker-2',
        },
        ownerReferences: [jobOwner('node-info')],
      },
      spec: {
        command: ['/bin/sh', '-c'],
        args: ['echo "Node: $(hostname)"\necho "Kernel: $(uname -r)"\n'],
        env: [{ name: 'A', value: '1' }],
        volumes: [{ name: 'scratch', mountPath: '/scratch', emptyDir: true }],
        workingDir: '/srv',
        dnsMode: 'host',
        runAsUser: 0,
        runAsGroup: 0,
        tolerations: [{ operator: 'Exists' }],
        nodeName: 'worker-2',
      },
    });
  });

  it('produces a ReaperPod that passes the ReaperPod schema and whose Pod carries the job labels', () => {
    const rpod = desiredReaperPodForNode(storedJob('mount-filesystems'), 'worker-1', { attempt: 0 });
    expect(parseReaperPod(rpod)).toEqual({ ok: true, value: rpod });
    const pod = desiredPod({ ...rpod, metadata: { ...rpod.metadata, namespace: 'demo', uid: 'rpod-uid' } });
    expect(pod.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'reaper-flow',
      'reaper.io/reaper-pod': 'mount-filesystems-worker-1',
      'reaper.io/owner': 'mount-filesystems-worker-1',
      'reaper.io/daemon-job': 'mount-filesystems',
      'reaper.io/node': 'worker-1',
      'reaper.io/daemon-job-node': 'worker-1',
    });
  });

  it('gives long job and node names a valid, stable, shortened ReaperPod name and label values', () => {
    const job = storedJob('node-info');
    const longJob: Persisted<ReaperDaemonJob> = {
      ...job,
      metadata: { ...job.metadata, name: `nightly-${'j'.repeat(60)}` },
    };
    const node = `ip-10-0-12-34.${'zone'.repeat(20)}.compute.internal`;
    const rpod = desiredReaperPodForNode(longJob, node);
    expect(isDnsLabel(rpod.metadata.name)).toBe(true);
    expect(rpod.metadata.name).toMatch(/^nightly-j+-[0-9a-z]{10}$/);
    expect(rpod.metadata.name).toHaveLength(63);
    expect(desiredReaperPodForNode(longJob, node).metadata.name).toBe(rpod.metadata.name);
    for (const value of Object.values(rpod.metadata.labels ?? {})) expect(isLabelValue(value)).toBe(true);
    expect(parseReaperPod(rpod)).toMatchObject({ ok: true });
  });
});

describe('reaperPodNameFor', () => {
  it('is <job>-<node> when that is a DNS label of at most 63 characters', () => {
    expect(reaperPodNameFor('node-info', 'worker-1')).toBe('node-info-worker-1');
    expect(reaperPodNameFor('a'.repeat(30), 'b'.repeat(32))).toBe(`${'a'.repeat(30)}-${'b'.repeat(32)}`);
  });

  it('hashes a name of 64 characters down to 63', () => {
    const name = reaperPodNameFor('a'.repeat(31), 'b'.repeat(32));
    expect(name).toHaveLength(63);
    expect(isDnsLabel(name)).toBe(true);
  });

  it('turns a node name with dots into a valid label name instead of a subdomain', () => {
    const name = reaperPodNameFor('node-info', 'node-1.example.com');
    expect(name).toMatch(/^node-info-node-1-example-com-[0-9a-z]{10}$/);
  });

  it('gives different names to different nodes whose shortened forms would collide', () => {
    const job = 'j'.repeat(60);
    expect(reaperPodNameFor(job, 'node-a')).not.toBe(reaperPodNameFor(job, 'node-b'));
    expect(reaperPodNameFor('job', 'node.a')).not.toBe(reaperPodNameFor('job', 'node-a'));
  });
});
