import { isApiError, type KubeClient, REAPER_API_VERSION, Resources } from '@reaper-flow/k8s';
import { z } from 'zod';

/** This node's entry in a ReaperOverlay's status.nodes. */
export interface OverlayNodeReport {
  readonly ready: boolean;
  readonly resetGeneration: number;
  readonly lastResetTime?: string | undefined;
  readonly message?: string | undefined;
  /** True once the overlay's data is gone from this node (the deletion finalizer waits for it). */
  readonly cleaned?: boolean | undefined;
}

/** What the agent needs from the API: which incarnation exists, and a way to report on it. */
export interface OverlayStatusPort {
  /** The uid of the ReaperOverlay, or undefined if it does not exist. */
  currentUid(namespace: string, name: string): Promise<string | undefined>;
  /** Whether the ReaperOverlay is being deleted (its cleanup runs; nothing may be re-created). */
  isDeleting?(namespace: string, name: string): Promise<boolean>;
  /** Writes this node's entry; 'gone' when the ReaperOverlay no longer exists (nothing to report on). */
  report(namespace: string, name: string, entry: OverlayNodeReport): Promise<'written' | 'gone'>;
}

const ObjectWithUid = z.object({
  metadata: z.object({ uid: z.string(), deletionTimestamp: z.string().optional() }),
});

/** The field manager of one node's agent; one per node so each owns exactly its own entry. */
export function agentFieldManager(nodeName: string): string {
  return `reaper-node-agent-${nodeName}`;
}

/** The server-side apply body that sets exactly one node's entry of status.nodes. */
export function overlayStatusApplyBody(
  namespace: string,
  name: string,
  nodeName: string,
  entry: OverlayNodeReport,
): Record<string, unknown> {
  const node: Record<string, unknown> = {
    nodeName,
    ready: entry.ready,
    resetGeneration: entry.resetGeneration,
  };
  if (entry.lastResetTime !== undefined) node.lastResetTime = entry.lastResetTime;
  if (entry.message !== undefined) node.message = entry.message;
  if (entry.cleaned !== undefined) node.cleaned = entry.cleaned;
  return {
    apiVersion: REAPER_API_VERSION,
    kind: 'ReaperOverlay',
    metadata: { name, namespace },
    status: { nodes: [node] },
  };
}

/**
 * Reports one node's overlay state with server-side apply on the status subresource.
 *
 * status.nodes is a list-type map keyed by nodeName, and each agent applies with its own field
 * manager, so the API server merges entries: twenty agents writing at the same moment each keep
 * their entry, with no read-modify-write and no conflict retries. Each apply states the whole entry
 * this agent owns; a field left out is removed (so an entry never keeps a stale message).
 */
export class KubeOverlayStatus implements OverlayStatusPort {
  constructor(
    private readonly kube: KubeClient,
    private readonly nodeName: string,
    private readonly onWrite?: () => void,
  ) {}

  async currentUid(namespace: string, name: string): Promise<string | undefined> {
    const obj = await this.kube.get<unknown>(Resources.reaperOverlays, name, { namespace });
    if (obj === undefined) return undefined;
    const meta = ObjectWithUid.parse(obj).metadata;
    this.deleting.set(`${namespace}/${name}`, meta.deletionTimestamp !== undefined);
    return meta.uid;
  }

  /** From the last currentUid read of that overlay (one GET serves both questions). */
  async isDeleting(namespace: string, name: string): Promise<boolean> {
    return this.deleting.get(`${namespace}/${name}`) ?? false;
  }

  private readonly deleting = new Map<string, boolean>();

  async report(namespace: string, name: string, entry: OverlayNodeReport): Promise<'written' | 'gone'> {
    try {
      await this.kube.patch(
        Resources.reaperOverlays,
        name,
        'apply',
        overlayStatusApplyBody(namespace, name, this.nodeName, entry),
        { namespace, subresource: 'status', fieldManager: agentFieldManager(this.nodeName) },
      );
    } catch (err) {
      if (isApiError(err, 'NotFound')) return 'gone';
      throw err;
    }
    this.onWrite?.();
    return 'written';
  }
}
