import { z } from 'zod';
import type { DependencyBlock } from '../dag/after-graph';
import { type ParseResult, parseWith } from '../schemas/parse';
import type { EngineState, PendingFlow, RunPodRef } from './engine-state';
import type { DaemonJobState, NodeState, SpecState } from './state';
import type { WrittenStatusMark } from './status-coalescing';

// The engine state as the scheduler saves it in a DaemonJob's snapshot (Redis data, so it is
// parsed, not cast). The shape is that of today's snapshots; what older scheduler versions left out
// is optional in the types themselves (runSpecHash, progressIndexed...), so an older state parses
// as is. The snapshot's format version lives in its envelope (packages/queue, DaemonJobStore).

const count = z.int().min(0);
const names = z.array(z.string());

const phase = z.enum(['Idle', 'Queued', 'Running', 'RetryWaiting', 'Succeeded', 'Failed']);
const jobPhase = z.enum(['Pending', 'Running', 'Completed', 'PartiallyFailed']);

const dependencyBlockSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('missing'), names }),
  z.object({ kind: z.literal('cycle'), path: names }),
  z.object({ kind: z.literal('failed'), names }),
  z.object({ kind: z.literal('waiting'), names, phases: z.record(z.string(), jobPhase) }),
]);

const nodeStateSchema = z.object({
  phase,
  runId: z.string().optional(),
  attempt: count,
  retryCount: count,
  exitCode: z.int().optional(),
  message: z.string().optional(),
  reaperPodName: z.string().optional(),
  bootId: z.string().optional(),
  notBefore: z.number().optional(),
  held: z.enum(['DependencyWaiting', 'DependencyFailed', 'Suspended']).optional(),
  needsRun: z.enum(['NodeJoined', 'NodeRebooted']).optional(),
  lastTransitionAt: z.string(),
});

const specStateSchema = z.object({
  generation: z.int(),
  after: names,
  retryLimit: count,
  concurrencyPolicy: z.enum(['Skip', 'Replace']),
  triggerOn: z.enum(['NodeReady', 'Manual']),
  suspend: z.boolean(),
  runSpecHash: z.string().optional(),
});

const conditionSchema = z.object({ status: z.enum(['True', 'False']), since: z.string() });

const daemonJobStateSchema = z.object({
  spec: specStateSchema.optional(),
  observedGeneration: z.int().optional(),
  generationRunStarted: z.boolean(),
  block: dependencyBlockSchema,
  lastTriggerValue: z.string().optional(),
  lastRetryValue: z.string().optional(),
  lastRun: z
    .object({
      runId: z.string(),
      reason: z.enum(['Created', 'SpecChanged', 'NodeJoined', 'NodeRebooted', 'Manual', 'RetryFailed']),
      generation: z.int(),
      at: z.string(),
    })
    .optional(),
  recentRunIds: names,
  // A record with prototype-free semantics: node names such as `constructor` are valid keys.
  nodes: z.record(z.string(), nodeStateSchema),
  counts: z.object({
    Idle: count,
    Queued: count,
    Running: count,
    RetryWaiting: count,
    Succeeded: count,
    Failed: count,
    needsRun: count,
  }),
  conditions: z.partialRecord(
    z.enum(['Blocked', 'Progressing', 'Complete', 'Failed', 'Suspended']),
    conditionSchema,
  ),
  version: count,
});

const pendingFlowSchema = z.object({ runId: z.string(), generation: z.int(), nodes: names });
const runPodRefSchema = z.object({
  name: z.string(),
  runId: z.string(),
  attempt: z.int().optional(),
});

const writtenStatusMarkSchema = z.object({ readyNodes: count, failedNodes: count, stateKey: z.string() });

/** The EngineState a DaemonJob snapshot holds. */
export const engineStateSchema = z.object({
  domain: daemonJobStateSchema,
  pendingFlows: z.array(pendingFlowSchema),
  pendingDeletes: z.array(runPodRefSchema),
  leftNodePods: names.optional(),
  targetsSeenAt: z.object({ nodesRevision: z.string(), generation: z.int() }).optional(),
  lastWrittenPhase: z.string().optional(),
  lastWrittenStatus: writtenStatusMarkSchema.optional(),
  progressIndexed: z.literal(true).optional(),
});

// zod drops keys a schema does not list, so a field added to a type but not here would be lost on
// the next save. These fail to compile until the schemas parse into the types (the output is an
// EngineState) and name the same keys (zod's arrays are mutable, the types' readonly: assignable
// one way only).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type SameKeys<A, B> = Same<keyof A, keyof B>;
type Assignable<A, B> = [A] extends [B] ? true : false;
const inStep = <_ extends true>() => undefined;
inStep<Assignable<z.output<typeof engineStateSchema>, EngineState>>();
inStep<SameKeys<z.output<typeof engineStateSchema>, EngineState>>();
inStep<SameKeys<z.output<typeof daemonJobStateSchema>, DaemonJobState>>();
inStep<SameKeys<z.output<typeof nodeStateSchema>, NodeState>>();
inStep<SameKeys<z.output<typeof specStateSchema>, SpecState>>();
inStep<SameKeys<z.output<typeof pendingFlowSchema>, PendingFlow>>();
inStep<SameKeys<z.output<typeof runPodRefSchema>, RunPodRef>>();
inStep<SameKeys<z.output<typeof writtenStatusMarkSchema>, WrittenStatusMark>>();
inStep<Same<z.output<typeof dependencyBlockSchema>['kind'], DependencyBlock['kind']>>();

/** A saved engine state, or one line per bad field. */
export function parseEngineState(raw: unknown): ParseResult<EngineState> {
  return parseWith(engineStateSchema, raw);
}
