import { describe, expect, it } from 'vitest';
import { parseReaperPod, parseReaperPodSpec, parseReaperPodStatus } from './reaper-pod';
import { seedExample, seedExampleNames } from './seed-examples.test-support';

function issuesOf(spec: unknown): readonly string[] {
  const result = parseReaperPodSpec(spec);
  return result.ok ? [] : result.issues;
}

const cmd = { command: ['true'] };

describe('ReaperPod schema', () => {
  it.each(seedExampleNames('ReaperPod'))('accepts the seed example %s', (name) => {
    expect(parseReaperPod(seedExample('ReaperPod', name))).toMatchObject({ ok: true });
  });

  it('keeps every workload field a DaemonJob passes down', () => {
    const spec = {
      command: ['/bin/sh', '-c', 'id'],
      args: ['x'],
      env: [{ name: 'A', value: '1' }],
      volumes: [{ name: 'scratch', mountPath: '/scratch', emptyDir: true }],
      nodeSelector: { role: 'compute' },
      dnsMode: 'kubernetes',
      overlayName: 'node-config',
      nodeName: 'node-a.example.com',
      workingDir: '/srv',
      runAsUser: 1000,
      runAsGroup: 1000,
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'reaper', effect: 'NoSchedule' }],
    };
    expect(parseReaperPodSpec(spec)).toEqual({ ok: true, value: spec });
  });

  it('rejects a volume with no source', () => {
    expect(issuesOf({ ...cmd, volumes: [{ name: 'v', mountPath: '/v' }] })).toEqual([
      'volumes[0]: volume must set exactly one of configMap, secret, hostPath, emptyDir (found none)',
    ]);
  });

  it('treats emptyDir: false as no source', () => {
    expect(issuesOf({ ...cmd, volumes: [{ name: 'v', mountPath: '/v', emptyDir: false }] })[0]).toMatch(
      /^volumes\[0\]: volume must set exactly one of .* \(found none\)/,
    );
  });

  it('rejects a volume with two sources and names them', () => {
    expect(
      issuesOf({ ...cmd, volumes: [{ name: 'v', mountPath: '/v', configMap: 'c', secret: 's' }] }),
    ).toEqual([
      'volumes[0]: volume must set exactly one of configMap, secret, hostPath, emptyDir (found configMap, secret)',
    ]);
  });

  it('rejects two volumes with the same name', () => {
    const v = { name: 'v', mountPath: '/v', emptyDir: true };
    expect(issuesOf({ ...cmd, volumes: [v, { ...v, mountPath: '/w' }] })).toEqual([
      'volumes[1].name: duplicate name "v"',
    ]);
  });

  it('rejects a relative mountPath', () => {
    expect(issuesOf({ ...cmd, volumes: [{ name: 'v', mountPath: 'v', emptyDir: true }] })).toEqual([
      'volumes[0].mountPath: must be an absolute path (got "v")',
    ]);
  });

  it.each([
    ['/', 'must not be / or a system directory'],
    ['//', 'must not be / or a system directory'],
    ['/usr/', 'must not be / or a system directory'],
    ['/proc', 'must not be / or a system directory'],
    ['/data/../etc', "must not contain '.' or '..' segments"],
    ['/data/.', "must not contain '.' or '..' segments"],
  ])('rejects the mountPath %s, naming the field', (mountPath, message) => {
    const issues = issuesOf({ ...cmd, volumes: [{ name: 'v', mountPath, emptyDir: true }] });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(`volumes[0].mountPath: ${message}`);
  });

  it('accepts mount paths below system directories and names with dots', () => {
    for (const mountPath of ['/etc/app', '/usr/local/data', '/data/.cache', '/data/..x', '/srv'])
      expect(issuesOf({ ...cmd, volumes: [{ name: 'v', mountPath, emptyDir: true }] })).toEqual([]);
  });

  it('rejects nodeSelector keys and values that are not label syntax', () => {
    expect(
      issuesOf({ ...cmd, nodeSelector: { 'kubernetes.io/hostname': 'ip-10-0-0-1.ec2.internal' } }),
    ).toEqual([]);
    expect(issuesOf({ ...cmd, nodeSelector: { 'bad key!': 'x' } })[0]).toMatch(
      /^nodeSelector\.bad key!: keys must be label keys/,
    );
    expect(issuesOf({ ...cmd, nodeSelector: { role: 'not valid!' } })[0]).toMatch(
      /^nodeSelector\.role: must be a label value/,
    );
  });

  it('rejects an environment variable name the API server would refuse in the Pod', () => {
    expect(issuesOf({ ...cmd, env: [{ name: 'A=B', value: 'x' }] })).toEqual([
      `env[0].name: must consist only of printable ASCII characters other than '=' (got "A=B")`,
    ]);
    expect(issuesOf({ ...cmd, env: [{ name: 'my.var-1', value: 'x' }] })).toEqual([]);
  });

  it('accepts literal, Secret and ConfigMap environment variables', () => {
    const env = [
      { name: 'EMPTY', value: '' },
      { name: 'LITERAL', value: 'x' },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token', optional: true } } },
      { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
    ];
    expect(parseReaperPodSpec({ ...cmd, env })).toEqual({ ok: true, value: { ...cmd, env } });
  });

  it('rejects an env var with both value and valueFrom, or with neither', () => {
    const message = 'env var must set exactly one of value, valueFrom';
    const both = [{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }];
    expect(issuesOf({ ...cmd, env: both })).toEqual([`env[0]: ${message}`]);
    expect(issuesOf({ ...cmd, env: [{ name: 'A' }] })).toEqual([`env[0]: ${message}`]);
  });

  it('rejects a valueFrom with both or neither key reference', () => {
    const both = { secretKeyRef: { name: 's', key: 'k' }, configMapKeyRef: { name: 'c', key: 'k' } };
    const message = 'valueFrom must set exactly one of secretKeyRef, configMapKeyRef';
    expect(issuesOf({ ...cmd, env: [{ name: 'A', valueFrom: both }] })).toEqual([
      `env[0].valueFrom: ${message}`,
    ]);
    expect(issuesOf({ ...cmd, env: [{ name: 'A', valueFrom: {} }] })).toEqual([
      `env[0].valueFrom: ${message}`,
    ]);
  });

  it('rejects a dnsMode other than host or kubernetes', () => {
    expect(issuesOf({ ...cmd, dnsMode: 'none' })).toEqual([
      'dnsMode: Invalid option: expected one of "host"|"kubernetes" (got "none")',
    ]);
  });

  it('rejects a toleration operator outside Exists and Equal', () => {
    expect(issuesOf({ ...cmd, tolerations: [{ operator: 'In' }] })).toEqual([
      'tolerations[0].operator: Invalid option: expected one of "Exists"|"Equal" (got "In")',
    ]);
  });

  it('rejects an object of another kind or version', () => {
    const result = parseReaperPod({
      apiVersion: 'reaper.io/v1',
      kind: 'ReaperPod',
      metadata: { name: 'x' },
      spec: cmd,
    });
    expect(result).toEqual({
      ok: false,
      issues: ['apiVersion: Invalid input: expected "reaper.io/v1alpha1" (got "reaper.io/v1")'],
    });
  });

  it('accepts a full status and rejects a malformed timestamp', () => {
    const status = {
      phase: 'Succeeded',
      podName: 'p',
      nodeName: 'n',
      exitCode: 0,
      startTime: '2024-05-01T10:00:00Z',
      completionTime: '2024-05-01T10:00:05Z',
      message: 'Completed',
      observedGeneration: 2,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'PodCompleted',
          message: '',
          lastTransitionTime: '2024-05-01T10:00:05Z',
        },
      ],
    };
    expect(parseReaperPodStatus(status)).toEqual({ ok: true, value: status });
    expect(parseReaperPodStatus({ startTime: 'yesterday' })).toEqual({
      ok: false,
      issues: ['startTime: Invalid ISO datetime (got "yesterday")'],
    });
  });

  it('keeps unknown metadata fields so an object can be written back whole', () => {
    const metadata = {
      name: 'x',
      managedFields: [{ manager: 'kubectl' }],
      creationTimestamp: '2024-05-01T10:00:00Z',
    };
    const result = parseReaperPod({
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperPod',
      metadata,
      spec: cmd,
    });
    expect(result).toEqual({
      ok: true,
      value: { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperPod', metadata, spec: cmd },
    });
  });
});
