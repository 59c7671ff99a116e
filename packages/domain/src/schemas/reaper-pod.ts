import { z } from 'zod';
import { REAPER_API_VERSION, REAPER_POD_KIND } from './api';
import { conditionsSchema } from './condition';
import type { DeepReadonly } from './deep-readonly';
import { dnsSubdomain } from './names';
import { objectMetaSchema } from './object-meta';
import { type ParseResult, parseWith } from './parse';
import { workloadShape } from './workload';

/** ReaperPod spec: a command to run on a host through the Reaper runtime. */
export const reaperPodSpecSchema = z
  .object({
    ...workloadShape,
    nodeName: dnsSubdomain()
      .optional()
      .describe('Run on exactly this node, bypassing the scheduler (set by ReaperDaemonJob).'),
  })
  .describe('Desired state of the ReaperPod: the command to run and where.');

export const reaperPodPhaseSchema = z
  .enum(['Pending', 'Running', 'Succeeded', 'Failed'])
  .describe(
    'Pending: waiting for the backing Pod to start (scheduling, overlay not Ready yet). Running: the command runs. Succeeded: it exited 0. Failed: it exited non-zero or the Pod failed.',
  );

/** ReaperPod status, mirrored from the backing Pod. */
export const reaperPodStatusSchema = z
  .object({
    conditions: conditionsSchema.optional(),
    phase: reaperPodPhaseSchema.optional(),
    podName: z.string().optional().describe('Name of the backing Pod.'),
    nodeName: z.string().optional().describe('Node where the workload runs.'),
    exitCode: z.int().optional().describe('Exit code of the command, once it has completed.'),
    startTime: z.iso.datetime({ offset: true }).optional().describe('When the workload started (RFC 3339).'),
    completionTime: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('When the workload completed (RFC 3339).'),
    message: z.string().optional().describe('Human-readable detail about the current phase.'),
    observedGeneration: z.int().min(0).optional().describe('The metadata.generation this status reflects.'),
  })
  .describe('Observed state of the ReaperPod, mirrored from its backing Pod.');

/** A whole ReaperPod object as read from the API. */
export const reaperPodSchema = z.object({
  apiVersion: z.literal(REAPER_API_VERSION),
  kind: z.literal(REAPER_POD_KIND),
  metadata: objectMetaSchema,
  spec: reaperPodSpecSchema,
  status: reaperPodStatusSchema.optional(),
});

export type ReaperPodSpec = DeepReadonly<z.output<typeof reaperPodSpecSchema>>;
export type ReaperPodPhase = z.output<typeof reaperPodPhaseSchema>;
export type ReaperPodStatus = DeepReadonly<z.output<typeof reaperPodStatusSchema>>;
export type ReaperPod = DeepReadonly<z.output<typeof reaperPodSchema>>;

/** Validates an object from the API (or a manifest) as a ReaperPod, filling defaults. */
export function parseReaperPod(input: unknown): ParseResult<ReaperPod> {
  return parseWith(reaperPodSchema, input);
}

/** Validates a ReaperPod spec alone, filling defaults. */
export function parseReaperPodSpec(input: unknown): ParseResult<ReaperPodSpec> {
  return parseWith(reaperPodSpecSchema, input);
}

/** Validates a ReaperPod status alone (for example one read back before a status patch). */
export function parseReaperPodStatus(input: unknown): ParseResult<ReaperPodStatus> {
  return parseWith(reaperPodStatusSchema, input);
}
