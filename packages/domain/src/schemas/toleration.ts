import { z } from 'zod';
import type { DeepReadonly } from './deep-readonly';

/** Kubernetes Toleration, passed through unchanged to the backing Pod. */
export const tolerationSchema = z
  .object({
    key: z
      .string()
      .optional()
      .describe('Taint key the toleration applies to; empty matches all keys (with Exists).'),
    operator: z
      .enum(['Exists', 'Equal'])
      .optional()
      .describe('Exists matches any value; Equal (the Kubernetes default) matches value exactly.'),
    value: z.string().optional().describe('Taint value to match with operator Equal; empty with Exists.'),
    effect: z
      .enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])
      .optional()
      .describe('Taint effect to match; empty matches all effects.'),
    tolerationSeconds: z
      .int()
      .optional()
      .describe('For NoExecute: how long the Pod stays bound after the taint appears; unset means forever.'),
  })
  .describe('A Kubernetes toleration for the underlying Pod.');

/** The `tolerations` list. */
export const tolerationsSchema = z
  .array(tolerationSchema)
  .max(64)
  .describe('Tolerations for the underlying Pods.');

/** A toleration as parsed by {@link tolerationSchema}. */
export type ReaperToleration = DeepReadonly<z.output<typeof tolerationSchema>>;
