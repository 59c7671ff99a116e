import type { ReaperPod } from '../schemas/reaper-pod';
import { ATTEMPT_ANNOTATION, RUN_ID_ANNOTATION } from '../translate/labels';
import type { RunPodRef } from './engine-state';

/** Which run and attempt a DaemonJob's ReaperPod belongs to, from its annotations. */
export function runOf(rpod: Pick<ReaperPod, 'metadata'>): { runId?: string; attempt?: number } {
  const annotations = rpod.metadata.annotations ?? {};
  const attempt = Number(annotations[ATTEMPT_ANNOTATION]);
  return {
    ...(annotations[RUN_ID_ANNOTATION] ? { runId: annotations[RUN_ID_ANNOTATION] } : {}),
    ...(Number.isInteger(attempt) && attempt > 0 ? { attempt } : {}),
  };
}

/**
 * Whether the ReaperPod is the one of `ref`'s run (and attempt, when given). Every attempt of a node
 * reuses the name `<job>-<node>`, so the name alone never says whose it is.
 */
export function belongsTo(rpod: Pick<ReaperPod, 'metadata'>, ref: Omit<RunPodRef, 'name'>): boolean {
  const run = runOf(rpod);
  return run.runId === ref.runId && (ref.attempt === undefined || run.attempt === ref.attempt);
}
