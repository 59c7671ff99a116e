import { z } from 'zod';
import { REAPER_API_VERSION, REAPER_DAEMON_JOB_KIND } from './api';
import { conditionsSchema } from './condition';
import type { DeepReadonly } from './deep-readonly';
import { keyedList } from './keyed-list';
import { dnsLabel, dnsSubdomain } from './names';
import { objectMetaSchema } from './object-meta';
import { type ParseResult, parseWith } from './parse';
import { reaperPodPhaseSchema } from './reaper-pod';
import { workloadShape } from './workload';

/** `maxUnavailable` as a percentage of the targeted nodes: 1% to 100%. */
const MAX_UNAVAILABLE_PERCENT = /^(100|[1-9][0-9]?)%$/;

/** ReaperDaemonJob spec: run a command to completion once on every matching node. */
export const reaperDaemonJobSpecSchema = z
  .object({
    ...workloadShape,
    triggerOn: z
      .enum(['NodeReady', 'Manual'])
      .default('NodeReady')
      .describe(
        'NodeReady: run on each matching node when it becomes Ready (including nodes that join later). Manual: run only when the reaper.io/trigger annotation changes.',
      ),
    after: z
      .array(dnsLabel().describe('Name of a ReaperDaemonJob in the same namespace.'))
      .max(64)
      .superRefine((names, ctx) => {
        const seen = new Set<string>();
        for (const [i, name] of names.entries()) {
          if (seen.has(name))
            ctx.addIssue({ code: 'custom', path: [i], message: `duplicate entry "${name}"` });
          seen.add(name);
        }
      })
      .optional()
      .meta({
        description:
          'Names of other ReaperDaemonJobs in the same namespace that must reach phase Completed before this job starts on any node.',
        'x-kubernetes-list-type': 'set',
      }),
    retryLimit: z
      .int()
      .min(0)
      .max(100)
      .default(0)
      .describe('Maximum number of retries per node after a failure.'),
    concurrencyPolicy: z
      .enum(['Skip', 'Replace'])
      .default('Skip')
      .describe(
        'What a re-trigger does while a run is in progress: Skip ignores it, Replace stops the running attempt and starts a new one.',
      ),
    suspend: z
      .boolean()
      .default(false)
      .describe(
        'While true no new node run starts: running attempts finish, node runs that have not created their ReaperPod wait, and joins, reboots and triggers are remembered and run on resume. Changing it does not start a new run.',
      ),
    activeDeadlineSeconds: z
      .int()
      .min(1)
      .max(31_536_000)
      .optional()
      .describe(
        "Longest time in seconds one attempt may run on a node (from its ReaperPod's creation). A longer attempt is stopped (its ReaperPod deleted) and counts as failed with reason DeadlineExceeded; retryLimit applies. Changing it does not start a new run.",
      ),
    maxUnavailable: z
      .union([z.int().min(1), z.string().regex(MAX_UNAVAILABLE_PERCENT)])
      .optional()
      .meta({
        description:
          'At most this many nodes of this job run at once: an integer >= 1, or a percentage of the targeted nodes such as 25% (rounded up, at least 1). Overrides rollout.maxNodesInFlight of the scheduler configuration for this job. Changing it does not start a new run.',
        'x-kubernetes-int-or-string': true,
        'x-kubernetes-validations': [
          {
            rule: `type(self) == int ? self >= 1 : self.matches('${MAX_UNAVAILABLE_PERCENT.source}')`,
            message: 'must be an integer >= 1 or a percentage from 1% to 100%',
          },
        ],
      }),
  })
  .describe('Desired state of the ReaperDaemonJob: the command, the nodes it targets, ordering and retries.');

export const reaperDaemonJobPhaseSchema = z
  .enum(['Pending', 'Running', 'Completed', 'PartiallyFailed'])
  .describe(
    'Pending: waiting for dependencies (after) or for a trigger. Running: ReaperPods run on some nodes. Completed: the command succeeded on every targeted node. PartiallyFailed: every node is done and at least one failed after its retries.',
  );

