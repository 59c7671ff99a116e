/** A node taint as the Node object carries it (`spec.taints[]`). */
export type TaintView = Readonly<{
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | (string & {});
}>;

/** A pod toleration (`spec.tolerations[]` of the DaemonJob). */
export type TolerationView = Readonly<{
  key?: string;
  operator?: 'Exists' | 'Equal' | (string & {});
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}>;

/** What targeting needs to know about a Node. */
export type NodeView = Readonly<{
  name: string;
  labels: Readonly<Record<string, string>>;
  taints: readonly TaintView[];
  /** The Ready condition is True. */
  ready: boolean;
  /** `status.nodeInfo.bootID`: changes when the node reboots. */
  bootId?: string;
  /** Cordoned. DaemonSet semantics: still targeted (see DAEMON_IMPLICIT_TOLERATIONS). */
  unschedulable?: boolean;
}>;

/** The parts of a DaemonJob spec that decide which nodes it runs on. */
export type TargetingSpec = Readonly<{
  nodeSelector?: Readonly<Record<string, string>>;
  tolerations?: readonly TolerationView[];
}>;

/**
 * Tolerations the DaemonSet controller adds to every daemon pod, added here for the same reason:
 * a node configuration job must reach cordoned nodes and nodes under resource pressure. The pods
 * created for a DaemonJob should carry them too, so that the taint manager does not evict them.
 */
export const DAEMON_IMPLICIT_TOLERATIONS: readonly TolerationView[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

/** Every selector entry equals the node label; an empty or absent selector matches all nodes. */
export function matchesNodeSelector(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}

/**
 * Kubernetes `Toleration.ToleratesTaint`: an empty effect matches every effect, an empty key (with
 * operator Exists) every key; Exists ignores the value, Equal (the default) compares it.
 */
export function toleratesTaint(toleration: TolerationView, taint: TaintView): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
      return (toleration.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/**
 * True when every NoSchedule and NoExecute taint is tolerated. PreferNoSchedule taints are a
 * scheduler preference and never exclude a node.
 */
export function toleratesTaints(
  tolerations: readonly TolerationView[],
  taints: readonly TaintView[],
): boolean {
  return taints
    .filter((taint) => taint.effect === 'NoSchedule' || taint.effect === 'NoExecute')
    .every((taint) => tolerations.some((toleration) => toleratesTaint(toleration, taint)));
}

/**
 * DaemonSet semantics: the sorted names of the Ready nodes that match the node selector and whose
 * NoSchedule/NoExecute taints are tolerated (spec tolerations plus DAEMON_IMPLICIT_TOLERATIONS).
 * A NotReady node is not a target: it leaves the target set and, when Ready again, re-joins it.
 */
export function targetNodes(spec: TargetingSpec, nodes: readonly NodeView[]): string[] {
  const tolerations = [...(spec.tolerations ?? []), ...DAEMON_IMPLICIT_TOLERATIONS];
  const names = nodes
    .filter(
      (node) =>
        node.ready &&
        matchesNodeSelector(spec.nodeSelector, node.labels) &&
        toleratesTaints(tolerations, node.taints),
    )
    .map((node) => node.name);
  return [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
