import { randomUUID } from 'node:crypto';
import type { ApiNode as Node, NodeCondition, NodeSystemInfo, Taint } from '@reaper-flow/domain';
import { formatTime } from '@reaper-flow/domain';
import { ApiError, type KubeClient, Resources } from '@reaper-flow/k8s';
import { SIMULATED_LABEL } from '../constants';

const KUBELET_VERSION = 'v1.36.3';
const FIELD_MANAGER = 'reaper-flow-local-cluster';
/** Taint the API server puts on every new Node and the node lifecycle controller maintains. */
export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';

export interface AddNodeOptions {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly taints?: readonly Taint[];
  /** Initial Ready condition (default true). */
  readonly ready?: boolean;
  readonly capacity?: Readonly<{ cpu?: string; memory?: string; pods?: string }>;
}

/**
 * Creates a simulated Node (or adopts an existing one of that name: labels and taints are set, status
 * rewritten), then writes its status through the nodes/status subresource the way a kubelet would.
 */
export async function addNode(client: KubeClient, opts: AddNodeOptions): Promise<Node> {
  const labels = {
    'kubernetes.io/hostname': opts.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    ...opts.labels,
    [SIMULATED_LABEL]: 'true',
  };
  const body: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: opts.name, labels },
    spec: { taints: [...(opts.taints ?? [])] },
  };
  try {
    await client.create<Node>(Resources.nodes, body);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'AlreadyExists')) throw err;
    await client.patch<Node>(Resources.nodes, opts.name, 'merge', {
      metadata: { labels },
      spec: { taints: opts.taints ? [...opts.taints] : null },
    });
  }
  const capacity = {
    cpu: opts.capacity?.cpu ?? '4',
    memory: opts.capacity?.memory ?? '8Gi',
    pods: opts.capacity?.pods ?? '110',
  };
  const nodeInfo: NodeSystemInfo = {
    bootID: randomUUID(),
    machineID: randomUUID().replaceAll('-', ''),
    systemUUID: randomUUID(),
    kernelVersion: '6.1.0-reaper',
    osImage: 'reaper-flow simulated node',
    containerRuntimeVersion: 'reaper://v2',
    kubeletVersion: KUBELET_VERSION,
    operatingSystem: 'linux',
    architecture: 'amd64',
  };
  const node = await patchStatus(client, opts.name, {
    nodeInfo,
    capacity,
    allocatable: capacity,
    addresses: [
      { type: 'InternalIP', address: '127.0.0.1' },
      { type: 'Hostname', address: opts.name },
    ],
    conditions: conditions(
      undefined,
      opts.ready ?? true,
      opts.ready === false ? 'node added NotReady' : undefined,
    ),
  });
  return syncNotReadyTaint(client, node, opts.ready ?? true);
}

/** Sets the Ready condition (True: KubeletReady, False: KubeletNotReady with `message`). */
export async function setNodeReady(
  client: KubeClient,
  name: string,
  ready: boolean,
  message?: string,
): Promise<Node> {
  const node = await client.get<Node>(Resources.nodes, name);
  if (!node) throw new ApiError('NotFound', 404, `node ${name} not found`);
  const updated = await patchStatus(client, name, { conditions: conditions(node, ready, message) });
  return syncNotReadyTaint(client, updated, ready);
}

/**
 * Simulates a reboot: Ready goes False ("rebooting"), stays so for `downMs`, then comes back True with
 * a new status.nodeInfo.bootID, which is how Kubernetes tells a reboot from a kubelet restart.
 */
export async function rebootNode(
  client: KubeClient,
  name: string,
  opts: { downMs?: number } = {},
): Promise<{ previousBootID: string; bootID: string }> {
  const before = await setNodeReady(client, name, false, 'node is rebooting');
  await new Promise((r) => setTimeout(r, opts.downMs ?? 1000));
  const bootID = randomUUID();
  const after = await client.get<Node>(Resources.nodes, name);
  if (!after) throw new ApiError('NotFound', 404, `node ${name} disappeared during its reboot`);
  const rebooted = await patchStatus(client, name, {
    nodeInfo: { bootID },
    conditions: conditions(after, true),
  });
  await syncNotReadyTaint(client, rebooted, true);
  return { previousBootID: before.status?.nodeInfo?.bootID ?? '', bootID };
}

