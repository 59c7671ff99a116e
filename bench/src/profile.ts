// Summary of a V8 .cpuprofile (node --cpu-prof): top self-time functions, and self time by origin
// (reaper-flow's code, each npm package, Node internals, GC/idle/program).
import { readFile } from 'node:fs/promises';
import { REPO_ROOT } from '@reaper-flow/local-cluster';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Sampled time not idle. */
  readonly busyMs: number;
  readonly top: { fn: string; where: string; origin: string; selfMs: number; pct: number }[];
  readonly byOrigin: { origin: string; selfMs: number; pct: number }[];
  readonly oursInclusive: { fn: string; where: string; totalMs: number; pct: number }[];
}

function origin(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? 'npm');
  }
  if (url.includes(REPO_ROOT)) return 'reaper-flow';
  return 'other';
}

function where(url: string, line: number): string {
  const short = url.replace(`file://${REPO_ROOT}/`, '').replace(/^.*\/node_modules\//, '');
  return short ? `${short}:${line + 1}` : '';
}

export async function summarizeProfile(path: string, top = 25): Promise<ProfileSummary> {
  const p = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i; attribute the gap after a sample to it.
    const dt = p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt / 1000);
  });
  const totalMs = [...self.values()].reduce((a, b) => a + b, 0);
  const key = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'}\t${where(n.callFrame.url, n.callFrame.lineNumber)}`;
  const fnSelf = new Map<string, { ms: number; origin: string }>();
  const originSelf = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const k = key(n);
    const o = origin(n.callFrame.url, n.callFrame.functionName);
    fnSelf.set(k, { ms: (fnSelf.get(k)?.ms ?? 0) + ms, origin: o });
    originSelf.set(o, (originSelf.get(o) ?? 0) + ms);
  }
  // Inclusive time of reaper-flow functions: self time of the subtree, counted once per function
  // per path (recursion does not double-count).
  const inclusive = new Map<string, number>();
  const parentOf = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  for (const [id, ms] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
      const n = byId.get(cur);
      if (!n || origin(n.callFrame.url, n.callFrame.functionName) !== 'reaper-flow') continue;
      const k = key(n);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + ms);
    }
  }
  const busyMs = totalMs - (originSelf.get('(idle)') ?? 0);
  // Shares of the busy (not idle) time: what the CPU was spent on.
  const pct = (ms: number) => (busyMs ? (ms / busyMs) * 100 : 0);
  fnSelf.delete('(idle)\t');
  originSelf.delete('(idle)');
  const split = (k: string) => {
    const [fn = '', w = ''] = k.split('\t');
    return { fn, where: w };
  };
  return {
    totalMs,
    busyMs,
    top: [...fnSelf]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, top)
      .map(([k, v]) => ({ ...split(k), origin: v.origin, selfMs: v.ms, pct: pct(v.ms) })),
    byOrigin: [...originSelf]
      .sort((a, b) => b[1] - a[1])
      .map(([o, ms]) => ({ origin: o, selfMs: ms, pct: pct(ms) })),
    oursInclusive: [...inclusive]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([k, ms]) => ({ ...split(k), totalMs: ms, pct: pct(ms) })),
  };
}

export function renderProfile(s: ProfileSummary): string {
  const rows = (head: string[], body: string[][]) =>
    [
      `| ${head.join(' | ')} |`,
      `| ${head.map(() => '---').join(' | ')} |`,
      ...body.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
  const busy = s.busyMs;
  return [
    `Sampled ${(s.totalMs / 1000).toFixed(1)} s, of which ${(busy / 1000).toFixed(1)} s busy (not idle); shares below are of the busy time.`,
    '',
    'Self time by origin:',
    '',
    rows(
      ['origin', 'self ms', '% of busy'],
      s.byOrigin.slice(0, 12).map((o) => [o.origin, o.selfMs.toFixed(0), o.pct.toFixed(1)]),
    ),
    '',
    'Top functions by self time:',
    '',
    rows(
      ['function', 'where', 'origin', 'self ms', '% of busy'],
      s.top.map((t) => [`\`${t.fn}\``, t.where, t.origin, t.selfMs.toFixed(0), t.pct.toFixed(1)]),
    ),
    '',
    'reaper-flow functions by inclusive time (their own code plus what they call):',
    '',
    rows(
      ['function', 'where', 'total ms', '% of busy'],
      s.oursInclusive.map((t) => [`\`${t.fn}\``, t.where, t.totalMs.toFixed(0), t.pct.toFixed(1)]),
    ),
  ].join('\n');
}
