// The fast path (one FoldSession per reconcile, node map copied once) against the plain reference
// (decideCommand per command on immutable states, events.reduce(evolve)), on deterministic
// pseudo-random command sequences over a few nodes.
import { describe, expect, it } from 'vitest';
import type { DependencyBlock } from '../dag/after-graph';
import type { Persisted } from '../schemas/object-meta';
import { parseReaperDaemonJob, type ReaperDaemonJob } from '../schemas/reaper-daemon-job';
import { RETRY_FAILED_ANNOTATION, TRIGGER_ANNOTATION } from '../translate/labels';
import { type DaemonJobCommand, toObserveSpec } from './commands';
import { decideAndEvolve, decideCommand } from './decide';
import { at, finish, observeSpec, observeTargets, start, trigger } from './decider.test-support';
import type { Decision } from './decision';
import { type EngineState, initialEngineState } from './engine-state';
import type { DaemonJobEvent } from './events';
import { evolve, FoldSession } from './evolve';
import { progressIndexChanges } from './node-gate';
import { planTriggers, toTriggerRun } from './plan-triggers';
import { planReconcile, type ReconcileInput, runIndexChanges, settledState } from './reconcile-plan';
import { runSpecHash } from './run-spec';
import { type DaemonJobState, initialState } from './state';

/** A small deterministic generator (mulberry32): the same seed gives the same sequence. */
const random = (seed: number) => {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  return { next, int, pick };
};
type Random = ReturnType<typeof random>;

const NODES = ['n1', 'n2', 'n3', 'n4'];

/** A command a node-run worker could send: mostly for a run the node has, sometimes a stale one. */
const workerCommand = (rng: Random, state: DaemonJobState, time: string): DaemonJobCommand => {
  const owned = Object.keys(state.nodes).filter((name) => state.nodes[name]?.runId !== undefined);
  const node = owned.length > 0 && rng.next() < 0.8 ? rng.pick(owned) : rng.pick(NODES);
  const current = Object.hasOwn(state.nodes, node) ? state.nodes[node] : undefined;
  const runId = current?.runId && rng.next() < 0.9 ? current.runId : rng.pick(['run-1', 'run-x']);
  const attempt = (current?.attempt ?? 0) + rng.pick([0, 1, 1, 1, 2]);
  switch (rng.int(5)) {
    case 0:
    case 1:
      return start(runId, node, Math.max(1, attempt), time);
    case 2:
    case 3:
      return finish(
        runId,
        node,
        rng.next() < 0.6 ? 'Succeeded' : 'Failed',
        Math.max(1, current?.attempt ?? 1),
        time,
      );
    default:
      return {
        type: 'HoldNodeRun',
        runId,
        node,
        reason: rng.pick(['DependencyWaiting', 'DependencyFailed', 'Suspended'] as const),
        message: 'held',
        at: time,
      };
  }
};

/** Any command: observations, triggers and worker reports. */
const anyCommand = (rng: Random, state: DaemonJobState, n: number): DaemonJobCommand => {
  const time = at(n);
  const roll = rng.int(10);
  if (roll === 0) {
    return observeSpec({
      generation: 1 + rng.int(3),
      retryLimit: rng.int(3),
      suspend: rng.next() < 0.15,
      concurrencyPolicy: rng.pick(['Skip', 'Replace'] as const),
      at: time,
    });
  }
  if (roll === 1) {
    const nodes = NODES.filter(() => rng.next() < 0.8).map((name) =>
      rng.next() < 0.2 ? `${name}=boot-${n}` : name,
    );
    return observeTargets(nodes, time);
  }
  if (roll === 2) {
    const blocks: DependencyBlock[] = [
      { kind: 'none' },
      { kind: 'none' },
      { kind: 'missing', names: ['dep'] },
    ];
    return { type: 'ObserveDependencies', block: rng.pick(blocks), at: time };
  }
  if (roll === 3) {
    const spec = state.spec;
    return trigger(`run-${n}`, {
      reason: rng.pick(['Created', 'Manual', 'NodeJoined', 'RetryFailed'] as const),
      generation: spec?.generation ?? 1,
      ...(rng.next() < 0.3 && { nodes: NODES.filter(() => rng.next() < 0.5) }),
      at: time,
    });
  }
  return workerCommand(rng, state, time);
};

/** The reference: each command decided on an immutable state, its events applied with evolve. */
const referenceStep = (
  command: DaemonJobCommand,
  state: DaemonJobState,
): { decision: Decision; state: DaemonJobState } => {
  const decision = decideCommand(command, state);
  return { decision, state: decision.events.reduce(evolve, state) };
};

describe('FoldSession: deciding and applying in one session', () => {
  it('gives the events, results and final state of the plain reference, and leaves the input state as it was', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rng = random(seed);
      // Start from a state that came from outside the session (as a loaded snapshot does).
      let from = initialState;
      for (let n = 0; n < 10; n++) from = referenceStep(anyCommand(rng, from, n), from).state;
      const before = structuredClone(from);

      const session = new FoldSession();
      let fast = from;
      let reference = from;
      for (let n = 10; n < 40; n++) {
        const command = anyCommand(rng, reference, n);
        const expected = referenceStep(command, reference);
        const got = decideAndEvolve(command, fast, session);
        expect(got.decision, `seed ${seed}, command ${n}`).toStrictEqual(expected.decision);
        reference = expected.state;
        fast = got.state;
      }
      expect(fast, `seed ${seed}`).toStrictEqual(reference);
      expect(from, `seed ${seed}: the input state`).toStrictEqual(before);
    }
  }, 30_000);
});