/** Deletes a node; false when it did not exist. */
export function removeNode(client: KubeClient, name: string): Promise<boolean> {
  return client.delete(Resources.nodes, name);
}

/** The simulated nodes, by name. */
export async function listSimulatedNodes(client: KubeClient): Promise<Node[]> {
  const list = await client.listAll<Node>(Resources.nodes, { labelSelector: `${SIMULATED_LABEL}=true` });
  return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/** Whether a node's Ready condition is True. */
export function isNodeReady(node: Node): boolean {
  return node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** Parses `key=value:Effect` or `key:Effect`. */
export function parseTaint(text: string): Taint {
  const match = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(text);
  if (!match?.[1])
    throw new Error(`bad taint "${text}": expected key=value:Effect (NoSchedule|PreferNoSchedule|NoExecute)`);
  const taint: Taint = { key: match[1], effect: match[3] as Taint['effect'] };
  return match[2] ? { ...taint, value: match[2] } : taint;
}

/**
 * Keeps the node.kubernetes.io/not-ready:NoSchedule taint in line with Ready, as the node lifecycle
 * controller would (it is not run here: it expects kubelet heartbeats). The API server taints every
 * new Node with it, so without this a scheduler would never place anything on a simulated node.
 * The write carries the read resourceVersion, so concurrent taint edits are not lost.
 */
async function syncNotReadyTaint(client: KubeClient, current: Node, ready: boolean): Promise<Node> {
  let node = current;
  for (let attempt = 0; attempt < 20; attempt++) {
    const taints = node.spec?.taints ?? [];
    const others = taints.filter((t) => t.key !== NOT_READY_TAINT);
    const wanted = ready ? others : [...others, { key: NOT_READY_TAINT, effect: 'NoSchedule' as const }];
    if (ready ? others.length === taints.length : taints.some((t) => t.key === NOT_READY_TAINT)) return node;
    try {
      return await client.patch<Node>(Resources.nodes, node.metadata.name, 'merge', {
        metadata: { resourceVersion: node.metadata.resourceVersion },
        spec: { taints: wanted },
      });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'Conflict')) throw err;
      const fresh = await client.get<Node>(Resources.nodes, node.metadata.name);
      if (!fresh) throw new ApiError('NotFound', 404, `node ${node.metadata.name} not found`);
      node = fresh;
    }
  }
  throw new Error(`could not update the taints of node ${current.metadata.name}: too many conflicts`);
}

function patchStatus(client: KubeClient, name: string, status: Record<string, unknown>): Promise<Node> {
  return client.patch<Node>(
    Resources.nodes,
    name,
    'merge',
    { status },
    { subresource: 'status', fieldManager: FIELD_MANAGER },
  );
}

/** The full condition list of a node in the given readiness, keeping transition times that did not change. */
function conditions(node: Node | undefined, ready: boolean, message?: string): NodeCondition[] {
  const now = formatTime(Date.now());
  const previous = new Map((node?.status?.conditions ?? []).map((c) => [c.type, c]));
  const make = (
    type: string,
    status: NodeCondition['status'],
    reason: string,
    text: string,
  ): NodeCondition => {
    const old = previous.get(type);
    return {
      type,
      status,
      reason,
      message: text,
      lastHeartbeatTime: now,
      lastTransitionTime: old?.status === status && old.lastTransitionTime ? old.lastTransitionTime : now,
    };
  };
  return [
    make('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    make('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    make('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    ready
      ? make('Ready', 'True', 'KubeletReady', message ?? 'kubelet is posting ready status')
      : make('Ready', 'False', 'KubeletNotReady', message ?? 'node marked NotReady'),
  ];
}
