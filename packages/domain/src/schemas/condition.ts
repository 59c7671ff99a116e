import { z } from 'zod';
import type { DeepReadonly } from './deep-readonly';
import { keyedList } from './keyed-list';

const CONDITION_TYPE_PATTERN =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const CONDITION_REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** metav1.Condition: the standard shape of one entry of `status.conditions`. */
export const conditionSchema = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(CONDITION_TYPE_PATTERN, 'must be CamelCase, optionally prefixed by a DNS subdomain and "/"')
      .describe('Type of condition in CamelCase, for example Ready. Unique within the list.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(CONDITION_REASON_PATTERN, 'must be CamelCase (letters, digits, "_", "," or ":")')
      .describe('Programmatic identifier of the reason for the last transition, in CamelCase.'),
    message: z
      .string()
      .max(32768)
      .describe('Human-readable message with details about the last transition; may be empty.'),
    lastTransitionTime: z.iso
      .datetime({ offset: true })
      .describe('When the condition last changed from one status to another (RFC 3339).'),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the condition was set for; stale when lower than the current one.'),
  })
  .describe('A condition of the resource (metav1.Condition).');

/** `status.conditions`: a list keyed by `type` (at most one entry per type). */
export const conditionsSchema = keyedList(conditionSchema, 'type', {
  description: 'Latest observations of the resource state, one entry per condition type.',
  maxItems: 32,
});

/** A metav1.Condition as parsed by {@link conditionSchema}. */
export type ReaperCondition = DeepReadonly<z.output<typeof conditionSchema>>;
