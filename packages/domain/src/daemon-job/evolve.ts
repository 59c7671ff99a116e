import { ReaperError } from '../errors';
import type { DaemonJobEvent } from './events';
import { conditionStatuses } from './phase';
import {
  type DaemonJobState,
  initialState,
  type NodeRunPhase,
  type NodeState,
  nodeOf,
  RECENT_RUN_IDS,
} from './state';
import type { DaemonJobConditionType } from './views';

/** Thrown by evolve for an event type it does not know (a log written by a newer version). */
export class UnknownEventError extends ReaperError {
  readonly code = 'daemonJob.UnknownEvent';
  readonly terminal = true;
  constructor(
    readonly eventType: string,
    options?: { cause?: unknown },
  ) {
    super(`unknown DaemonJob event type ${JSON.stringify(eventType)}`, options);
    this.name = 'UnknownEventError';
  }
}

const withoutKeys = (node: NodeState, keys: readonly (keyof NodeState)[]): NodeState => {
  const copy: Record<string, unknown> = { ...node };
  for (const key of keys) delete copy[key];
  return copy as NodeState;
};

/**
 * Node maps created by the fold in progress, and the names of the nodes it put or removed. A fold
 * may update its own copy in place: its intermediate states are never seen by anyone, and without
 * this a 1000-node job would copy 1000 entries per event. A state handed in from outside is never
 * mutated.
 */
type Owned = Readonly<{ maps: WeakSet<object>; touched: Set<string> }> | undefined;

const putNode = (
  state: DaemonJobState,
  name: string,
  next: NodeState | undefined,
  owned: Owned,
): DaemonJobState => {
  const previous = nodeOf(state, name);
  const counts: Record<NodeRunPhase | 'needsRun', number> = { ...state.counts };
  if (previous) {
    counts[previous.phase] -= 1;
    if (previous.needsRun) counts.needsRun -= 1;
  }
  if (next) {
    counts[next.phase] += 1;
    if (next.needsRun) counts.needsRun += 1;
  }
  let nodes = state.nodes as Record<string, NodeState>;
  if (!owned?.maps.has(nodes)) {
    nodes = { ...nodes };
    owned?.maps.add(nodes);
  }
  owned?.touched.add(name);
  if (next) nodes[name] = next;
  else delete nodes[name];
  return { ...state, nodes, counts };
};

const updateNode = (
  state: DaemonJobState,
  name: string,
  update: (node: NodeState) => NodeState,
  owned: Owned,
): DaemonJobState => {
  const node = nodeOf(state, name);
  return node ? putNode(state, name, update(node), owned) : state;
};

const clearSuspensionHolds = (state: DaemonJobState, owned: Owned): DaemonJobState => {
  let next = state;
  for (const [name, node] of Object.entries(state.nodes)) {
    if (node.held === 'Suspended') next = putNode(next, name, withoutKeys(node, ['held', 'message']), owned);
  }
  return next;
};

