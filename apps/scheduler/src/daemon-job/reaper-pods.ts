import { belongsTo, type ReaperPod, type RunPodRef } from '@reaper-flow/domain';
import { isApiError, Resources } from '@reaper-flow/k8s';
import type { SchedulerContext } from '../context';

/**
 * Deletes the ReaperPod `ref.name` only if it still belongs to `ref`'s run (and attempt): every
 * attempt of a node reuses the name `<job>-<node>`, so a delete by name alone could kill the
 * attempt that replaced it. The delete carries a uid precondition for the same reason. Its Pod
 * goes with it (garbage collection), which stops the process on the node.
 */
export async function deleteReaperPodOfRun(
  ctx: SchedulerContext,
  namespace: string,
  ref: RunPodRef,
): Promise<void> {
  const current = await ctx.kube.get<ReaperPod>(Resources.reaperPods, ref.name, { namespace });
  if (!current || !belongsTo(current, ref)) return;
  try {
    await ctx.kube.delete(Resources.reaperPods, ref.name, {
      namespace,
      propagationPolicy: 'Background',
      ...(current.metadata.uid ? { preconditions: { uid: current.metadata.uid } } : {}),
    });
  } catch (err) {
    // Already replaced by a newer incarnation (uid precondition failed): nothing of ours to delete.
    if (isApiError(err, 'Conflict')) return;
    throw err;
  }
}

/**
 * Deletes the ReaperPod of a node that left the job's targets, whatever its run's state (DaemonSet
 * semantics: pods on nodes that no longer match are removed, not orphaned). Only a ReaperPod owned
 * by this incarnation of the job (owner uid) is deleted.
 */
export async function deleteNodeReaperPod(
  ctx: SchedulerContext,
  namespace: string,
  name: string,
  jobUid: string,
): Promise<void> {
  const current = await ctx.kube.get<ReaperPod>(Resources.reaperPods, name, { namespace });
  const uid = current?.metadata.uid;
  if (!current || !uid || !current.metadata.ownerReferences?.some((o) => o.uid === jobUid)) return;
  try {
    await ctx.kube.delete(Resources.reaperPods, name, {
      namespace,
      propagationPolicy: 'Background',
      preconditions: { uid },
    });
  } catch (err) {
    if (isApiError(err, 'Conflict')) return;
    throw err;
  }
}
