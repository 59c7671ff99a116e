import type { ContainerState, ObservedPod } from '../k8s-types';
import { MAIN_CONTAINER } from '../translate/desired-pod';

/**
 * Everything the ReaperPod reconcile reads of a backing Pod, and nothing else: who owns it (a Pod
 * of another uid is foreign, waited for or refused), whether it is being deleted, its node, and what
 * the status mirror takes (`reaperPodStatusFromPod`, `mirroredStatus`, `waitingForScheduler`):
 * phase, message, start time, the kube-scheduler's PodScheduled condition and the main container's
 * state. Two versions of a Pod with equal facts give every ReaperPod reconcile the same answer, so
 * a change between them is no news to the ReaperPod (a kubelet's Ready condition, a Pod IP, a
 * resourceVersion). Whoever changes what the reconcile reads of a Pod changes this too: the unit
 * test builds Pods that differ in one read field at a time.
 */
export interface PodFacts {
  readonly name: string | undefined;
  readonly uid: string | undefined;
  readonly owners: readonly { readonly kind: string; readonly uid: string }[];
  readonly deleting: boolean;
  readonly nodeName: string | undefined;
  readonly phase: string | undefined;
  readonly message: string | undefined;
  readonly startTime: string | undefined;
  readonly scheduled: { readonly status: string; readonly message: string | undefined } | undefined;
  readonly main: ContainerState | undefined;
}

const time = (t: unknown): string | undefined =>
  t === undefined ? undefined : t instanceof Date ? t.toISOString() : String(t);

/** The facts of `pod` the ReaperPod reconcile acts on (see {@link PodFacts}). */
export function podFacts(pod: ObservedPod): PodFacts {
  const status = pod.status;
  const scheduled = status?.conditions?.find((c) => c.type === 'PodScheduled');
  const statuses = status?.containerStatuses;
  const main = statuses?.find((s) => s.name === MAIN_CONTAINER) ?? statuses?.[0];
  return {
    name: pod.metadata?.name,
    uid: pod.metadata?.uid,
    owners: (pod.metadata?.ownerReferences ?? []).map((o) => ({ kind: o.kind, uid: o.uid })),
    deleting: pod.metadata?.deletionTimestamp !== undefined,
    nodeName: pod.spec?.nodeName,
    phase: status?.phase,
    message: status?.message,
    startTime: time(status?.startTime),
    scheduled: scheduled && { status: scheduled.status, message: scheduled.message },
    main: main?.state,
  };
}

/**
 * Whether a Pod is as its creation left it: not started, not deleting, nothing said by a kubelet or
 * the kube-scheduler (no phase past Pending, no start time, message, PodScheduled condition or
 * container state). The reconcile that created it mirrored exactly this from the create's
 * response, so its ADDED event is the echo of that create and no news to its ReaperPod; a Pod that
 * moved on before the watch saw it (a re-list) is not in this state and is news.
 */
export function isAsCreated(facts: PodFacts): boolean {
  return (
    !facts.deleting &&
    (facts.phase === undefined || facts.phase === 'Pending') &&
    facts.startTime === undefined &&
    facts.message === undefined &&
    facts.scheduled === undefined &&
    facts.main === undefined
  );
}

/** Whether two Pods' facts are equal: a change between them gives its ReaperPod nothing to do. */
export function samePodFacts(a: PodFacts, b: PodFacts): boolean {
  // Built in one key order by podFacts; `main` keeps the API server's (fixed) field order.
  return JSON.stringify(a) === JSON.stringify(b);
}
