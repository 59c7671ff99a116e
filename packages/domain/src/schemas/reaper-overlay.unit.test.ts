import { describe, expect, it } from 'vitest';
import { parseReaperOverlay, parseReaperOverlaySpec, parseReaperOverlayStatus } from './reaper-overlay';
import { seedExample } from './seed-examples.test-support';

const head = {
  apiVersion: 'reaper.io/v1alpha1',
  kind: 'ReaperOverlay',
  metadata: { name: 'slurm' },
} as const;

describe('ReaperOverlay schema', () => {
  it('parses the seed example and fills resetGeneration', () => {
    expect(parseReaperOverlay(seedExample('ReaperOverlay', 'slurm'))).toEqual({
      ok: true,
      value: { ...head, spec: { resetPolicy: 'Manual', resetGeneration: 0 } },
    });
  });

  it('fills the whole spec when an overlay is created without one', () => {
    expect(parseReaperOverlay(head)).toEqual({
      ok: true,
      value: { ...head, spec: { resetPolicy: 'Manual', resetGeneration: 0 } },
    });
  });

  it('rejects an unknown resetPolicy and a negative resetGeneration', () => {
    expect(parseReaperOverlaySpec({ resetPolicy: 'Always', resetGeneration: -1 })).toEqual({
      ok: false,
      issues: [
        'resetPolicy: Invalid option: expected one of "Manual"|"OnFailure"|"OnDelete" (got "Always")',
        'resetGeneration: Too small: expected number to be >=0 (got -1)',
      ],
    });
  });

  it('accepts every documented phase, Deleting included', () => {
    for (const phase of ['Pending', 'Ready', 'Resetting', 'Failed', 'Deleting']) {
      expect(parseReaperOverlayStatus({ phase })).toEqual({ ok: true, value: { phase } });
    }
  });

  it('accepts per-node state and rejects two entries for one node', () => {
    const node = {
      nodeName: 'node-a',
      ready: true,
      lastResetTime: '2024-05-01T10:00:00Z',
      resetGeneration: 1,
    };
    expect(parseReaperOverlayStatus({ observedResetGeneration: 1, nodes: [node] })).toMatchObject({
      ok: true,
    });
    expect(parseReaperOverlayStatus({ nodes: [node, node] })).toEqual({
      ok: false,
      issues: ['nodes[1].nodeName: duplicate nodeName "node-a"'],
    });
  });

  it('requires nodeName and ready on each node entry', () => {
    expect(parseReaperOverlayStatus({ nodes: [{}] })).toEqual({
      ok: false,
      issues: [
        'nodes[0].nodeName: required field is missing (expected string)',
        'nodes[0].ready: required field is missing (expected boolean)',
      ],
    });
  });
});
