// A minimal reader of the Prometheus text format, for counter diffs (API server and app /metrics).

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses every sample line of an exposition (comments skipped). */
export function parseProm(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL))
      labels[l[1] as string] = (l[2] as string).replace(/\\"/g, '"');
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * Per-key increase of a counter between two scrapes; the key is built from `by` labels joined with
 * ' '. Keys whose increase is 0 are left out.
 */
export function counterIncrease(
  before: readonly PromSample[],
  after: readonly PromSample[],
  name: string,
  by: readonly string[],
  filter: (labels: Readonly<Record<string, string>>) => boolean = () => true,
): Map<string, number> {
  const sum = (samples: readonly PromSample[]) => {
    const m = new Map<string, number>();
    for (const s of samples) {
      if (s.name !== name || !filter(s.labels)) continue;
      const key = by.map((l) => s.labels[l] ?? '').join(' ');
      m.set(key, (m.get(key) ?? 0) + s.value);
    }
    return m;
  };
  const a = sum(before);
  const b = sum(after);
  const out = new Map<string, number>();
  for (const [key, value] of b) {
    const inc = value - (a.get(key) ?? 0);
    if (inc > 0) out.set(key, inc);
  }
  return new Map([...out].sort((x, y) => y[1] - x[1]));
}
