import { z } from 'zod';
import { REAPER_API_VERSION, REAPER_OVERLAY_KIND } from './api';
import { conditionsSchema } from './condition';
import type { DeepReadonly } from './deep-readonly';
import { keyedList } from './keyed-list';
import { dnsSubdomain } from './names';
import { objectMetaSchema } from './object-meta';
import { type ParseResult, parseWith } from './parse';

export const RESET_GENERATION_RULE =
  'resetGeneration may not decrease: increment it to reset the overlay again';

/** ReaperOverlay spec: lifecycle policy of a named overlay filesystem on every node. */
export const reaperOverlaySpecSchema = z
  .object({
    resetPolicy: z
      .enum(['Manual', 'OnFailure', 'OnDelete'])
      .default('Manual')
      .describe(
        'When the overlay is reset: Manual (only when resetGeneration is incremented), OnFailure (also after a workload using it fails), OnDelete (also when a workload using it is deleted).',
      ),
    resetGeneration: z
      .int()
      .min(0)
      .max(2_147_483_647)
      .default(0)
      .meta({
        description:
          'Increment to tear down and recreate the overlay on all nodes. It never decreases: status.observedResetGeneration records the values applied, so a lower one could never be.',
        'x-kubernetes-validations': [{ rule: 'self >= oldSelf', message: RESET_GENERATION_RULE }],
      }),
  })
  .describe('Desired state of the overlay filesystem group.');

export const reaperOverlayPhaseSchema = z
  .enum(['Pending', 'Ready', 'Resetting', 'Failed', 'Deleting'])
  .describe(
    'Pending: not yet prepared on the nodes. Ready: available; ReaperPods using it may start. Resetting: a reset (resetGeneration increment) is being applied on the nodes. Failed: preparing or resetting failed on some node (see nodes and message). Deleting: the ReaperOverlay is being deleted and its finalizer is cleaning up on-disk data on all nodes.',
  );

const overlayNodeSchema = z
  .object({
    nodeName: dnsSubdomain().describe('Node name.'),
    ready: z.boolean().describe('Whether the overlay is available on this node.'),
    lastResetTime: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('When the overlay was last reset on this node (RFC 3339).'),
    resetGeneration: z.int().min(0).optional().describe('The spec.resetGeneration this node has applied.'),
    message: z.string().optional().describe('Human-readable detail about the overlay on this node.'),
    cleaned: z
      .boolean()
      .optional()
      .describe('True once the node agent removed the overlay data from this node (during deletion).'),
  })
  .describe('State of the overlay on one node.');

/** ReaperOverlay status: aggregate phase plus per-node state. */
export const reaperOverlayStatusSchema = z
  .object({
    conditions: conditionsSchema.optional(),
    phase: reaperOverlayPhaseSchema.optional(),
    observedResetGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('Last spec.resetGeneration fully applied on all nodes.'),
    nodes: keyedList(overlayNodeSchema, 'nodeName', {
      description: 'Per-node overlay state, one entry per node.',
    }).optional(),
    message: z.string().optional().describe('Human-readable status message.'),
  })
  .describe('Observed state of the overlay filesystem group.');

/** A whole ReaperOverlay object as read from the API. A missing spec means all defaults. */
export const reaperOverlaySchema = z.object({
  apiVersion: z.literal(REAPER_API_VERSION),
  kind: z.literal(REAPER_OVERLAY_KIND),
  metadata: objectMetaSchema,
  spec: reaperOverlaySpecSchema.prefault({}),
  status: reaperOverlayStatusSchema.optional(),
});

export type ReaperOverlaySpec = DeepReadonly<z.output<typeof reaperOverlaySpecSchema>>;
export type ReaperOverlayPhase = z.output<typeof reaperOverlayPhaseSchema>;
export type ReaperOverlayNodeStatus = DeepReadonly<z.output<typeof overlayNodeSchema>>;
export type ReaperOverlayStatus = DeepReadonly<z.output<typeof reaperOverlayStatusSchema>>;
export type ReaperOverlay = DeepReadonly<z.output<typeof reaperOverlaySchema>>;

/** Validates an object from the API (or a manifest) as a ReaperOverlay, filling defaults. */
export function parseReaperOverlay(input: unknown): ParseResult<ReaperOverlay> {
  return parseWith(reaperOverlaySchema, input);
}

/** Validates a ReaperOverlay spec alone, filling defaults. */
export function parseReaperOverlaySpec(input: unknown): ParseResult<ReaperOverlaySpec> {
  return parseWith(reaperOverlaySpecSchema, input);
}

/** Validates a ReaperOverlay status alone. */
export function parseReaperOverlayStatus(input: unknown): ParseResult<ReaperOverlayStatus> {
  return parseWith(reaperOverlayStatusSchema, input);
}
