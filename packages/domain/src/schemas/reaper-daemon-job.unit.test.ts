import { describe, expect, it } from 'vitest';
import {
  parseReaperDaemonJob,
  parseReaperDaemonJobSpec,
  parseReaperDaemonJobStatus,
} from './reaper-daemon-job';
import { seedExample, seedExampleNames } from './seed-examples.test-support';

function issuesOf(spec: unknown): readonly string[] {
  const result = parseReaperDaemonJobSpec(spec);
  return result.ok ? [] : result.issues;
}

describe('ReaperDaemonJob schema', () => {
  it('fills triggerOn, retryLimit and concurrencyPolicy defaults and keeps the rest', () => {
    const result = parseReaperDaemonJob({
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperDaemonJob',
      metadata: { name: 'node-info', namespace: 'default' },
      spec: { command: ['/bin/sh', '-c'], args: ['hostname'] },
    });
    expect(result).toEqual({
      ok: true,
      value: {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name: 'node-info', namespace: 'default' },
        spec: {
          command: ['/bin/sh', '-c'],
          args: ['hostname'],
          triggerOn: 'NodeReady',
          retryLimit: 0,
          concurrencyPolicy: 'Skip',
          suspend: false,
        },
      },
    });
  });

  it.each(seedExampleNames('ReaperDaemonJob'))('accepts the seed example %s', (name) => {
    expect(parseReaperDaemonJob(seedExample('ReaperDaemonJob', name))).toMatchObject({ ok: true });
  });

  it('rejects a spec without command, naming the field', () => {
    expect(issuesOf({ args: ['x'] })).toEqual(['command: required field is missing (expected array)']);
  });

  it('rejects an empty command', () => {
    expect(issuesOf({ command: [] })).toEqual(['command: command must contain at least one element']);
  });

  it('rejects triggerOn "Sometimes" and lists the allowed values', () => {
    expect(issuesOf({ command: ['true'], triggerOn: 'Sometimes' })).toEqual([
      'triggerOn: Invalid option: expected one of "NodeReady"|"Manual" (got "Sometimes")',
    ]);
  });

  it('rejects concurrencyPolicy "Always" and lists the allowed values', () => {
    expect(issuesOf({ command: ['true'], concurrencyPolicy: 'Always' })).toEqual([
      'concurrencyPolicy: Invalid option: expected one of "Skip"|"Replace" (got "Always")',
    ]);
  });

  it('rejects an overlayName that is not a DNS label, such as a path', () => {
    const issues = issuesOf({ command: ['true'], overlayName: '../etc' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^overlayName: must be a DNS-1123 label.* \(got "\.\.\/etc"\)$/);
  });

  it('rejects an overlayName longer than 63 characters', () => {
    expect(issuesOf({ command: ['true'], overlayName: 'a'.repeat(64) })[0]).toMatch(
      /^overlayName: must be a DNS-1123 label/,
    );
  });

  it('rejects a negative retryLimit', () => {
    expect(issuesOf({ command: ['true'], retryLimit: -1 })).toEqual([
      'retryLimit: Too small: expected number to be >=0 (got -1)',
    ]);
  });

  it('rejects a retryLimit above 100 and a fractional one', () => {
    expect(issuesOf({ command: ['true'], retryLimit: 101 })[0]).toMatch(/^retryLimit: Too big/);
    expect(issuesOf({ command: ['true'], retryLimit: 1.5 })[0]).toMatch(/^retryLimit: .*int/);
  });

  it('rejects after entries that are not DNS labels or repeat', () => {
    expect(issuesOf({ command: ['true'], after: ['ok', 'Not_OK'] })[0]).toMatch(
      /^after\[1\]: must be a DNS-1123 label/,
    );
    expect(issuesOf({ command: ['true'], after: ['a', 'b', 'a'] })).toEqual([
      'after[2]: duplicate entry "a"',
    ]);
  });

  it('reports every bad field at once with its full path', () => {
    const result = parseReaperDaemonJob({
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperDaemonJob',
      metadata: { name: 'x' },
      spec: { triggerOn: 'Sometimes', retryLimit: -1 },
    });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.issues.map((i) => i.split(':')[0])).toEqual([
      'spec.command',
      'spec.triggerOn',
      'spec.retryLimit',
    ]);
  });

  it('accepts a status with per-node runs and rejects two entries for one node', () => {
    const run = {
      nodeName: 'node-a',
      phase: 'Succeeded',
      reaperPodName: 'job-node-a',
      exitCode: 0,
      retryCount: 0,
    };
    expect(
      parseReaperDaemonJobStatus({ phase: 'Completed', readyNodes: 1, totalNodes: 1, nodeStatuses: [run] }),
    ).toMatchObject({ ok: true });
    expect(parseReaperDaemonJobStatus({ nodeStatuses: [run, run] })).toEqual({
      ok: false,
      issues: ['nodeStatuses[1].nodeName: duplicate nodeName "node-a"'],
    });
  });

  it('rejects an unknown job phase', () => {
    expect(parseReaperDaemonJobStatus({ phase: 'Done' })).toEqual({
      ok: false,
      issues: [
        'phase: Invalid option: expected one of "Pending"|"Running"|"Completed"|"PartiallyFailed" (got "Done")',
      ],
    });
  });
});
