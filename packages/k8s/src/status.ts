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
  const patch = statusPatch(obj.status, desired);
  if (!patch) return false;
  try {
    await client.patch(
      ref,
      obj.metadata.name,
      'merge',
      { status: patch },
      { namespace: obj.metadata.namespace, subresource: 'status', fieldManager: opts.fieldManager },
    );
    return true;
  } catch (err) {
    if (isApiError(err, 'NotFound')) return false;
    throw err;
  }
}
