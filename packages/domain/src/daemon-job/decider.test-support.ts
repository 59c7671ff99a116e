// Helpers for the DaemonJob decider's unit tests (given events / when command / then events).
import type { DaemonJobCommand, FinishNodeRun, ObserveSpec, StartNodeRun, TriggerRun } from './commands';
import { decideAndEvolve, decideCommand } from './decide';
import type { Decision } from './decision';
import type { DaemonJobEvent } from './events';
import { FoldSession, fold } from './evolve';
import { type DaemonJobState, initialState } from './state';

const pad = (n: number): string => String(n).padStart(2, '0');

/** ISO time `n` (< 3600) seconds after a fixed origin. */
export const at = (n: number): string => `2025-01-01T00:${pad(Math.floor(n / 60))}:${pad(n % 60)}.000Z`;

/**
 * ObserveSpec with defaults (generation 1, no deps, retryLimit 0, Skip, NodeReady, not suspended).
 * The run fingerprint defaults to one per generation: a new generation is a spec change unless a
 * test passes the same `runSpecHash` (only operational fields changed).
 */
export const observeSpec = (overrides: Partial<Omit<ObserveSpec, 'type'>> = {}): ObserveSpec => ({
  type: 'ObserveSpec',
  generation: 1,
  after: [],
  retryLimit: 0,
  concurrencyPolicy: 'Skip',
  triggerOn: 'NodeReady',
  suspend: false,
  runSpecHash: `spec-${overrides.generation ?? 1}`,
  at: at(0),
  ...overrides,
});

/** ObserveTargets for the given node names (boot id `boot-<name>` unless given as name=bootId). */
export const observeTargets = (names: readonly string[], time = at(1)): DaemonJobCommand => ({
  type: 'ObserveTargets',
  nodes: names.map((entry) => {
    const [name = entry, bootId = `boot-${entry}`] = entry.split('=');
    return { name, bootId };
  }),
  at: time,
});

/** TriggerRun with defaults (reason Created, generation 1, all targets). */
export const trigger = (
  runId: string,
  overrides: Partial<Omit<TriggerRun, 'type' | 'runId'>> = {},
): TriggerRun => ({
  type: 'TriggerRun',
  runId,
  reason: 'Created',
  generation: 1,
  at: at(2),
  ...overrides,
});

/** StartNodeRun of `attempt` with the ReaperPod `job-<node>` (every attempt's ReaperPod has the same name). */
export const start = (runId: string, node: string, attempt = 1, time = at(3)): StartNodeRun => ({
  type: 'StartNodeRun',
  runId,
  node,
  attempt,
  reaperPodName: `job-${node}`,
  at: time,
});

/** FinishNodeRun with exit code 0 or 1; a failure carries retryAt `1000 * attempt` (epoch ms). */
export const finish = (
  runId: string,
  node: string,
  outcome: 'Succeeded' | 'Failed',
  attempt = 1,
  time = at(4),
): FinishNodeRun => ({
  type: 'FinishNodeRun',
  runId,
  node,
  attempt,
  outcome,
  exitCode: outcome === 'Succeeded' ? 0 : 1,
  ...(outcome === 'Failed' && { retryAt: 1000 * attempt }),
  at: time,
});

/** Decides commands one after another from `from`, failing loudly on a command that is not accepted. */
export function history(
  commands: readonly DaemonJobCommand[],
  from: DaemonJobState = initialState,
): DaemonJobEvent[] {
  const events: DaemonJobEvent[] = [];
  // One session: the node map is copied once for the whole history (`from` is left as it was).
  const session = new FoldSession();
  let state = from;
  for (const command of commands) {
    const decided = decideAndEvolve(command, state, session);
    if (decided.decision.result.kind !== 'accepted') {
      throw new Error(`${command.type} not accepted: ${JSON.stringify(decided.decision.result)}`);
    }
    events.push(...decided.decision.events);
    state = decided.state;
  }
  return events;
}

/** The state after the given events. */
export const given = (events: readonly DaemonJobEvent[]): DaemonJobState => fold(events);

/** The decision for `command` on the state after `events`. */
export const when = (events: readonly DaemonJobEvent[], command: DaemonJobCommand): Decision =>
  decideCommand(command, given(events));

/** Events of a job with spec `spec` and targets `nodes`, whose Created run `run-1` was triggered. */
export const triggered = (
  nodes: readonly string[],
  spec: Partial<Omit<ObserveSpec, 'type'>> = {},
): DaemonJobEvent[] => history([observeSpec(spec), observeTargets(nodes), trigger('run-1')]);
