import { z } from 'zod';
import { envVarSchema } from './env-var';
import {
  dnsLabel,
  isLabelKey,
  LABEL_KEY_MAX_LENGTH,
  LABEL_KEY_PATTERN,
  LABEL_KEY_RULE,
  labelValueString,
} from './names';
import { tolerationsSchema } from './toleration';
import { volumesSchema } from './volume';

const MAX_ID = 2_147_483_647;
const MAX_SELECTOR_LABELS = 64;

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
    .record(z.string(), labelValueString().describe('Required value of the node label.'))
    .superRefine((selector, ctx) => {
      const keys = Object.keys(selector);
      if (keys.length > MAX_SELECTOR_LABELS)
        ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_SELECTOR_LABELS} labels` });
      for (const key of keys)
        if (!isLabelKey(key))
          ctx.addIssue({ code: 'custom', path: [key], message: `keys ${LABEL_KEY_RULE}`, input: key });
    })
    .optional()
    .meta({
      description: 'Node labels that a node must carry to run the workload; all nodes when empty.',
      maxProperties: MAX_SELECTOR_LABELS,
      'x-kubernetes-validations': [
        {
          rule: `self.all(k, k.size() <= ${LABEL_KEY_MAX_LENGTH} && k.matches('${LABEL_KEY_PATTERN}'))`,
          message: `keys ${LABEL_KEY_RULE}`,
        },
      ],
    }),
  dnsMode: z
    .enum(['host', 'kubernetes'])
    .optional()
    .describe("DNS resolution mode: 'host' uses the node's resolver, 'kubernetes' the cluster DNS."),
  runAsUser: z.int().min(0).max(MAX_ID).optional().describe('UID the process runs as.'),
  runAsGroup: z.int().min(0).max(MAX_ID).optional().describe('GID the process runs as.'),
  tolerations: tolerationsSchema.optional(),
} as const;
