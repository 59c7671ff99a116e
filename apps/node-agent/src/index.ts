export { type NodeAgent, type NodeAgentOptions, startNodeAgent } from './agent';
export * from './errors';
export { OverlayDisk } from './overlay-disk';
export { type OverlayPaths, overlayPaths, validateOverlayLabel } from './overlay-layout';
export { acquireOverlayLock } from './overlay-lock';
export { CLEANED_MESSAGE, type OverlayJobOutcome, processOverlayJob } from './overlay-processor';
export { StateDir } from './safe-fs';
export {
  agentFieldManager,
  KubeOverlayStatus,
  type OverlayNodeReport,
  type OverlayStatusPort,
  overlayStatusApplyBody,
} from './status-reporter';
