import { z } from 'zod';

/**
 * Work for one node's agent on one overlay:
 * - ensure: create the overlay dirs if absent (idempotent);
 * - reset: tear the overlay down and recreate it empty (generation = the resetGeneration applied,
 *   or the current one for a per-node reset requested by resetPolicy);
 * - delete: remove every on-disk trace of the overlay (the finalizer waits for it on every node).
 */
export const OverlayJobSchema = z.object({
  op: z.enum(['ensure', 'reset', 'delete']),
  namespace: z.string().min(1),
  name: z.string().min(1),
  /** The overlay's uid: an operation for an older incarnation of the same name is skipped. */
  uid: z.string().min(1),
  generation: z.number().int().min(0),
  /** Makes the job id unique per intent: `gen-<n>` for resetGeneration, the ReaperPod uid for policy resets. */
  requestId: z.string().min(1),
});
export type OverlayJob = z.infer<typeof OverlayJobSchema>;
