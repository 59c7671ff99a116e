import type { ApiNode as Node } from '@reaper-flow/domain';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { REAL_NODE_LABEL } from '../constants';

/** The real kubelet nodes, by name. */
export async function listRealNodes(client: KubeClient): Promise<Node[]> {
  const list = await client.listAll<Node>(Resources.nodes, { labelSelector: `${REAL_NODE_LABEL}=true` });
  return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}
