// The per-node `after` rule: a job's run on a node starts only once every dependency that targets
// that node has succeeded there in its newest run. Decided from the dependencies' engine state (their
// progress index, saved with each snapshot), never from a status that may lag behind it.
import { z } from 'zod';
import { type DaemonJobState, type NodeRunPhase, type NodeState, nodeOf, targetCount } from './state';
import { type NodeView, type TargetingSpec, targetNodes } from './targets';
import type { TriggerOnView } from './views';

/** Where one node stands in a dependency's engine: the part of NodeState the gate reads. */
export type NodeProgress = Readonly<{ phase: NodeRunPhase; needsRun: boolean; bootId?: string }>;

/** What a dependency's engine has acted on so far (its snapshot's view, not its status). */
export type ProgressMeta = Readonly<{
  observedGeneration?: number;
  lastTriggerValue?: string;
  /** Number of targeted nodes (the job's own node-runs resolve a percentage maxUnavailable). */
  targets?: number;
}>;

/** What the gate knows of one dependency when it decides for one node. */
export type DependencyOnNode = Readonly<{
  name: string;
  /** The dependency as the world has it; absent when it does not exist. */
  job?: Readonly<{
    generation: number;
    triggerOn: TriggerOnView;
    /** Current value of its trigger annotation, if set. */
    triggerValue?: string;
    targeting: TargetingSpec;
  }>;
  /** Its engine's progress; absent when it has never been reconciled. */
  meta?: ProgressMeta;
  /** Its engine's entry for this node; absent when it does not (yet) target the node. */
  node?: NodeProgress;
}>;

/** Verdict for one node: open, or held with the dependencies that hold it and why. */
export type NodeGate =
  | Readonly<{ kind: 'open' }>
  | Readonly<{ kind: 'waiting'; names: readonly string[]; message: string }>
  | Readonly<{ kind: 'failed'; names: readonly string[]; message: string }>;

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

type Verdict = Readonly<{ kind: 'open' }> | Readonly<{ kind: 'waiting' | 'failed'; why: string }>;

const verdictFor = (node: NodeView, dep: DependencyOnNode): Verdict => {
  const job = dep.job;
  if (!job) return { kind: 'waiting', why: 'does not exist' };
  // A dependency that does not target this node (selector, taints) does not hold it. Computed from
  // the dependency's spec and the node as they are now, so a dependency that has not yet noticed a
  // joining node still holds it.
  if (targetNodes(job.targeting, [node]).length === 0) return { kind: 'open' };
  const meta = dep.meta;
  if (meta?.observedGeneration === undefined || meta.observedGeneration < job.generation) {
    return { kind: 'waiting', why: `has not started generation ${job.generation}` };
  }
  if (job.triggerValue !== undefined && job.triggerValue !== meta.lastTriggerValue) {
    return { kind: 'waiting', why: 'has a manual trigger to act on' };
  }
  const progress = dep.node;
  if (!progress) return { kind: 'waiting', why: 'has not run here yet' };
  if (progress.bootId !== undefined && node.bootId !== undefined && progress.bootId !== node.bootId) {
    return { kind: 'waiting', why: 'has not seen this node reboot yet' };
  }
  // A NodeReady dependency owes a run to a node that joined or rebooted; a Manual one does not, and
  // its last run there stands.
  const owes = progress.needsRun && job.triggerOn === 'NodeReady';
  if (!owes && progress.phase === 'Succeeded') return { kind: 'open' };
  if (!owes && progress.phase === 'Failed') return { kind: 'failed', why: 'failed here' };
  return { kind: 'waiting', why: owes ? 'is about to run here' : PHASE_WORDS[progress.phase] };
};

const PHASE_WORDS: Record<NodeRunPhase, string> = {
  Idle: 'has not run here since the node joined',
  Queued: 'is queued here',
  Running: 'is running here',
  RetryWaiting: 'is waiting to retry here',
  Succeeded: 'succeeded here',
  Failed: 'failed here',
};

/**
 * Whether a run of a job may start on `node` now, given its `after` dependencies. Failed wins over
 * waiting: a dependency that exhausted its retries on this node will not succeed without a new run,
 * so the node is blocked (the other nodes keep their results), and it opens once that dependency
 * succeeds here. Pure: the caller reads the dependencies from the world and their progress index.
 */
