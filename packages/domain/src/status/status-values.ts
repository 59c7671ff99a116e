// Status values as the API server stores them: the merge patch between two statuses, and
// metav1.Condition bookkeeping. Pure: the reconcilers' status rules build on these, and
// @reaper-flow/k8s's patchStatus sends the patch.

/**
 * Desired status fields. Only the keys present are compared and written, so fields owned by
 * someone else (e.g. per-node entries written by node agents with server-side apply) are never
 * touched; a key whose value is `undefined` is removed (written as null in the merge patch).
 */
export type DesiredStatus = Readonly<Record<string, unknown>>;

/** Keys that identify an element of a list of objects, in the order they are tried. */
const IDENTITY_KEYS = ['type', 'nodeName', 'name'] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The identity key shared by every element of both lists, if any (conditions: `type`). */
function identityKey(a: readonly unknown[], b: readonly unknown[]): string | undefined {
  const all = [...a, ...b];
  if (all.length === 0) return undefined;
  return IDENTITY_KEYS.find((k) => all.every((item) => isRecord(item) && typeof item[k] === 'string'));
}

/**
 * Deep equality for status values: a missing key equals an `undefined` one, and lists of objects
 * keyed by `type`, `nodeName` or `name` (conditions, per-node entries) are compared as maps, since
 * the API server and other writers may reorder them. Other lists compare in order.
 */
export function statusEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    const key = identityKey(a, b);
    if (key === undefined) return a.every((item, i) => statusEqual(item, b[i]));
    const byKey = new Map(b.map((item) => [(item as Record<string, unknown>)[key], item]));
    if (byKey.size !== b.length) return a.every((item, i) => statusEqual(item, b[i]));
    return a.every((item) => statusEqual(item, byKey.get((item as Record<string, unknown>)[key])));
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!statusEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

/**
 * The merge patch that turns `current` into `desired` on the keys `desired` names, or undefined
 * when nothing differs.
 */
export function statusPatch(current: unknown, desired: DesiredStatus): Record<string, unknown> | undefined {
  const old = isRecord(current) ? current : {};
  const patch: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(desired)) {
    if (v === undefined) {
      if (old[k] !== undefined && old[k] !== null) patch[k] = null;
    } else if (!statusEqual(old[k], v)) {
      patch[k] = v;
    }
  }
  return Object.keys(patch).length === 0 ? undefined : patch;
}

/** metav1.Condition as written into status.conditions. */
export interface StatusCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number | undefined;
}

/**
 * `conditions` with `next` set (replacing the entry of its type). lastTransitionTime is kept when
 * the status did not change, so setting the same condition again yields an equal list (and no
 * status write); otherwise it is `now`.
 */
export function setCondition(
  conditions: readonly StatusCondition[] | undefined,
  next: Omit<StatusCondition, 'lastTransitionTime'>,
  now: string,
): StatusCondition[] {
  const list = conditions ?? [];
  const old = list.find((c) => c.type === next.type);
  const lastTransitionTime = old && old.status === next.status ? old.lastTransitionTime : now;
  const condition: StatusCondition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime,
    ...(next.observedGeneration === undefined ? {} : { observedGeneration: next.observedGeneration }),
  };
  return old ? list.map((c) => (c === old ? condition : c)) : [...list, condition];
}
