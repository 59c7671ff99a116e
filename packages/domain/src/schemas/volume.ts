import { z } from 'zod';
import type { DeepReadonly } from './deep-readonly';
import { keyedList } from './keyed-list';
import { dnsLabel, dnsSubdomain } from './names';

const VOLUME_SOURCE_RULE = 'volume must set exactly one of configMap, secret, hostPath, emptyDir';

/**
 * Directories a volume must not be mounted over: the host's root and the system directories that
 * the command itself needs (mounted over `/` the shell is gone and the Pod fails with exit 127).
 */
export const RESERVED_MOUNT_PATHS = [
  '/',
  '/bin',
  '/sbin',
  '/lib',
  '/lib64',
  '/usr',
  '/etc',
  '/proc',
  '/sys',
  '/dev',
];

/**
 * The mount path rules, each once for zod (the engine parses with it) and once as the CEL rule the
 * API server runs: a user sees the same message from `kubectl apply` as from the engine.
 */
const MOUNT_PATH_RULES: readonly { rule: string; message: string; ok: (p: string) => boolean }[] = [
  {
    rule: "self.startsWith('/')",
    message: 'must be an absolute path',
    ok: (p) => p.startsWith('/'),
  },
  {
    rule: "!self.matches('(^|/)[.][.]?(/|$)')",
    message: "must not contain '.' or '..' segments",
    ok: (p) => !/(^|\/)\.\.?(\/|$)/.test(p),
  },
  {
    rule: `!(self.matches('^/+$') || self.matches('^/+(${RESERVED_MOUNT_PATHS.slice(1)
      .map((d) => d.slice(1))
      .join('|')})/*$'))`,
    message: `must not be / or a system directory (${RESERVED_MOUNT_PATHS.join(', ')}): the command would lose the files it runs from`,
    ok: (p) => !RESERVED_MOUNT_PATHS.includes(p.replace(/\/+$/, '') || '/'),
  },
];

/** The sources a volume sets; `emptyDir: false` counts as unset. */
export function volumeSources(v: {
  readonly configMap?: string | undefined;
  readonly secret?: string | undefined;
  readonly hostPath?: string | undefined;
  readonly emptyDir?: boolean | undefined;
}): string[] {
  const sources: string[] = [];
  if (v.configMap !== undefined) sources.push('configMap');
  if (v.secret !== undefined) sources.push('secret');
  if (v.hostPath !== undefined) sources.push('hostPath');
  if (v.emptyDir === true) sources.push('emptyDir');
  return sources;
}

/** Simplified Volume: a flat mount with exactly one source (configMap, secret, hostPath or emptyDir). */
export const volumeSchema = z
  .object({
    name: dnsLabel().describe('Name of the volume, unique within the workload (DNS-1123 label).'),
    mountPath: z
      .string()
      .min(1)
      .max(4096)
      .superRefine((path, ctx) => {
        for (const r of MOUNT_PATH_RULES)
          if (!r.ok(path)) ctx.addIssue({ code: 'custom', message: r.message });
      })
      .meta({
        description: `Absolute path where the volume is mounted for the command; not / nor a system directory (${RESERVED_MOUNT_PATHS.slice(1).join(', ')}).`,
        'x-kubernetes-validations': MOUNT_PATH_RULES.map(({ rule, message }) => ({ rule, message })),
      }),
    readOnly: z.boolean().optional().describe('Mount read-only when true.'),
    configMap: dnsSubdomain().optional().describe('Name of a ConfigMap whose keys appear as files.'),
    secret: dnsSubdomain().optional().describe('Name of a Secret whose keys appear as files.'),
    hostPath: z
      .string()
      .min(1)
      .regex(/^\//, 'must be an absolute path')
      .optional()
      .describe('Absolute path of a directory or file on the host.'),
    emptyDir: z
      .boolean()
      .optional()
      .describe('When true, an empty scratch directory that lives as long as the Pod.'),
  })
  .superRefine((v, ctx) => {
    const sources = volumeSources(v);
    if (sources.length !== 1) {
      const found = sources.length === 0 ? 'none' : sources.join(', ');
      ctx.addIssue({ code: 'custom', message: `${VOLUME_SOURCE_RULE} (found ${found})` });
    }
  })
  .meta({
    description:
      'A volume mount in the simplified flat format: exactly one of configMap, secret, hostPath, emptyDir.',
    'x-kubernetes-validations': [
      {
        rule: '[has(self.configMap), has(self.secret), has(self.hostPath), has(self.emptyDir) && self.emptyDir].filter(x, x).size() == 1',
        message: VOLUME_SOURCE_RULE,
      },
    ],
  });

/** The `volumes` list: bounded (the CEL rule's cost scales with it) and keyed by name. */
export const volumesSchema = keyedList(volumeSchema, 'name', {
  description: 'Volume mounts in the simplified flat format; names are unique.',
  maxItems: 64,
});

/** A volume as parsed by {@link volumeSchema}. */
export type ReaperVolume = DeepReadonly<z.output<typeof volumeSchema>>;
