import { type DesiredStatus, statusPatch } from '@reaper-flow/domain';
import type { KubeClient } from './client';
import { isApiError } from './errors';
import type { ResourceRef } from './resources';

/** The object whose status is written: its current status is compared with the desired one. */
export interface StatusTarget {
  readonly metadata: { readonly name: string; readonly namespace?: string | undefined };
  readonly status?: unknown;
}

export interface PatchStatusOptions {
  readonly fieldManager?: string | undefined;
}

/**
 * Writes the `desired` status fields with a merge patch on the /status subresource, only when they
 * differ from the status of `obj` (the object as last read). Returns whether it wrote.
 *
 * Level-triggered callers run this on every reconcile: skipping equal writes keeps a reconcile
 * from changing anything the second time, and avoids a watch event (and another reconcile) per
 * no-op. A stale `obj` at worst causes one redundant write. A vanished object is not an error
 * (returns false): there is nothing left to report on.
 */
export async function patchStatus(
  client: Pick<KubeClient, 'patch'>,
  ref: ResourceRef,
  obj: StatusTarget,
  desired: DesiredStatus,
  opts: PatchStatusOptions = {},
): Promise<boolean> {
  return (await patchStatusReturning(client, ref, obj, desired, opts)) !== undefined;
}

/** The object as the API server returned it after a status write. */
export interface WrittenObject {
  readonly metadata: { readonly resourceVersion?: string | undefined };
  readonly status?: unknown;
}

/**
 * As {@link patchStatus}, but resolves with the object the API server returned after the write
 * (its new resourceVersion and status), or undefined when nothing was written.
 */
export async function patchStatusReturning(
  client: Pick<KubeClient, 'patch'>,
  ref: ResourceRef,
  obj: StatusTarget,
  desired: DesiredStatus,
  opts: PatchStatusOptions = {},
): Promise<WrittenObject | undefined> {
  const patch = statusPatch(obj.status, desired);
  if (!patch) return undefined;
  try {
    return await client.patch<WrittenObject>(
      ref,
      obj.metadata.name,
      'merge',
      { status: patch },
      { namespace: obj.metadata.namespace, subresource: 'status', fieldManager: opts.fieldManager },
    );
  } catch (err) {
    if (isApiError(err, 'NotFound')) return undefined;
    throw err;
  }
}
