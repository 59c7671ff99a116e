import type { ReaperOverlayPhase } from '../schemas/index';
import { type StatusCondition, setCondition } from '../status/status-values';
import { OverlayEventReason } from './event-reasons';
import type { OverlayJob } from './operation';
import { parseResetRequest } from './reset-request';

/**
 * While a reset waits for workloads to finish, look again this often. Their ReaperPods' and Pods'
 * changes wake the overlay too (the watcher maps them); this only covers a world read in pieces
 * that lag each other.
 */
export const BUSY_REQUEUE_MS = 2000;

/** One node's entry in status.nodes, as written by that node's agent. */
export interface OverlayNodeEntry {
  readonly nodeName: string;
  readonly ready?: boolean | undefined;
  readonly resetGeneration?: number | undefined;
  readonly cleaned?: boolean | undefined;
  readonly message?: string | undefined;
}

/** Everything the overlay decision needs, read from the world beforehand. */
export interface OverlayDecisionInput {
  readonly overlay: {
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
    readonly resetPolicy: 'Manual' | 'OnFailure' | 'OnDelete';
    readonly resetGeneration: number;
    readonly deleting: boolean;
    /** Whether our cleanup finalizer is on the object. */
    readonly hasFinalizer: boolean;
    readonly phase?: ReaperOverlayPhase | undefined;
    readonly observedResetGeneration?: number | undefined;
    readonly conditions?: readonly StatusCondition[] | undefined;
  };
  /** Names of the Nodes that exist now. */
  readonly nodes: readonly string[];
  readonly entries: readonly OverlayNodeEntry[];
  /** Node -> ReaperPods using this overlay that may run there (see busyNodes). */
  readonly busy: ReadonlyMap<string, readonly string[]>;
  /** The overlay's per-node reset requests as stored (see reset-request.ts). */
  readonly resetRequests: readonly string[];
  /** RFC 3339, for condition transition times. */
  readonly now: string;
}

/** A Kubernetes Event to record on the overlay. */
export interface DecidedEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: OverlayEventReason;
  readonly message: string;
}

