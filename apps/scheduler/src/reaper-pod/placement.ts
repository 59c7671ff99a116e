import {
  fnv1a64,
  matchesNodeSelector,
  type TaintView,
  type TolerationView,
  toleratesTaints,
} from '@reaper-flow/domain';

/** A Node as the watcher stores it (a compact projection). */
export interface StoredNodeView {
  readonly metadata: {
    readonly name: string;
    readonly labels?: Readonly<Record<string, string>> | undefined;
  };
  readonly spec?:
    | { readonly taints?: readonly TaintView[] | undefined; readonly unschedulable?: boolean }
    | undefined;
  readonly status?:
    | { readonly conditions?: readonly { readonly type: string; readonly status: string }[] | undefined }
    | undefined;
}

/** What placement reads of a Pod's spec. */
export interface PlacementSpec {
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined;
  readonly tolerations?: readonly TolerationView[] | undefined;
}

export type Placement = { readonly node: string } | { readonly node: undefined; readonly message: string };

const isReady = (n: StoredNodeView) =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Picks the node an unbound Pod is bound to: a Ready, schedulable node matching the nodeSelector
 * whose NoSchedule/NoExecute taints are tolerated. Among those, the choice is a stable hash of
 * `key` (the Pod uid), which spreads Pods across nodes and gives the same answer on every retry,
 * so a reconcile repeated after a crash binds to the same node. When no node fits, the message
 * says how many nodes fail which test, like the kube-scheduler's FailedScheduling. Pure.
 */
export function placePod(spec: PlacementSpec, nodes: readonly StoredNodeView[], key: string): Placement {
  const reasons = { selector: 0, notReady: 0, unschedulable: 0, taints: 0 };
  const fit: string[] = [];
  for (const node of nodes) {
    if (!matchesNodeSelector(spec.nodeSelector, node.metadata.labels ?? {})) reasons.selector++;
    else if (!isReady(node)) reasons.notReady++;
    else if (node.spec?.unschedulable) reasons.unschedulable++;
    else if (!toleratesTaints(spec.tolerations ?? [], node.spec?.taints ?? [])) reasons.taints++;
    else fit.push(node.metadata.name);
  }
  if (fit.length > 0) {
    fit.sort();
    return { node: fit[Number(fnv1a64(key) % BigInt(fit.length))] as string };
  }
  const does = (n: number) => (n === 1 ? 'does' : 'do');
  const is = (n: number) => (n === 1 ? 'is' : 'are');
  const why = [
    reasons.selector && `${reasons.selector} ${does(reasons.selector)} not match the nodeSelector`,
    reasons.notReady && `${reasons.notReady} ${is(reasons.notReady)} not Ready`,
    reasons.unschedulable && `${reasons.unschedulable} ${is(reasons.unschedulable)} cordoned`,
    reasons.taints &&
      `${reasons.taints} ${reasons.taints === 1 ? 'has' : 'have'} taints that are not tolerated`,
  ].filter(Boolean);
  const selector = Object.entries(spec.nodeSelector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    node: undefined,
    message:
      `no node to run on${selector ? ` (nodeSelector ${selector})` : ''}: ` +
      (nodes.length === 0
        ? 'the cluster has no nodes'
        : `of ${plural(nodes.length, 'node')}, ${why.join(', ')}`),
  };
}
