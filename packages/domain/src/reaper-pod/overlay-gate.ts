import { parseReaperOverlay, type ReaperOverlay } from '../schemas/reaper-overlay';

/**
 * Whether a ReaperPod naming an overlay may get its Pod now. PVC-like: the ReaperOverlay must
 * exist, not be being deleted, and be Ready (not Resetting, not Pending).
 */
export type OverlayGate =
  | { readonly open: true; readonly overlay: ReaperOverlay; readonly message: string }
  | {
      readonly open: false;
      readonly overlay: ReaperOverlay | undefined;
      readonly reason: 'OverlayNotFound' | 'OverlayDeleting' | 'OverlayNotReady' | 'OverlayInvalid';
      readonly message: string;
    };

/** Decides the gate from the overlay as stored in the world (`undefined`: no such overlay). Pure. */
export function overlayGate(overlayName: string, stored: unknown): OverlayGate {
  const waiting = `waiting for ReaperOverlay "${overlayName}"`;
  if (stored === undefined) {
    return { open: false, overlay: undefined, reason: 'OverlayNotFound', message: `${waiting}: not found` };
  }
  const parsed = parseReaperOverlay(stored);
  if (!parsed.ok) {
    return {
      open: false,
      overlay: undefined,
      reason: 'OverlayInvalid',
      message: `${waiting}: it is invalid (${parsed.issues.join('; ')})`,
    };
  }
  const overlay = parsed.value;
  if (overlay.metadata.deletionTimestamp !== undefined) {
    return { open: false, overlay, reason: 'OverlayDeleting', message: `${waiting}: it is being deleted` };
  }
  const phase = overlay.status?.phase;
  if (phase !== 'Ready') {
    const state = phase === undefined ? 'not prepared yet (no status)' : `${phase}`;
    return { open: false, overlay, reason: 'OverlayNotReady', message: `${waiting}: it is ${state}` };
  }
  return { open: true, overlay, message: `ReaperOverlay "${overlayName}" is Ready` };
}