const nodeRunSchema = z
  .object({
    nodeName: dnsSubdomain().describe('Node name.'),
    phase: reaperPodPhaseSchema.describe('Per-node phase: Pending, Running, Succeeded or Failed.'),
    reaperPodName: z.string().optional().describe('Name of the ReaperPod created for this node.'),
    exitCode: z.int().optional().describe('Exit code of the command on this node.'),
    retryCount: z.int().min(0).optional().describe('Number of retries so far on this node.'),
    message: z
      .string()
      .optional()
      .describe(
        'Why the node waits (a dependency that has not succeeded, or failed, on this node) or how its last attempt failed.',
      ),
  })
  .describe('Execution state of the job on one node.');

/** ReaperDaemonJob status: aggregate counters plus per-node execution state. */
export const reaperDaemonJobStatusSchema = z
  .object({
    conditions: conditionsSchema.optional(),
    phase: reaperDaemonJobPhaseSchema.optional(),
    readyNodes: z
      .int()
      .min(0)
      .optional()
      .describe('Number of nodes where the command completed successfully.'),
    totalNodes: z.int().min(0).optional().describe('Total number of targeted nodes.'),
    failedNodes: z
      .int()
      .min(0)
      .optional()
      .describe('Number of nodes where the command failed after its retries.'),
    observedGeneration: z.int().min(0).optional().describe('Last metadata.generation reconciled.'),
    nodeStatuses: keyedList(nodeRunSchema, 'nodeName', {
      description: 'Per-node execution status, one entry per targeted node.',
    }).optional(),
    message: z.string().optional().describe('Human-readable status message.'),
    lastTriggerValue: z
      .string()
      .optional()
      .describe(
        'Value of the reaper.io/trigger annotation last acted on; a different value triggers a new run.',
      ),
    lastRetryValue: z
      .string()
      .optional()
      .describe(
        'Value of the reaper.io/retry-failed annotation last acted on; a different value re-runs the nodes that exhausted their retries.',
      ),
  })
  .describe('Observed state of the ReaperDaemonJob.');

/** A whole ReaperDaemonJob object as read from the API. */
export const reaperDaemonJobSchema = z.object({
  apiVersion: z.literal(REAPER_API_VERSION),
  kind: z.literal(REAPER_DAEMON_JOB_KIND),
  metadata: objectMetaSchema,
  spec: reaperDaemonJobSpecSchema,
  status: reaperDaemonJobStatusSchema.optional(),
});

export type ReaperDaemonJobSpec = DeepReadonly<z.output<typeof reaperDaemonJobSpecSchema>>;
export type ReaperDaemonJobPhase = z.output<typeof reaperDaemonJobPhaseSchema>;
export type ReaperDaemonJobNodeStatus = DeepReadonly<z.output<typeof nodeRunSchema>>;
export type ReaperDaemonJobStatus = DeepReadonly<z.output<typeof reaperDaemonJobStatusSchema>>;
export type ReaperDaemonJob = DeepReadonly<z.output<typeof reaperDaemonJobSchema>>;

/** Validates an object from the API (or a manifest) as a ReaperDaemonJob, filling defaults. */
export function parseReaperDaemonJob(input: unknown): ParseResult<ReaperDaemonJob> {
  return parseWith(reaperDaemonJobSchema, input);
}

/** Validates a ReaperDaemonJob spec alone, filling defaults. */
export function parseReaperDaemonJobSpec(input: unknown): ParseResult<ReaperDaemonJobSpec> {
  return parseWith(reaperDaemonJobSpecSchema, input);
}

/** Validates a ReaperDaemonJob status alone. */
export function parseReaperDaemonJobStatus(input: unknown): ParseResult<ReaperDaemonJobStatus> {
  return parseWith(reaperDaemonJobStatusSchema, input);
}
