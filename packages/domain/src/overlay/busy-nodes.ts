import { OVERLAY_NAME_ANNOTATION } from '../translate/labels';

/** The fields of a stored ReaperPod this module reads. */
export interface StoredReaperPodView {
  readonly metadata: { readonly name: string };
  readonly spec?: { readonly overlayName?: string | undefined } | undefined;
  readonly status?:
    | {
        readonly phase?: string | undefined;
        readonly nodeName?: string | undefined;
        readonly podName?: string | undefined;
      }
    | undefined;
}

/** The fields of a stored Pod this module reads. */
export interface StoredPodView {
  readonly metadata: {
    readonly name: string;
    readonly annotations?: Readonly<Record<string, string>> | undefined;
  };
  readonly spec?: { readonly nodeName?: string | undefined } | undefined;
  readonly status?: { readonly phase?: string | undefined } | undefined;
}

/**
 * Nodes where a workload using overlay `overlayName` may be running, with the ReaperPods to wait
 * for: resetting an overlay under a running workload would pull its filesystem away.
 *
 * Two sources, because the world is read in pieces that may lag each other: ReaperPods whose status
 * says Running, or Pending with a Pod, on a node; and managed Pods carrying the overlay annotation
 * that are bound to a node and not finished (a Pod just created may not be mirrored into its
 * ReaperPod's status yet). Pure.
 */
export function busyNodes(
  overlayName: string,
  reaperPods: readonly StoredReaperPodView[],
  pods: readonly StoredPodView[],
): Map<string, string[]> {
  const busy = new Map<string, Set<string>>();
  const add = (node: string, workload: string) => {
    const set = busy.get(node) ?? new Set<string>();
    set.add(workload);
    busy.set(node, set);
  };
  for (const rpod of reaperPods) {
    if (rpod.spec?.overlayName !== overlayName) continue;
    const { phase, nodeName, podName } = rpod.status ?? {};
    if (!nodeName) continue;
    if (phase === 'Running' || (phase === 'Pending' && podName)) add(nodeName, rpod.metadata.name);
  }
  for (const pod of pods) {
    if (pod.metadata.annotations?.[OVERLAY_NAME_ANNOTATION] !== overlayName) continue;
    const node = pod.spec?.nodeName;
    const phase = pod.status?.phase;
    if (!node || phase === 'Succeeded' || phase === 'Failed') continue;
    // The Pod carries its ReaperPod's name (1:1 naming).
    add(node, pod.metadata.name);
  }
  return new Map([...busy].map(([node, set]) => [node, [...set].sort()]));
}
