import { z } from 'zod';

// The few fields the watcher reads from watched objects, parsed with zod because they come from
// the API server (or back from Redis). Parsing is lenient: an object that does not have a field in
// the expected shape simply does not have it; the reconcilers validate objects fully.

const OwnerReference = z.object({
  apiVersion: z.string().optional(),
  kind: z.string(),
  name: z.string(),
  uid: z.string().optional(),
  controller: z.boolean().optional(),
});
export type OwnerReference = z.infer<typeof OwnerReference>;

const Metadata = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  ownerReferences: z.array(OwnerReference).optional().catch(undefined),
  annotations: z.record(z.string(), z.string()).optional().catch(undefined),
});

const optionalString = z.string().optional().catch(undefined);

const Watched = z.object({
  metadata: Metadata,
  spec: z
    .object({
      overlayName: optionalString,
      nodeName: optionalString,
      after: z.array(z.string()).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  status: z.object({ nodeName: optionalString, phase: optionalString }).optional().catch(undefined),
});

/** The fields of a watched object the mapper uses. */
export type WatchedFields = z.infer<typeof Watched>;

/** Parses the fields the watcher uses; undefined for something that is not a named object. */
export function watchedFields(object: unknown): WatchedFields | undefined {
  const result = Watched.safeParse(object);
  return result.success ? result.data : undefined;
}

/** The controller owner of `kind` (reaper.io group), or any owner of that kind when none is marked controller. */
export function ownerOfKind(fields: WatchedFields, kind: string): OwnerReference | undefined {
  const owners = (fields.metadata.ownerReferences ?? []).filter(
    (o) => o.kind === kind && (o.apiVersion === undefined || o.apiVersion.startsWith('reaper.io/')),
  );
  return owners.find((o) => o.controller === true) ?? owners[0];
}
