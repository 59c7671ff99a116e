import type { KubeClient } from './client';
import { ApiError, isApiError } from './errors';
import type { ResourceRef } from './resources';

/** The part of KubeClient the finalizer helpers use (a fake in unit tests). */
export type FinalizerClient = Pick<KubeClient, 'get' | 'patch'>;

/** The metadata a finalizer helper reads from an object (a cached copy or a fresh GET). */
export interface FinalizerTarget {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string | undefined;
    readonly resourceVersion?: string | undefined;
    readonly deletionTimestamp?: unknown;
    readonly finalizers?: readonly string[] | undefined;
  };
}

/** What addFinalizer found or did. */
export type AddFinalizerResult =
  | 'added'
  /** Already there: nothing written. */
  | 'present'
  /** The object is being deleted: the API refuses new finalizers, nothing written. */
  | 'deleting'
  /** The object no longer exists. */
  | 'gone';

/** What removeFinalizer found or did. */
export type RemoveFinalizerResult = 'removed' | 'absent' | 'gone';

export interface FinalizerOptions {
  /** Tries before giving up with a (transient) Conflict; each retry re-reads the object. Default 5. */
  readonly attempts?: number | undefined;
  readonly fieldManager?: string | undefined;
}

type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** True when `obj` carries `finalizer`. */
export function hasFinalizer(obj: FinalizerTarget, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

/**
 * A failed JSON-patch `test` op is answered 422 (Invalid); a stale resourceVersion 409 (Conflict).
 * Both mean "the object moved under us": re-read and decide again.
 */
function movedUnderUs(err: unknown): boolean {
  return isApiError(err, 'Conflict') || isApiError(err, 'Invalid');
}

/**
 * Adds `finalizer` to the object without overwriting finalizers other controllers put there
 * (the prior art replaced the whole list). The patch is guarded by a JSON-patch `test` of the
 * list as we last saw it (or of the resourceVersion when there is no list yet), then appends with
 * `add /metadata/finalizers/-`: a concurrent change makes the test fail and we re-read and retry.
 *
 * `current` may come from a cache (it saves a GET on the common path); a stale copy only costs one
 * failed test. Idempotent: writes nothing when the finalizer is already there, when the object is
 * being deleted (the API refuses new finalizers then) or when it no longer exists.
 */
export async function addFinalizer(
  client: FinalizerClient,
  ref: ResourceRef,
  current: FinalizerTarget,
  finalizer: string,
  opts: FinalizerOptions = {},
): Promise<AddFinalizerResult> {
  const { name, namespace } = current.metadata;
  let obj: FinalizerTarget | undefined = current;
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (!obj) return 'gone';
    if (hasFinalizer(obj, finalizer)) return 'present';
    if (obj.metadata.deletionTimestamp) return 'deleting';
    const list = obj.metadata.finalizers;
    const patch: JsonPatchOp[] =
      list === undefined || list.length === 0
        ? [
            // No list to test: guard on the resourceVersion instead, then create the list.
            { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
            { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
          ]
        : [
            { op: 'test', path: '/metadata/finalizers', value: [...list] },
            { op: 'add', path: '/metadata/finalizers/-', value: finalizer },
          ];
    try {
      await client.patch(ref, name, 'json', patch, { namespace, fieldManager: opts.fieldManager });
      return 'added';
    } catch (err) {
      if (isApiError(err, 'NotFound')) return 'gone';
      if (!movedUnderUs(err)) throw err;
    }
    obj = await client.get<FinalizerTarget>(ref, name, { namespace });
  }
  throw new ApiError('Conflict', 409, `could not add finalizer ${finalizer} to ${name}: it kept changing`);
}

/**
 * Removes `finalizer` by its index, guarded by a `test` that the entry at that index still is ours,
 * so a concurrent add or remove by another controller is never undone. Idempotent: writes nothing
 * when the finalizer (or the object) is already gone.
 */
export async function removeFinalizer(
  client: FinalizerClient,
  ref: ResourceRef,
  current: FinalizerTarget,
  finalizer: string,
  opts: FinalizerOptions = {},
): Promise<RemoveFinalizerResult> {
  const { name, namespace } = current.metadata;
  let obj: FinalizerTarget | undefined = current;
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (!obj) return 'gone';
    const index = obj.metadata.finalizers?.indexOf(finalizer) ?? -1;
    if (index < 0) return 'absent';
    const path = `/metadata/finalizers/${index}`;
    try {
      await client.patch(
        ref,
        name,
        'json',
        [
          { op: 'test', path, value: finalizer },
          { op: 'remove', path },
        ] satisfies JsonPatchOp[],
        { namespace, fieldManager: opts.fieldManager },
      );
      return 'removed';
    } catch (err) {
      if (isApiError(err, 'NotFound')) return 'gone';
      if (!movedUnderUs(err)) throw err;
    }
    obj = await client.get<FinalizerTarget>(ref, name, { namespace });
  }
  throw new ApiError(
    'Conflict',
    409,
    `could not remove finalizer ${finalizer} from ${name}: it kept changing`,
  );
}