/** What the reconciler must do; applying it twice changes nothing the second time. */
export interface OverlayDecision {
  /** Status fields to converge to; undefined: write nothing (the object is not ours to manage). */
  readonly status:
    | {
        readonly phase: ReaperOverlayPhase;
        readonly message: string;
        readonly observedResetGeneration: number;
        readonly conditions: readonly StatusCondition[];
      }
    | undefined;
  /** Per-node jobs to enqueue (deterministic ids: enqueueing again is a no-op). */
  readonly jobs: readonly { readonly node: string; readonly job: OverlayJob }[];
  /** Reset-request members handled (or moot), to remove once the jobs are enqueued. */
  readonly removeRequests: readonly string[];
  readonly addFinalizer: boolean;
  readonly removeFinalizer: boolean;
  readonly requeueAfterMs?: number | undefined;
  /** Events to record when the status write shows this is a transition (not a repeat). */
  readonly transitionEvents: readonly DecidedEvent[];
  /** Events for the per-node resets enqueued now (each request is handled once). */
  readonly requestEvents: readonly DecidedEvent[];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Names listed in a status message at most; the rest are counted (a message must stay readable). */
export const MAX_LISTED = 10;

function listed(items: readonly string[], sep = ', '): string {
  if (items.length <= MAX_LISTED) return items.join(sep);
  return `${items.slice(0, MAX_LISTED).join(sep)}${sep}and ${items.length - MAX_LISTED} more`;
}

function waitsFor(node: string, workloads: readonly string[]): string {
  return `${node} waits for ReaperPod ${workloads.join(', ')}`;
}

/** `<node>: <message>` for each node whose agent reports that its last operation failed for good. */
function failures(nodes: readonly string[], entries: ReadonlyMap<string, OverlayNodeEntry>): string[] {
  return nodes
    .map((n) => entries.get(n))
    .filter((e): e is OverlayNodeEntry => e?.ready === false && !e.cleaned && !!e.message)
    .map((e) => `${e.nodeName}: ${e.message}`);
}

function readyCondition(
  input: OverlayDecisionInput,
  phase: ReaperOverlayPhase,
  message: string,
): StatusCondition[] {
  return setCondition(
    input.overlay.conditions,
    { type: 'Ready', status: phase === 'Ready' ? 'True' : 'False', reason: phase, message },
    input.now,
  );
}

function decideDeletion(input: OverlayDecisionInput): OverlayDecision {
  const { overlay, nodes, busy } = input;
  const none = {
    jobs: [],
    removeRequests: [],
    addFinalizer: false,
    removeFinalizer: false,
    transitionEvents: [],
    requestEvents: [],
  };
  // Without our finalizer the object is about to disappear and there is nothing we hold it for.
  if (!overlay.hasFinalizer) return { ...none, status: undefined };
  const cleaned = new Set(input.entries.filter((e) => e.cleaned === true).map((e) => e.nodeName));
  // Only current nodes count: a node removed from the cluster has no agent left to clean up.
  const pending = nodes.filter((n) => !cleaned.has(n));
  // PVC protection, per node: the data stays while a workload using it may run there. A node's
  // cleanup starts once its last one is over (their changes wake this reconcile); the other nodes
  // are cleaned meanwhile.
  const inUse = pending.filter((n) => (busy.get(n)?.length ?? 0) > 0);
  const free = pending.filter((n) => !inUse.includes(n));
  const observed = overlay.observedResetGeneration ?? 0;
  const base = { namespace: overlay.namespace, name: overlay.name, uid: overlay.uid };
  const done = pending.length === 0;
  const waits = inUse.map((n) => `cleanup of ${waitsFor(n, busy.get(n) ?? [])}`);
  const message = done
    ? `on-disk data cleaned up on ${plural(nodes.length, 'node')}`
    : [listed(waits, '; '), free.length > 0 ? `waiting for ${listed(free)} to clean up (agent away?)` : '']
        .filter((p) => p !== '')
        .join('; ');
  const transitionEvents: DecidedEvent[] = [];
  if (done) transitionEvents.push({ type: 'Normal', reason: OverlayEventReason.CleanedUp, message });
  else if (overlay.phase !== 'Deleting') {
    transitionEvents.push({
      type: 'Normal',
      reason: OverlayEventReason.Deleting,
      message: `cleaning up on-disk data on ${plural(nodes.length, 'node')}`,
    });
  }
  // Recorded whenever the status changes while workloads hold nodes; a repeat bumps its count.
  if (waits.length > 0) {
    transitionEvents.push({
      type: 'Normal',
      reason: OverlayEventReason.CleanupWaiting,
      message: `on-disk data kept while in use: ${listed(
        inUse.map((n) => waitsFor(n, busy.get(n) ?? [])),
        '; ',
      )}`,
    });
  }
  return {
    ...none,
    status: {
      phase: 'Deleting',
      message,
      observedResetGeneration: observed,
      conditions: readyCondition(input, 'Deleting', message),
    },
    jobs: free.map((node) => ({
      node,
      job: { ...base, op: 'delete', generation: observed, requestId: 'delete' },
    })),
    removeRequests: [...input.resetRequests],
    removeFinalizer: done,
    transitionEvents,
  };
}

/**
 * The pure heart of the ReaperOverlay reconciler: given the overlay, the current nodes, the agents'
 * per-node entries, the nodes busy with workloads and the pending per-node reset requests, what
 * the status should say and which per-node jobs must exist.
 *
 * - Deleting (our finalizer present): a delete job on every current node not yet cleaned and not
 *   busy with a workload using the overlay (PVC protection: those wait, named in the message and an
 *   Event); the finalizer goes once every current node is cleaned.
 * - resetGeneration > observedResetGeneration: Resetting; a reset job (requestId `gen-<n>`) on each
 *   node that has not applied it and runs no workload of this overlay; Ready again, with
 *   observedResetGeneration advanced, once every current node reports it. Failed while an agent
 *   reports that the reset failed for good on its node (a new resetGeneration tries again).
 * - Otherwise Ready (PVC-like: as soon as it exists); an ensure job on nodes without a ready entry;
 *   per-node reset requests become reset jobs (requestId = the ReaperPod uid) under resetPolicy
 *   OnFailure/OnDelete, wait while the node is busy, and are dropped under Manual.
 */
export function decideOverlay(input: OverlayDecisionInput): OverlayDecision {
  const { overlay, nodes, busy } = input;
  if (overlay.deleting) return decideDeletion(input);

  const base = { namespace: overlay.namespace, name: overlay.name, uid: overlay.uid };
  const entries = new Map(input.entries.map((e) => [e.nodeName, e]));
  const previouslyObserved = overlay.observedResetGeneration ?? 0;
  const target = overlay.resetGeneration;
  const jobs: { node: string; job: OverlayJob }[] = [];
  const transitionEvents: DecidedEvent[] = [];
  const addFinalizer = !overlay.hasFinalizer;

  if (target > previouslyObserved) {
    const todo = nodes.filter((n) => (entries.get(n)?.resetGeneration ?? -1) < target);
    if (todo.length > 0) {
      const waiting = todo.filter((n) => (busy.get(n)?.length ?? 0) > 0);
      for (const node of todo) {
        if (waiting.includes(node)) continue;
        jobs.push({ node, job: { ...base, op: 'reset', generation: target, requestId: `gen-${target}` } });
      }
      const failing = failures(todo, entries);
      // An agent reports a failure only when retrying cannot help: say Failed, not "resetting".
      const phase: ReaperOverlayPhase = failing.length > 0 ? 'Failed' : 'Resetting';
      const parts = [
        phase === 'Failed'
          ? `reset to generation ${target} failed on ${failing.length} of ${plural(nodes.length, 'node')}`
          : `resetting to generation ${target}: ${nodes.length - todo.length}/${nodes.length} nodes done`,
        listed([...failing, ...waiting.map((n) => waitsFor(n, busy.get(n) ?? []))], '; '),
      ];
      const message = parts.filter((p) => p !== '').join('; ');
      if (phase === 'Resetting' && overlay.phase !== 'Resetting') {
        transitionEvents.push({
          type: 'Normal',
          reason: OverlayEventReason.ResetStarted,
          message: `resetting to generation ${target} on ${plural(nodes.length, 'node')}`,
        });
      }
      if (phase === 'Failed' && overlay.phase !== 'Failed') {
        transitionEvents.push({ type: 'Warning', reason: OverlayEventReason.ResetFailed, message });
      }
      return {
        status: {
          phase,
          message,
          observedResetGeneration: previouslyObserved,
          conditions: readyCondition(input, phase, message),
        },
        jobs,
        // Per-node requests wait until the reset is over (it may well cover them).
        removeRequests: [],
        addFinalizer,
        removeFinalizer: false,
        // A workload finishing does not re-enqueue the overlay: look again shortly.
        requeueAfterMs: waiting.length > 0 ? BUSY_REQUEUE_MS : undefined,
        transitionEvents,
        requestEvents: [],
      };
    }
  }

  const observed = Math.max(previouslyObserved, target);
  if (observed > previouslyObserved || overlay.phase === 'Resetting' || overlay.phase === 'Failed') {
    transitionEvents.push({
      type: 'Normal',
      reason: OverlayEventReason.ResetCompleted,
      message: `reset to generation ${observed} on ${plural(nodes.length, 'node')}`,
    });
  }
  for (const node of nodes) {
    if (entries.get(node)?.ready === true) continue;
    jobs.push({ node, job: { ...base, op: 'ensure', generation: observed, requestId: `gen-${observed}` } });
  }

  const removeRequests: string[] = [];
  const requestEvents: DecidedEvent[] = [];
  const waitingRequests: string[] = [];
  const current = new Set(nodes);
  for (const member of input.resetRequests) {
    const request = parseResetRequest(member);
    // OnFailure acts on failed workloads only, OnDelete on deleted ones (a request without a
    // cause, from an older writer, counts for either).
    const wanted = overlay.resetPolicy === 'OnFailure' ? 'failed' : 'deleted';
    const applies = request && overlay.resetPolicy !== 'Manual' && (request.cause ?? wanted) === wanted;
    if (!request || !applies || !current.has(request.node)) {
      removeRequests.push(member);
      continue;
    }
    const workloads = busy.get(request.node) ?? [];
    if (workloads.length > 0) {
      waitingRequests.push(`reset of ${waitsFor(request.node, workloads)}`);
      continue;
    }
    jobs.push({
      node: request.node,
      job: { ...base, op: 'reset', generation: observed, requestId: request.requestId },
    });
    removeRequests.push(member);
    requestEvents.push({
      type: 'Normal',
      reason: OverlayEventReason.NodeResetRequested,
      message: `resetting on ${request.node} (resetPolicy ${overlay.resetPolicy}, workload uid ${request.requestId})`,
    });
  }

  const summary =
    observed > 0
      ? `reset to generation ${observed} on ${plural(nodes.length, 'node')}`
      : `ready on ${plural(nodes.length, 'node')}`;
  // Ensure failures do not make the overlay unavailable on the other nodes, but they are shown.
  const message = [summary, listed([...failures(nodes, entries), ...waitingRequests], '; ')]
    .filter((p) => p !== '')
    .join('; ');
  return {
    status: {
      phase: 'Ready',
      message,
      observedResetGeneration: observed,
      conditions: readyCondition(input, 'Ready', summary),
    },
    jobs,
    removeRequests,
    addFinalizer,
    removeFinalizer: false,
    requeueAfterMs: waitingRequests.length > 0 ? BUSY_REQUEUE_MS : undefined,
    transitionEvents,
    requestEvents,
  };
}
