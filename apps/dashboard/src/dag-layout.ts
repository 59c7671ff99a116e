import dagre from '@dagrejs/dagre';

/** One DaemonJob as the DAG page draws it. */
export interface DagJob {
  readonly name: string;
  readonly phase: string;
  readonly ready: number;
  readonly total: number;
  readonly failed: number;
  readonly after: readonly string[];
  readonly suspended: boolean;
  readonly waitingFor: string;
  readonly nodes: readonly {
    readonly node: string;
    readonly phase: string;
    readonly attempts: number;
    readonly exitCode?: number;
    readonly message?: string;
  }[];
}

export interface DagLayout {
  readonly width: number;
  readonly height: number;
  readonly jobs: readonly (DagJob & { readonly x: number; readonly y: number })[];
  /** dependency -> dependent, with the polyline dagre routed. */
  readonly edges: readonly {
    readonly from: string;
    readonly to: string;
    readonly points: readonly { x: number; y: number }[];
  }[];
}

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 54;

/**
 * Lays out the `after` DAG top to bottom with dagre: dependencies above their dependents. An
 * `after` entry naming a job that does not exist draws no edge (the job says what it waits for).
 */
export function layoutDag(jobs: readonly DagJob[]): DagLayout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 40, ranksep: 60, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  const names = new Set(jobs.map((j) => j.name));
  for (const job of jobs) g.setNode(job.name, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const job of jobs) for (const dep of job.after) if (names.has(dep)) g.setEdge(dep, job.name);
  dagre.layout(g);
  const graph = g.graph();
  return {
    width: Math.ceil(graph.width ?? 0),
    height: Math.ceil(graph.height ?? 0),
    jobs: jobs.map((job) => {
      const n = g.node(job.name);
      return { ...job, x: n.x, y: n.y };
    }),
    edges: g.edges().map((e) => ({
      from: e.v,
      to: e.w,
      points: ((g.edge(e) as { points?: { x: number; y: number }[] }).points ?? []).map((p) => ({
        x: p.x,
        y: p.y,
      })),
    })),
  };
}