const apply = (state: DaemonJobState, event: DaemonJobEvent, owned: Owned): DaemonJobState => {
  const at = event.at;
  switch (event.type) {
    case 'SpecObserved': {
      const { generation, after, retryLimit, concurrencyPolicy, triggerOn, runSpecHash } = event;
      // `=== true` and the optional hash: events logged before these fields existed.
      const suspend = event.suspend === true;
      return {
        ...state,
        spec: {
          generation,
          after,
          retryLimit,
          concurrencyPolicy,
          triggerOn,
          suspend,
          ...(runSpecHash !== undefined && { runSpecHash }),
        },
      };
    }
    case 'GenerationAdopted':
      // Not GenerationStarted: the runs of the generation before carry on as they are.
      return { ...state, observedGeneration: event.generation };
    case 'DaemonJobSuspended':
      // Informational: SpecObserved before it holds spec.suspend.
      return state;
    case 'DaemonJobResumed':
      // Nodes held only by the suspension no longer are (their node-runs are woken).
      return clearSuspensionHolds(state, owned);
    case 'NodeJoinedTargets':
      return putNode(
        state,
        event.node,
        {
          phase: 'Idle',
          attempt: 0,
          retryCount: 0,
          ...(event.bootId !== undefined && { bootId: event.bootId }),
          needsRun: 'NodeJoined',
          lastTransitionAt: at,
        },
        owned,
      );
    case 'NodeLeftTargets':
      return putNode(state, event.node, undefined, owned);
    case 'NodeRebooted':
      return updateNode(
        state,
        event.node,
        (node) => ({ ...node, bootId: event.bootId, needsRun: 'NodeRebooted' }),
        owned,
      );
    case 'DependencyBlocked':
      return { ...state, block: event.block };
    case 'DependencyUnblocked':
      return { ...state, block: { kind: 'none' } };
    case 'RunTriggered':
      return {
        ...state,
        lastRun: { runId: event.runId, reason: event.reason, generation: event.generation, at },
        recentRunIds: [...state.recentRunIds, event.runId].slice(-RECENT_RUN_IDS),
        ...(event.triggerValue !== undefined && { lastTriggerValue: event.triggerValue }),
        ...(event.retryValue !== undefined && { lastRetryValue: event.retryValue }),
      };
    case 'GenerationStarted':
      return { ...state, observedGeneration: event.generation, generationRunStarted: false };
    case 'NodeRunQueued':
      return updateNode(
        state,
        event.node,
        (node) => ({
          phase: 'Queued',
          runId: event.runId,
          attempt: 0,
          retryCount: 0,
          ...(node.bootId !== undefined && { bootId: node.bootId }),
          lastTransitionAt: at,
        }),
        owned,
      );
    case 'NodeRunSkipped':
      return updateNode(state, event.node, (node) => withoutKeys(node, ['needsRun']), owned);
    case 'NodeRunReplaced':
      // Informational: the NodeRunQueued that follows moves the node to the new run.
      return state;
    case 'NodeRunCancelled':
      return updateNode(
        state,
        event.node,
        (node) => ({
          ...withoutKeys(node, ['runId', 'notBefore', 'needsRun', 'exitCode', 'message', 'held']),
          phase: 'Idle',
          lastTransitionAt: at,
        }),
        owned,
      );
    case 'NodeRunStarted':
      return {
        ...updateNode(
          state,
          event.node,
          (node) => ({
            ...withoutKeys(node, ['exitCode', 'message', 'notBefore', 'held']),
            phase: 'Running',
            attempt: event.attempt,
            reaperPodName: event.reaperPodName,
            lastTransitionAt: at,
          }),
          owned,
        ),
        generationRunStarted: true,
      };
    case 'NodeRunSucceeded':
      return updateNode(
        state,
        event.node,
        (node) => ({
          ...withoutKeys(node, ['exitCode', 'message']),
          phase: 'Succeeded',
          ...(event.exitCode !== undefined && { exitCode: event.exitCode }),
          lastTransitionAt: at,
        }),
        owned,
      );
    case 'NodeRunHeld':
      return updateNode(
        state,
        event.node,
        (node) => ({ ...node, held: event.reason, message: event.message }),
        owned,
      );
    case 'NodeRunFailed':
      return updateNode(
        state,
        event.node,
        (node) => ({
          ...withoutKeys(node, ['exitCode', 'message']),
          phase: 'Failed',
          ...(event.exitCode !== undefined && { exitCode: event.exitCode }),
          ...(event.message !== undefined && { message: event.message }),
          lastTransitionAt: at,
        }),
        owned,
      );
    case 'NodeRunRetryScheduled':
      return updateNode(
        state,
        event.node,
        (node) => ({
          ...withoutKeys(node, ['notBefore']),
          phase: 'RetryWaiting',
          retryCount: event.retryCount,
          ...(event.notBefore !== undefined && { notBefore: event.notBefore }),
          lastTransitionAt: at,
        }),
        owned,
      );
    case 'NodeRunExhausted':
    case 'DaemonJobCompleted':
    case 'DaemonJobPartiallyFailed':
      // Outcomes already reflected by the node events before them; kept for the log and for Events.
      return state;
    default: {
      const unknown: never = event;
      throw new UnknownEventError((unknown as { type?: string }).type ?? String(unknown));
    }
  }
};

const trackConditions = (state: DaemonJobState, at: string): DaemonJobState => {
  const statuses = conditionStatuses(state);
  let conditions = state.conditions;
  for (const type of Object.keys(statuses) as DaemonJobConditionType[]) {
    const status = statuses[type];
    if (conditions[type]?.status !== status) conditions = { ...conditions, [type]: { status, since: at } };
  }
  return conditions === state.conditions ? state : { ...state, conditions };
};

const step = (state: DaemonJobState, event: DaemonJobEvent, owned: Owned): DaemonJobState => {
  const next = trackConditions(apply(state, event, owned), event.at);
  return { ...next, version: state.version + 1 };
};

/**
 * Applies one event. Pure and total over DaemonJobEvent (an unknown type throws
 * UnknownEventError). Condition transition times are the `at` of the event that changed the
 * condition's status.
 */
export function evolve(state: DaemonJobState, event: DaemonJobEvent): DaemonJobState {
  return step(state, event, undefined);
}

/**
 * Folds events onto `from` (default: the initial state); equal to `events.reduce(evolve, from)`,
 * but linear in the number of events: `from` is not mutated, the copies it makes are.
 */
export function fold(events: readonly DaemonJobEvent[], from: DaemonJobState = initialState): DaemonJobState {
  return new FoldSession().fold(events, from);
}

/**
 * One fold spread over several calls, for a caller that decides and applies many commands in a row
 * (planReconcile, the test histories): the node map is copied once per session instead of once per
 * call, so n commands on an n-node job cost O(n), not O(n^2).
 *
 * The guarantee, enforced by `owned`: a state that did not come out of this session (a loaded
 * snapshot, `initialState`) is never mutated. A state the session returned stays valid only until
 * it is handed back to the session: folding onto it may update its node map in place. So a caller
 * hands back only its latest state and keeps no earlier one it will read again.
 */
export class FoldSession {
  readonly #owned = { maps: new WeakSet<object>(), touched: new Set<string>() };

  /**
   * The nodes whose entry any fold of this session put or removed: between the state handed in
   * and the latest one, every other node's entry is the same object.
   */
  get touched(): ReadonlySet<string> {
    return this.#owned.touched;
  }

  /** `events.reduce(evolve, from)`; see the class comment for what `from` may be afterwards. */
  fold(events: readonly DaemonJobEvent[], from: DaemonJobState): DaemonJobState {
    let state = from;
    for (const event of events) state = step(state, event, this.#owned);
    return state;
  }
}
