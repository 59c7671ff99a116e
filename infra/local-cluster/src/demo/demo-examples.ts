// The examples of `npm run demo` (infra/examples/*.yaml): what each should reach, what it shows
// now, and the table the demo prints while they progress.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { parseAllDocuments } from 'yaml';
import type { Style } from './demo-logs';

type ExampleKind = 'ReaperPod' | 'ReaperOverlay' | 'ReaperDaemonJob';
const KINDS: readonly ExampleKind[] = ['ReaperOverlay', 'ReaperPod', 'ReaperDaemonJob'];

export interface Example {
  readonly kind: ExampleKind;
  readonly name: string;
  readonly namespace: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** The ReaperOverlay a ReaperPod or DaemonJob uses, if any. */
  readonly overlayName: string | undefined;
}

export interface DemoNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What one example object shows now. */
export interface Observed {
  readonly example: Example;
  readonly phase: string | undefined;
  readonly detail: string;
  readonly message: string;
}

interface ReaperObject {
  metadata: { name: string };
  status?: {
    phase?: string;
    message?: string;
    nodeName?: string;
    exitCode?: number;
    readyNodes?: number;
    totalNodes?: number;
    failedNodes?: number;
    nodes?: { nodeName: string; ready?: boolean }[];
  };
}

/** The reaper.io objects in the example files (other kinds, like the ConfigMap, need no watching). */
export async function loadExamples(dir: string): Promise<Example[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const out: Example[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as {
        kind?: string;
        metadata?: { name?: string; namespace?: string };
        spec?: { nodeSelector?: Record<string, string>; overlayName?: string };
      } | null;
      const kind = obj?.kind as ExampleKind | undefined;
      if (!obj?.metadata?.name || !kind || !KINDS.includes(kind)) continue;
      out.push({
        kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace ?? 'default',
        nodeSelector: obj.spec?.nodeSelector ?? {},
        overlayName: kind === 'ReaperOverlay' ? undefined : obj.spec?.overlayName,
      });
    }
  }
  return out;
}

/** Overlays the examples use without defining them, as {namespace, name}. */
export function undefinedOverlays(examples: readonly Example[]): { namespace: string; name: string }[] {
  const defined = new Set(
    examples.filter((e) => e.kind === 'ReaperOverlay').map((e) => `${e.namespace}/${e.name}`),
  );
  const used = new Map<string, { namespace: string; name: string }>();
  for (const e of examples) {
    if (e.overlayName && !defined.has(`${e.namespace}/${e.overlayName}`)) {
      used.set(`${e.namespace}/${e.overlayName}`, { namespace: e.namespace, name: e.overlayName });
    }
  }
  return [...used.values()];
}

const matches = (selector: Readonly<Record<string, string>>, node: DemoNode) =>
  Object.entries(selector).every(([k, v]) => node.labels[k] === v);

/** A ReaperPod whose nodeSelector matches none of the nodes waits, Pending, for such a node. */
export function waitsForANode(example: Example, nodes: readonly DemoNode[]): boolean {
  return example.kind === 'ReaperPod' && !nodes.some((n) => matches(example.nodeSelector, n));
}

