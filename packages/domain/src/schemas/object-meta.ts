import { z } from 'zod';

// The typed Kubernetes client hands timestamps over as Date; custom objects carry RFC 3339 strings.
const timestamp = z.union([z.string(), z.date().transform((d) => d.toISOString())]);

const ownerReferenceSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

/**
 * The part of metadata the domain reads. Unknown keys (managedFields, ...) are kept so an object
 * parsed here can be written back without losing them. The API server owns metadata validation,
 * so this schema is not part of the generated CRDs.
 */
export const objectMetaSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: timestamp.optional(),
  deletionTimestamp: timestamp.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(ownerReferenceSchema).optional(),
});

/**
 * An object as stored by the API server: namespace and uid are known, so children can point at
 * it with an ownerReference. Objects parsed from a manifest are not persisted yet.
 */
export type Persisted<T extends { readonly metadata: { readonly name: string } }> = T & {
  readonly metadata: { readonly uid: string; readonly namespace: string };
};

/** Narrows an object to {@link Persisted} when its metadata carries a namespace and a uid. */
export function isPersisted<
  T extends {
    readonly metadata: { readonly name: string; readonly uid?: string; readonly namespace?: string };
  },
>(obj: T): obj is Persisted<T> {
  return Boolean(obj.metadata.uid) && Boolean(obj.metadata.namespace);
}