function job(
  spec: Record<string, unknown>,
  generation: number,
  annotations: Record<string, string>,
): Persisted<ReaperDaemonJob> {
  const parsed = parseReaperDaemonJob({
    apiVersion: 'reaper.io/v1alpha1',
    kind: 'ReaperDaemonJob',
    metadata: { name: 'setup', namespace: 'ns', uid: 'uid-1', generation, annotations },
    spec: { command: ['/bin/true'], ...spec },
  });
  if (!parsed.ok) throw new Error(parsed.issues.join('; '));
  return parsed.value as Persisted<ReaperDaemonJob>;
}

/** planReconcile's command sequence, decided on immutable states with the reference step. */
function referencePlan(input: ReconcileInput): { events: DaemonJobEvent[]; domain: DaemonJobState } {
  let domain = input.previous.domain;
  const events: DaemonJobEvent[] = [];
  const apply = (command: DaemonJobCommand) => {
    const step = referenceStep(command, domain);
    domain = step.state;
    events.push(...step.decision.events);
  };
  for (const entry of input.inbox) if (entry.command) apply(entry.command);
  const at = input.now.toISOString();
  const spec = input.job.spec;
  apply(
    toObserveSpec(
      {
        generation: input.job.metadata.generation ?? 1,
        after: spec.after ?? [],
        retryLimit: spec.retryLimit,
        concurrencyPolicy: spec.concurrencyPolicy,
        triggerOn: spec.triggerOn,
        suspend: spec.suspend,
        runSpecHash: runSpecHash(spec),
      },
      at,
    ),
  );
  if (input.targets) apply({ type: 'ObserveTargets', nodes: input.targets, at });
  apply({ type: 'ObserveDependencies', block: input.dependencyBlock, at });
  const annotations = input.job.metadata.annotations ?? {};
  const observation = {
    ...(annotations[TRIGGER_ANNOTATION] !== undefined && { triggerValue: annotations[TRIGGER_ANNOTATION] }),
    ...(annotations[RETRY_FAILED_ANNOTATION] !== undefined && {
      retryValue: annotations[RETRY_FAILED_ANNOTATION],
    }),
  };
  for (const plan of planTriggers(domain, observation)) apply(toTriggerRun(plan, input.newRunId(), at));
  return { events, domain };
}

describe('planReconcile in one fold session', () => {
  it('plans the events and state of the per-command reference and never mutates the saved state', () => {
    for (let seed = 1; seed <= 120; seed++) {
      const rng = random(1000 + seed);
      let previous: EngineState = initialEngineState;
      let generation = 1;
      let retryLimit = 1;
      let suspend = false;
      const annotations: Record<string, string> = {};
      for (let round = 0; round < 6; round++) {
        const t = 60 * round;
        if (rng.next() < 0.2) generation += 1;
        if (rng.next() < 0.2) retryLimit = rng.int(3);
        if (rng.next() < 0.1) suspend = !suspend;
        if (rng.next() < 0.1) annotations[TRIGGER_ANNOTATION] = `t-${round}`;
        if (rng.next() < 0.1) annotations[RETRY_FAILED_ANNOTATION] = `r-${round}`;
        const inbox = Array.from({ length: rng.int(12) }, (_, i) => ({
          id: `${t + i}-0`,
          command: rng.next() < 0.05 ? undefined : workerCommand(rng, previous.domain, at(t + i)),
        }));
        const targets =
          round === 0 || rng.next() < 0.3
            ? NODES.filter(() => rng.next() < 0.85).map((name) => ({
                name,
                bootId: `boot-${name}-${rng.int(2)}`,
              }))
            : undefined;
        let runs = 0;
        const input: ReconcileInput = {
          job: job({ retryLimit, suspend }, generation, { ...annotations }),
          previous,
          inboxCursor: '0-0',
          inbox,
          targets,
          nodesRevision: `rev-${round}`,
          dependencyBlock: rng.next() < 0.1 ? { kind: 'missing', names: ['dep'] } : { kind: 'none' },
          now: new Date(at(t + 30)),
          newRunId: () => `run-${seed}-${round}-${++runs}`,
        };
        const saved = structuredClone(previous);

        const plan = planReconcile(input);
        runs = 0;
        const expected = referencePlan(input);

        const where = `seed ${seed}, round ${round}`;
        expect(plan.events, where).toStrictEqual(expected.events);
        expect(plan.domain, where).toStrictEqual(expected.domain);
        expect(plan.domain, where).toStrictEqual(plan.events.reduce(evolve, saved.domain));
        expect(previous, `${where}: the saved state`).toStrictEqual(saved);
        // The indexes, computed from the touched nodes only, are those of the whole-fleet diff.
        const sorted = (c: { set: object; del: readonly string[] }) => ({
          set: c.set,
          del: [...c.del].sort(),
        });
        expect(sorted(plan.runIndex), where).toStrictEqual(
          sorted(runIndexChanges(saved.domain, expected.domain)),
        );
        const indexedFrom = saved.progressIndexed ? saved.domain : initialState;
        expect(sorted(plan.progressIndex), where).toStrictEqual(
          sorted(progressIndexChanges(indexedFrom, expected.domain)),
        );
        previous = settledState(plan.intents, undefined) ?? plan.intents;
      }
    }
  }, 30_000);
});