export function nodeGate(node: NodeView, deps: readonly DependencyOnNode[]): NodeGate {
  const failed: string[] = [];
  const waiting: string[] = [];
  for (const dep of [...deps].sort((a, b) => byName(a.name, b.name))) {
    const verdict = verdictFor(node, dep);
    if (verdict.kind === 'open') continue;
    (verdict.kind === 'failed' ? failed : waiting).push(`${dep.name} ${verdict.why}`);
  }
  const names = (list: readonly string[]) => list.map((text) => text.split(' ')[0] as string);
  if (failed.length > 0) {
    return {
      kind: 'failed',
      names: names(failed),
      message: `blocked on this node: dependency ${failed.join('; ')}; it runs once that succeeds here`,
    };
  }
  if (waiting.length > 0) {
    return {
      kind: 'waiting',
      names: names(waiting),
      message: `waiting for dependency ${waiting.join('; ')}`,
    };
  }
  return { kind: 'open' };
}

/** Field of the progress index that holds the ProgressMeta (node names never start with `@`). */
export const PROGRESS_META_FIELD = '@meta';

/** The index value of one node: `<phase>|<needsRun 0/1>|<bootId>`. */
export function encodeNodeProgress(node: NodeState): string {
  return `${node.phase}|${node.needsRun ? 1 : 0}|${node.bootId ?? ''}`;
}

const PHASES: readonly NodeRunPhase[] = ['Idle', 'Queued', 'Running', 'RetryWaiting', 'Succeeded', 'Failed'];

/** Reads an index value back; undefined for anything that is not one. */
export function decodeNodeProgress(text: string | undefined): NodeProgress | undefined {
  if (text === undefined) return undefined;
  const [phase, needsRun, ...boot] = text.split('|');
  const known = PHASES.find((p) => p === phase);
  if (!known || (needsRun !== '0' && needsRun !== '1')) return undefined;
  const bootId = boot.join('|');
  return { phase: known, needsRun: needsRun === '1', ...(bootId ? { bootId } : {}) };
}

/** The format version of the progress meta this release writes (`v`). */
export const PROGRESS_META_VERSION = 1;

// No `v`: written by the release before versions, the same shape.
const progressMetaSchema = z.object({
  v: z.literal(PROGRESS_META_VERSION).optional(),
  observedGeneration: z.int().optional(),
  lastTriggerValue: z.string().optional(),
  targets: z.int().min(0).optional(),
});

export function encodeProgressMeta(state: DaemonJobState): string {
  const meta: ProgressMeta = {
    ...(state.observedGeneration !== undefined && { observedGeneration: state.observedGeneration }),
    ...(state.lastTriggerValue !== undefined && { lastTriggerValue: state.lastTriggerValue }),
    targets: targetCount(state),
  };
  return JSON.stringify({ v: PROGRESS_META_VERSION, ...meta });
}

/**
 * Reads the progress meta back (Redis data: parsed, not cast). Undefined for anything that is not
 * one, or is of a newer format: the gate then treats the dependency as not reconciled yet and
 * waits, so a value it cannot read never opens a node.
 */
export function decodeProgressMeta(text: string | undefined): ProgressMeta | undefined {
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = progressMetaSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { v: _v, ...meta } = parsed.data;
  return meta;
}

/** Hash changes that bring a progress index from `before` to `after` (only what changed). */
export type ProgressIndexChanges = Readonly<{
  set: Readonly<Record<string, string>>;
  del: readonly string[];
}>;

/**
 * `names`: when given, the only nodes whose entry may differ between the two states (a
 * FoldSession's `touched`), so a reconcile pays for what it changed, not for the fleet.
 */
export function progressIndexChanges(
  before: DaemonJobState,
  after: DaemonJobState,
  names?: Iterable<string>,
): ProgressIndexChanges {
  const set: Record<string, string> = {};
  const del: string[] = [];
  for (const name of names ?? new Set([...Object.keys(after.nodes), ...Object.keys(before.nodes)])) {
    const node = nodeOf(after, name);
    const previous = nodeOf(before, name);
    if (!node) {
      if (previous) del.push(name);
      continue;
    }
    if (previous === node) continue;
    const value = encodeNodeProgress(node);
    if (!previous || encodeNodeProgress(previous) !== value) set[name] = value;
  }
  // Always written: one small field, and an index written by an older version gains it at once.
  set[PROGRESS_META_FIELD] = encodeProgressMeta(after);
  return { set, del };
}
