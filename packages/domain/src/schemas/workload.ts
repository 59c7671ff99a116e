import { z } from 'zod';
import { envVarSchema } from './env-var';
import { dnsLabel } from './names';
import { tolerationsSchema } from './toleration';
import { volumesSchema } from './volume';

const MAX_ID = 2_147_483_647;

/**
 * Fields shared by ReaperPod and ReaperDaemonJob specs: what to run and how. A DaemonJob copies
 * them into each ReaperPod it creates, so both kinds validate them the same way.
 */
export const workloadShape = {
  command: z
    .array(z.string().describe('One element of the command line.'))
    .min(1, 'command must contain at least one element')
    .describe('Command to execute on the host; the first element is the program.'),
  args: z.array(z.string().describe('One argument.')).optional().describe('Arguments passed to the command.'),
  env: z
    .array(envVarSchema)
    .max(256)
    .optional()
    .describe('Environment variables in the simplified format (literal, Secret key or ConfigMap key).'),
  volumes: volumesSchema.optional(),
  workingDir: z
    .string()
    .regex(/^\//, 'must be an absolute path')
    .optional()
    .describe('Absolute working directory of the command.'),
  overlayName: dnsLabel()
    .optional()
    .describe(
      'Named overlay filesystem group shared between workloads; the workload waits until a ReaperOverlay of this name is Ready.',
    ),
  nodeSelector: z
    .record(z.string(), z.string().describe('Required value of the node label.'))
    .optional()
    .describe('Node labels that a node must carry to run the workload; all nodes when empty.'),
  dnsMode: z
    .enum(['host', 'kubernetes'])
    .optional()
    .describe("DNS resolution mode: 'host' uses the node's resolver, 'kubernetes' the cluster DNS."),
  runAsUser: z.int().min(0).max(MAX_ID).optional().describe('UID the process runs as.'),
  runAsGroup: z.int().min(0).max(MAX_ID).optional().describe('GID the process runs as.'),
  tolerations: tolerationsSchema.optional(),
} as const;
