import {
  desiredPod,
  type ObservedPod,
  type Persisted,
  ReaperError,
  type ReaperPod,
} from '@reaper-flow/domain';
import { isApiError, type KubeClient, Resources } from '@reaper-flow/k8s';
import { FIELD_MANAGER } from '../context';

/** Whether `pod` belongs to this incarnation of the ReaperPod (by owner uid, never by name). */
export function ownedBy(pod: ObservedPod, uid: string): boolean {
  return pod.metadata?.ownerReferences?.some((ref) => ref.uid === uid) ?? false;
}

/** The outcome of making sure the backing Pod exists. */
export type EnsurePodResult =
  /** Ours: just created (`created`) or found already there. */
  | { readonly kind: 'owned'; readonly pod: ObservedPod; readonly created: boolean }
  /** A Pod of that name belongs to someone else (e.g. an older ReaperPod of the same name). */
  | { readonly kind: 'foreign'; readonly pod: ObservedPod }
  /** The API server refused the Pod as built: retrying the same request cannot help. */
  | { readonly kind: 'rejected'; readonly message: string };

/**
 * Creates the backing Pod from the pure builder. The name is deterministic (the ReaperPod's), so a
 * retry after a crash or a lagging world meets AlreadyExists: then the Pod is read from the API
 * and counts as ours only if its ownerReference names this ReaperPod's uid. A same-name Pod of
 * another uid is never adopted (the prior art mirrored an old terminating Pod into a new ReaperPod).
 * Transient API errors are thrown (the reconcile is retried).
 */
export async function ensureBackingPod(
  kube: Pick<KubeClient, 'create' | 'get'>,
  rpod: Persisted<ReaperPod>,
): Promise<EnsurePodResult> {
  const { name, namespace, uid } = rpod.metadata;
  try {
    const pod = await kube.create<ObservedPod>(Resources.pods, desiredPod(rpod), {
      namespace,
      fieldManager: FIELD_MANAGER,
    });
    return { kind: 'owned', pod, created: true };
  } catch (err) {
    if (isApiError(err, 'Invalid') || isApiError(err, 'BadRequest')) {
      return { kind: 'rejected', message: `the API server rejected Pod ${name}: ${(err as Error).message}` };
    }
    if (!isApiError(err, 'AlreadyExists')) throw err;
  }
  const live = await kube.get<ObservedPod>(Resources.pods, name, { namespace });
  if (!live) {
    // It existed a moment ago and is gone now (an old Pod finished terminating): create next time.
    throw new PodVanishedError(`Pod ${namespace}/${name} vanished between create and read`);
  }
  return ownedBy(live, uid) ? { kind: 'owned', pod: live, created: false } : { kind: 'foreign', pod: live };
}

/** A Pod seen by AlreadyExists was gone when read back: the retried reconcile creates it. */
class PodVanishedError extends ReaperError {
  readonly code = 'reconcile.PodVanished';
  readonly terminal = false;
}
