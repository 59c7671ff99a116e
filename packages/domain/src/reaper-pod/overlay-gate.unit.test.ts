import { describe, expect, it } from 'vitest';
import { overlayGate } from './overlay-gate';

const overlay = (status?: { phase?: string }, deletionTimestamp?: string) => ({
  apiVersion: 'reaper.io/v1alpha1',
  kind: 'ReaperOverlay',
  metadata: { name: 'slurm', namespace: 'ns', uid: 'u', ...(deletionTimestamp ? { deletionTimestamp } : {}) },
  spec: { resetPolicy: 'Manual' },
  ...(status ? { status } : {}),
});

describe('overlayGate', () => {
  it('is open only for a Ready overlay', () => {
    expect(overlayGate('slurm', overlay({ phase: 'Ready' }))).toMatchObject({ open: true });
  });

  it.each([
    [undefined, 'OverlayNotFound', 'waiting for ReaperOverlay "slurm": not found'],
    [
      overlay({ phase: 'Resetting' }),
      'OverlayNotReady',
      'waiting for ReaperOverlay "slurm": it is Resetting',
    ],
    [overlay(), 'OverlayNotReady', 'waiting for ReaperOverlay "slurm": it is not prepared yet (no status)'],
    [
      overlay({ phase: 'Ready' }, '2026-01-01T00:00:00Z'),
      'OverlayDeleting',
      'waiting for ReaperOverlay "slurm": it is being deleted',
    ],
  ])('is closed with a message saying why (%#)', (stored, reason, message) => {
    expect(overlayGate('slurm', stored)).toMatchObject({ open: false, reason, message });
  });

  it('is closed for an overlay that does not validate', () => {
    const gate = overlayGate('slurm', { ...overlay({ phase: 'Ready' }), spec: { resetPolicy: 'Sometimes' } });
    expect(gate).toMatchObject({ open: false, reason: 'OverlayInvalid' });
    expect(gate.message).toContain('spec.resetPolicy');
  });
});
