import { alg, Graph } from '@dagrejs/graphlib';

/** Phase of a ReaperDaemonJob as reported in its status. */
export type DaemonJobPhaseView = 'Pending' | 'Running' | 'Completed' | 'PartiallyFailed';

/** What the graph needs to know about one ReaperDaemonJob of a namespace. */
export type AfterJob = Readonly<{
  name: string;
  /** `spec.after`: jobs that must be Completed before this one starts. */
  after: readonly string[];
  /** `status.phase`; absent when the job has no status yet (treated as Pending). */
  phase?: DaemonJobPhaseView;
}>;

/**
 * Why a job may not start. JSON-serialisable: the DaemonJob decider stores it in its state.
 * - `missing`: `after` names jobs that do not exist in the namespace.
 * - `cycle`: the job is on, or depends (transitively) on, a dependency cycle; `path` is ordered and
 *   closed (`['a', 'b', 'a']`: a waits for b, b waits for a).
 * - `failed`: direct dependencies are PartiallyFailed; they will not complete without a new run.
 * - `waiting`: direct dependencies are not Completed yet; `phases` gives their current phase.
 */
export type DependencyBlock =
  | Readonly<{ kind: 'none' }>
  | Readonly<{ kind: 'missing'; names: readonly string[] }>
  | Readonly<{ kind: 'cycle'; path: readonly string[] }>
  | Readonly<{ kind: 'failed'; names: readonly string[] }>
  | Readonly<{
      kind: 'waiting';
      names: readonly string[];
      phases: Readonly<Record<string, DaemonJobPhaseView>>;
    }>;

/** Questions the scheduler asks about the `after` relation of one namespace. */
export type AfterGraph = Readonly<{
  /** One ordered, closed path per strongly connected component that contains a cycle, sorted. */
  findCycles(): readonly (readonly string[])[];
  /** Names in `after` of `name` that are not jobs of the namespace, sorted. */
  missingDependencies(name: string): readonly string[];
  /** Jobs that list `name` directly in their `after`, sorted. */
  dependentsOf(name: string): readonly string[];
  /**
   * Direct dependents of `completedName` that may start now that it is Completed: every dependency
   * Completed (`completedName` counts as Completed even if the input still says otherwise), none
   * missing, not on or behind a cycle. Sorted. Level-triggered callers enqueue a reconcile for each.
   */
  readyToStart(completedName: string): readonly string[];
  /**
   * Why `name` may not start now. Precedence: cycle (the job can never start until the cycle is
   * broken), missing, failed, waiting. Unknown names report `none`.
   */
  blockReason(name: string): DependencyBlock;
}>;

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const sortedUnique = (names: Iterable<string>): string[] => [...new Set(names)].sort(byName);

/** Renders a cycle path the way messages show it: `a -> b -> a`. */
export function formatCyclePath(path: readonly string[]): string {
  return path.join(' -> ');
}

/**
 * Builds the dependency graph of the ReaperDaemonJobs of one namespace. Edges point from a job to
 * the jobs it waits for (`a.after = ['b']` gives `a -> b`). Duplicate names: the last entry wins.
 * Every answer is sorted so that events and messages derived from it are deterministic.
 */
export function createAfterGraph(jobs: readonly AfterJob[]): AfterGraph {
  const byJob = new Map<string, AfterJob>();
  for (const job of jobs) byJob.set(job.name, job);

  const graph = new Graph({ directed: true });
  for (const name of [...byJob.keys()].sort(byName)) graph.setNode(name);
  for (const job of byJob.values()) {
    for (const dep of job.after) {
      if (byJob.has(dep)) graph.setEdge(job.name, dep);
    }
  }

  const successorsOf = (name: string): string[] => (graph.successors(name) ?? []).slice().sort(byName);

  // alg.findCycles yields the node sets of cyclic strongly connected components (including a single
  // node with a self edge); the ordered path is derived below.
  const cyclicComponents = alg.findCycles(graph).map((component) => component.slice().sort(byName));
  const componentOf = new Map<string, readonly string[]>();
  for (const component of cyclicComponents) {
    for (const name of component) componentOf.set(name, component);
  }

  /** Shortest closed path from `start` back to itself inside its component (BFS, sorted successors). */
  const cycleThrough = (start: string): readonly string[] => {
    const component = new Set(componentOf.get(start) ?? []);
    const parent = new Map<string, string>();
    const queue: string[] = [start];
    for (let i = 0; i < queue.length; i++) {
      const current = queue[i] as string;
      for (const next of successorsOf(current)) {
        if (next === start) {
          const back: string[] = [];
          for (let at = current; at !== start; at = parent.get(at) as string) back.push(at);
          return [start, ...back.reverse(), start];
        }
        if (component.has(next) && !parent.has(next) && next !== start) {
          parent.set(next, current);
          queue.push(next);
        }
      }
    }
    return [start, start];
  };

  const canonicalCycles = cyclicComponents
    .map((component) => cycleThrough(component[0] as string))
    .sort((a, b) => byName(a[0] as string, b[0] as string));
  const canonicalCycleOf = new Map<string, readonly string[]>();
  for (const cycle of canonicalCycles) {
    for (const name of componentOf.get(cycle[0] as string) ?? []) canonicalCycleOf.set(name, cycle);
  }

  /** The cycle `name` is on (starting at `name`), or the first cycle reachable from it (BFS). */
  const cycleAffecting = (name: string): readonly string[] | undefined => {
    if (componentOf.has(name)) return cycleThrough(name);
    const seen = new Set<string>([name]);
    const queue: string[] = [name];
    for (let i = 0; i < queue.length; i++) {
      for (const next of successorsOf(queue[i] as string)) {
        const cycle = canonicalCycleOf.get(next);
        if (cycle) return cycle;
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    return undefined;
  };

  const missingDependencies = (name: string): readonly string[] =>
    sortedUnique((byJob.get(name)?.after ?? []).filter((dep) => !byJob.has(dep)));

  const phaseOf = (name: string, completed: string | undefined): DaemonJobPhaseView =>
    name === completed ? 'Completed' : (byJob.get(name)?.phase ?? 'Pending');

  const blockReasonAssuming = (name: string, completed: string | undefined): DependencyBlock => {
    const job = byJob.get(name);
    if (!job) return { kind: 'none' };
    const cycle = cycleAffecting(name);
    if (cycle) return { kind: 'cycle', path: cycle };
    const missing = missingDependencies(name);
    if (missing.length > 0) return { kind: 'missing', names: missing };
    const deps = sortedUnique(job.after);
    const failed = deps.filter((dep) => phaseOf(dep, completed) === 'PartiallyFailed');
    if (failed.length > 0) return { kind: 'failed', names: failed };
    const waiting = deps.filter((dep) => phaseOf(dep, completed) !== 'Completed');
    if (waiting.length > 0) {
      const phases: Record<string, DaemonJobPhaseView> = {};
      for (const dep of waiting) phases[dep] = phaseOf(dep, completed);
      return { kind: 'waiting', names: waiting, phases };
    }
    return { kind: 'none' };
  };

  const dependentsOf = (name: string): readonly string[] =>
    graph.hasNode(name) ? (graph.predecessors(name) ?? []).slice().sort(byName) : [];

  return {
    findCycles: () => canonicalCycles,
    missingDependencies,
    dependentsOf,
    readyToStart: (completedName) =>
      dependentsOf(completedName).filter(
        (dependent) => blockReasonAssuming(dependent, completedName).kind === 'none',
      ),
    blockReason: (name) => blockReasonAssuming(name, undefined),
  };
}
