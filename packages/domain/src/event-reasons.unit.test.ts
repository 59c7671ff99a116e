import { describe, expect, it } from 'vitest';
import { DaemonJobEventReason } from './daemon-job/event-reasons';
import { OverlayEventReason } from './overlay/event-reasons';
import { ReaperPodEventReason } from './reaper-pod/event-reasons';

const KINDS = {
  ReaperPod: ReaperPodEventReason,
  ReaperOverlay: OverlayEventReason,
  ReaperDaemonJob: DaemonJobEventReason,
} as const;

describe('Kubernetes Event reasons', () => {
  for (const [kind, reasons] of Object.entries(KINDS)) {
    // A reason equal to its own key is unique within its kind.
    it(`every ${kind} reason is UpperCamelCase and its own key`, () => {
      const entries = Object.entries(reasons);
      expect(entries.length).toBeGreaterThan(0);
      for (const [key, reason] of entries) {
        expect(reason, key).toMatch(/^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)*$/);
        expect(reason).toBe(key);
      }
    });
  }
});