/** The phase an example settles in on these nodes. */
function expectedPhase(example: Example, nodes: readonly DemoNode[]): string {
  switch (example.kind) {
    case 'ReaperPod':
      return waitsForANode(example, nodes) ? 'Pending' : 'Succeeded';
    case 'ReaperOverlay':
      return 'Ready';
    case 'ReaperDaemonJob':
      return 'Completed';
    default: {
      const never: never = example.kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

function resourceOf(kind: ExampleKind) {
  switch (kind) {
    case 'ReaperPod':
      return Resources.reaperPods;
    case 'ReaperOverlay':
      return Resources.reaperOverlays;
    case 'ReaperDaemonJob':
      return Resources.reaperDaemonJobs;
    default: {
      const never: never = kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

function detailOf(kind: ExampleKind, status: NonNullable<ReaperObject['status']>): string {
  switch (kind) {
    case 'ReaperPod':
      return [
        status.nodeName && `on ${status.nodeName}`,
        status.exitCode !== undefined && `exit ${status.exitCode}`,
      ]
        .filter(Boolean)
        .join(', ');
    case 'ReaperOverlay': {
      const nodes = status.nodes ?? [];
      return nodes.length ? `${nodes.filter((n) => n.ready).length}/${nodes.length} nodes ready` : '';
    }
    case 'ReaperDaemonJob':
      return status.totalNodes === undefined
        ? ''
        : `${status.readyNodes ?? 0}/${status.totalNodes} nodes done${status.failedNodes ? `, ${status.failedNodes} failed` : ''}`;
    default: {
      const never: never = kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

/** Reads every example object's status (one list per kind and namespace). */
export async function observe(client: KubeClient, examples: readonly Example[]): Promise<Observed[]> {
  const lists = new Map<string, Map<string, ReaperObject>>();
  for (const ex of examples) {
    const id = `${ex.kind}/${ex.namespace}`;
    if (lists.has(id)) continue;
    const list = await client.listAll<ReaperObject>(resourceOf(ex.kind), { namespace: ex.namespace });
    lists.set(id, new Map(list.items.map((o) => [o.metadata.name, o])));
  }
  return examples.map((example) => {
    const obj = lists.get(`${example.kind}/${example.namespace}`)?.get(example.name);
    const status = obj?.status ?? {};
    return {
      example,
      phase: obj ? (status.phase ?? '(no status)') : undefined,
      detail: detailOf(example.kind, status),
      message: status.message ?? '',
    };
  });
}

/** ReaperPods of `namespace` (DaemonJob children included) that have not succeeded, with why. */
export async function unfinishedPods(client: KubeClient, namespace: string): Promise<string[]> {
  const list = await client.listAll<ReaperObject>(Resources.reaperPods, { namespace });
  return list.items
    .filter((p) => p.status?.phase !== 'Succeeded')
    .map(
      (p) =>
        `ReaperPod/${p.metadata.name}: ${p.status?.phase ?? '(no status)'}${p.status?.nodeName ? ` on ${p.status.nodeName}` : ''}${
          p.status?.message ? ` (${p.status.message})` : ''
        }`,
    );
}

/** The examples not (yet) in their expected phase, as "kind/name: phase (message)". */
export function missing(observed: readonly Observed[], nodes: readonly DemoNode[]): string[] {
  return observed
    .filter((o) => o.phase !== expectedPhase(o.example, nodes))
    .map(
      (o) =>
        `${o.example.kind}/${o.example.name}: ${o.phase ?? 'not found'}, expected ${expectedPhase(o.example, nodes)}${
          o.message ? ` (${o.message})` : ''
        }`,
    );
}

/** A compact table of the examples; a check mark once an example is where it should be. */
export function renderTable(
  observed: readonly Observed[],
  nodes: readonly DemoNode[],
  style: Style,
): string[] {
  const rows = observed.map((o) => {
    const done = o.phase === expectedPhase(o.example, nodes);
    const phase = o.phase ?? 'not found';
    return {
      kind: o.example.kind,
      name: o.example.name,
      phase: done ? style.green(`${phase.padEnd(16)}`) : phase.padEnd(16),
      mark: done ? style.green('ok') : '  ',
      detail: [o.detail, o.message && truncate(o.message, 70)].filter(Boolean).join(' | '),
    };
  });
  const nameWidth = Math.max(4, ...rows.map((r) => r.name.length));
  const header = `  ${'KIND'.padEnd(16)} ${'NAME'.padEnd(nameWidth)} ${'PHASE'.padEnd(16)}    DETAIL`;
  return [
    style.dim(header),
    ...rows.map((r) => `  ${r.kind.padEnd(16)} ${r.name.padEnd(nameWidth)} ${r.phase} ${r.mark} ${r.detail}`),
  ];
}

function truncate(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}
