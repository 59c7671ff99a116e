import { z } from 'zod';
import type { DeepReadonly } from './deep-readonly';
import { dnsSubdomain } from './names';

function keyRef(kind: 'Secret' | 'ConfigMap') {
  return z
    .object({
      name: dnsSubdomain().describe(`Name of the ${kind} in the same namespace.`),
      key: z.string().min(1).max(253).describe(`Key within the ${kind} whose value is used.`),
      optional: z
        .boolean()
        .optional()
        .describe(`When true, a missing ${kind} or key leaves the variable unset instead of failing.`),
    })
    .describe(`Selects one key of a ${kind}.`);
}

const ENV_SOURCE_RULE = 'valueFrom must set exactly one of secretKeyRef, configMapKeyRef';

/** Where a variable's value comes from when it is not a literal. */
export const envVarSourceSchema = z
  .object({
    secretKeyRef: keyRef('Secret').optional().describe('Take the value from a key of a Secret.'),
    configMapKeyRef: keyRef('ConfigMap').optional().describe('Take the value from a key of a ConfigMap.'),
  })
  .superRefine((source, ctx) => {
    if ((source.secretKeyRef === undefined) === (source.configMapKeyRef === undefined)) {
      ctx.addIssue({ code: 'custom', message: ENV_SOURCE_RULE });
    }
  })
  .meta({
    description: 'Source of the value: exactly one of secretKeyRef or configMapKeyRef.',
    'x-kubernetes-validations': [
      { rule: 'has(self.secretKeyRef) != has(self.configMapKeyRef)', message: ENV_SOURCE_RULE },
    ],
  });

// What the API server accepts for a container's variable (checked here, not when the Pod is made).
const ENV_NAME_RULE = "must consist only of printable ASCII characters other than '='";

const ENV_VAR_RULE = 'env var must set exactly one of value, valueFrom';

/**
 * Simplified EnvVar: `{name, value}` or `{name, valueFrom}`, exactly one of the two. Stricter than a
 * Pod (where a bare name means ""): a misspelled `value` key is pruned by the API server and would
 * otherwise silently become an empty variable. Write `value: ""` for an empty one.
 */
export const envVarSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[ -<>-~]+$/, ENV_NAME_RULE)
      .describe("Name of the environment variable: printable ASCII characters other than '='."),
    value: z
      .string()
      .optional()
      .describe('Literal value (may be empty). Exactly one of value and valueFrom is set.'),
    valueFrom: envVarSourceSchema.optional(),
  })
  .superRefine((env, ctx) => {
    if ((env.value === undefined) === (env.valueFrom === undefined)) {
      ctx.addIssue({ code: 'custom', message: ENV_VAR_RULE });
    }
  })
  .meta({
    description:
      'An environment variable: a literal value, or a value taken from a Secret or ConfigMap key (exactly one).',
    'x-kubernetes-validations': [{ rule: 'has(self.value) != has(self.valueFrom)', message: ENV_VAR_RULE }],
  });

/** An environment variable as parsed by {@link envVarSchema}. */
export type ReaperEnvVar = DeepReadonly<z.output<typeof envVarSchema>>;
