/**
 * A per-node overlay reset asked for by resetPolicy: OnFailure (the ReaperPod reconcile saw a
 * workload fail on the node) or OnDelete (the watcher saw a workload that ran there deleted). The
 * request id is the workload's uid, so the same workload asks once however often it is seen.
 */
export interface ResetRequest {
  readonly node: string;
  readonly requestId: string;
  /** Absent in requests written before causes existed: they count for either policy. */
  readonly cause?: 'failed' | 'deleted' | undefined;
}

/** The stored form of a request: `<node>|<requestId>|<cause>`. Built and parsed only here. */
export function formatResetRequest(request: ResetRequest): string {
  const parts = [request.node, request.requestId];
  if (request.cause) parts.push(request.cause);
  return parts.join('|');
}

/** The request a stored member names; undefined when malformed. */
export function parseResetRequest(member: string): ResetRequest | undefined {
  const [node, requestId, cause] = member.split('|');
  if (!node || !requestId) return undefined;
  if (cause !== 'failed' && cause !== 'deleted') return { node, requestId };
  return { node, requestId, cause };
}
