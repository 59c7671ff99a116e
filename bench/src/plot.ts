// latency.png: an SVG built here (box + strip plot per latency scenario on a log axis, and the
// fan-out makespans beside their API floors), rasterised with resvg (prebuilt, from npm).
import { writeFile } from 'node:fs/promises';
import { Resvg } from '@resvg/resvg-js';
import type { Results } from './results';
import { percentile } from './stats';

interface Series {
  readonly label: string;
  readonly values: readonly number[];
  readonly target?: number;
  readonly color: string;
}

const W = 1500;
const H = 700;
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function text(
  x: number,
  y: number,
  s: string,
  opts: { size?: number; anchor?: string; weight?: string; fill?: string; rotate?: number } = {},
) {
  const rot = opts.rotate ? ` transform="rotate(${opts.rotate} ${x} ${y})"` : '';
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="${FONT}" font-size="${opts.size ?? 12}" text-anchor="${opts.anchor ?? 'start'}" font-weight="${opts.weight ?? 'normal'}" fill="${opts.fill ?? '#222'}"${rot}>${esc(s)}</text>`;
}

/** Decade ticks 1-2-5 between lo and hi (both > 0). */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

const fmtMs = (v: number) =>
  v >= 1000 ? `${+(v / 1000).toFixed(1)} s` : v >= 1 ? `${+v.toFixed(1)} ms` : `${+v.toFixed(2)} ms`;

/** Deterministic jitter in [-1, 1] for point i. */
const jitter = (i: number) => {
  const x = Math.sin(i * 12.9898 + 1) * 43758.5453;
  return (x - Math.floor(x)) * 2 - 1;
};

function latencyPanel(series: readonly Series[], x0: number, y0: number, w: number, h: number): string {
  const parts: string[] = [];
  const all = series.flatMap((s) => s.values).filter((v) => v > 0);
  const targets = series.flatMap((s) => (s.target ? [s.target] : []));
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(...all, ...targets, 10))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, ...targets, 100)));
  const y = (v: number) =>
    y0 + h - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;
  parts.push(
    text(
      x0,
      y0 - 22,
      'Latency distributions (log scale; box = p25..p75, line = p50, ◆ = p99, whiskers = min..max)',
      { size: 14, weight: 'bold' },
    ),
  );
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y(t)}" y2="${y(t)}" stroke="#e4e4e4"/>`);
    parts.push(text(x0 - 6, y(t) + 4, fmtMs(t), { anchor: 'end', size: 11, fill: '#555' }));
  }
  parts.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + h}" stroke="#888"/>`);
  const slot = w / Math.max(1, series.length);
  series.forEach((s, k) => {
    const cx = x0 + slot * (k + 0.5);
    const sorted = [...s.values].sort((a, b) => a - b);
    const bw = Math.min(70, slot * 0.45);
    if (s.target) {
      parts.push(
        `<line x1="${cx - slot * 0.45}" x2="${cx + slot * 0.45}" y1="${y(s.target)}" y2="${y(s.target)}" stroke="#d33" stroke-dasharray="6 4" stroke-width="1.5"/>`,
        text(cx + slot * 0.45, y(s.target) - 4, `target ${fmtMs(s.target)}`, {
          anchor: 'end',
          size: 10,
          fill: '#d33',
        }),
      );
    }
    if (sorted.length) {
      const q = (p: number) => percentile(sorted, p);
      const [mn, q1, med, q3, p99, mx] = [
        sorted[0] ?? 0,
        q(25),
        q(50),
        q(75),
        q(99),
        sorted[sorted.length - 1] ?? 0,
      ];
      parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(mn)}" y2="${y(mx)}" stroke="#333"/>`);
      for (const v of [mn, mx])
        parts.push(`<line x1="${cx - bw / 4}" x2="${cx + bw / 4}" y1="${y(v)}" y2="${y(v)}" stroke="#333"/>`);
      parts.push(
        `<rect x="${cx - bw / 2}" y="${y(q3)}" width="${bw}" height="${Math.max(1, y(q1) - y(q3))}" fill="${s.color}" fill-opacity="0.25" stroke="${s.color}"/>`,
        `<line x1="${cx - bw / 2}" x2="${cx + bw / 2}" y1="${y(med)}" y2="${y(med)}" stroke="${s.color}" stroke-width="3"/>`,
        `<path d="M ${cx + bw / 2 + 8} ${y(p99) - 5} l 5 5 l -5 5 l -5 -5 z" fill="#222"/>`,
      );
      sorted.forEach((v, i) => {
        parts.push(
          `<circle cx="${(cx + jitter(i + k * 101) * bw * 0.4).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.6" fill="${s.color}" fill-opacity="0.65"/>`,
        );
      });
      const caption = [`n=${sorted.length}, p50 ${fmtMs(med)}`, `p99 ${fmtMs(p99)}`, `max ${fmtMs(mx)}`];
      caption.forEach((line, j) => {
        parts.push(text(cx, y0 + h + 36 + 14 * j, line, { anchor: 'middle', size: 11, fill: '#444' }));
      });
    } else {
      parts.push(text(cx, y0 + h / 2, 'not run', { anchor: 'middle', size: 12, fill: '#999' }));
    }
    parts.push(text(cx, y0 + h + 18, s.label, { anchor: 'middle', size: 12, weight: 'bold' }));
  });
  return parts.join('\n');
}

function makespanPanel(r: Results, x0: number, y0: number, w: number, h: number): string {
  const parts: string[] = [];
  const sizes = [
    ...new Set([...(r.fanout ?? []).map((f) => f.nodes), ...(r.floor ?? []).map((f) => f.nodes)]),
  ].sort((a, b) => a - b);
  parts.push(text(x0, y0 - 22, 'Fan-out makespan vs API floor (log scale)', { size: 14, weight: 'bold' }));
  const vals = sizes
    .flatMap((n) => [
      r.fanout?.find((f) => f.nodes === n)?.makespanMs,
      r.floor?.find((f) => f.nodes === n)?.ms,
    ])
    .filter((v): v is number => !!v && v > 0);
  if (!vals.length)
    return parts
      .concat(text(x0 + w / 2, y0 + h / 2, 'not run', { anchor: 'middle', fill: '#999' }))
      .join('\n');
  const lo = 10 ** Math.floor(Math.log10(Math.min(...vals) * 0.5));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
  const y = (v: number) =>
    y0 + h - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y(t)}" y2="${y(t)}" stroke="#e4e4e4"/>`);
    parts.push(text(x0 - 6, y(t) + 4, fmtMs(t), { anchor: 'end', size: 11, fill: '#555' }));
  }
  parts.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + h}" stroke="#888"/>`);
  const slot = w / sizes.length;
  sizes.forEach((n, k) => {
    const cx = x0 + slot * (k + 0.5);
    const bw = Math.min(46, slot * 0.3);
    const engine = r.fanout?.find((f) => f.nodes === n)?.makespanMs;
    const floor = r.floor?.find((f) => f.nodes === n)?.ms;
    const bar = (v: number | undefined, x: number, color: string) =>
      v
        ? `<rect x="${x}" y="${y(v)}" width="${bw}" height="${y0 + h - y(v)}" fill="${color}"/>` +
          text(x + bw / 2, y(v) - 4, fmtMs(v), { anchor: 'middle', size: 10 })
        : '';
    parts.push(bar(engine, cx - bw - 2, '#3b6fb6'), bar(floor, cx + 2, '#9a9a9a'));
    parts.push(text(cx, y0 + h + 18, `${n} nodes`, { anchor: 'middle', size: 12, weight: 'bold' }));
    if (engine && floor)
      parts.push(
        text(cx, y0 + h + 34, `${(engine / floor).toFixed(2)}x floor`, {
          anchor: 'middle',
          size: 11,
          fill: '#444',
        }),
      );
  });
  const ly = y0 + h + 56;
  parts.push(
    `<rect x="${x0}" y="${ly - 10}" width="12" height="12" fill="#3b6fb6"/>`,
    text(x0 + 18, ly, 'engine: apply -> Completed', { size: 11 }),
    `<rect x="${x0 + 190}" y="${ly - 10}" width="12" height="12" fill="#9a9a9a"/>`,
    text(x0 + 208, ly, 'API floor: unavoidable writes', { size: 11 }),
  );
  return parts.join('\n');
}

function renderSvg(r: Results): string {
  const series: Series[] = [
    { label: 'handoff', values: r.handoff?.samples.map((s) => s.ms) ?? [], target: 100, color: '#3b6fb6' },
    {
      label: 'node join',
      values: r.nodeJoin?.joins.map((s) => s.fromReadyMs) ?? [],
      target: 200,
      color: '#2f9e57',
    },
    {
      label: 'join (untainted)',
      values: r.nodeJoin?.joins.map((s) => s.fromSchedulableMs) ?? [],
      color: '#7bbf8e',
    },
    { label: 'reboot', values: r.nodeJoin?.reboots.map((s) => s.fromReadyMs) ?? [], color: '#c07a1a' },
    { label: 'retry total', values: r.retry?.samples.map((s) => s.measuredMs) ?? [], color: '#8a4fb8' },
    { label: 'retry overhead', values: r.retry?.samples.map((s) => s.overheadMs) ?? [], color: '#b85f9c' },
  ];
  const h = r.header;
  const title = `reaper-flow bench ${h.startedAt.slice(0, 19)}Z (${h.mode}) · ${h.cores} cores · Node ${h.node} · Kubernetes ${h.kubernetes} · Redis ${h.redis} · ${h.gitCommit.slice(0, 10)}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    text(20, 28, title, { size: 15, weight: 'bold' }),
    latencyPanel(series, 90, 90, 880, 470),
    makespanPanel(r, 1090, 90, 380, 470),
    text(
      20,
      H - 12,
      "Each point is one sample, measured on the bench's own API watches. Shared 2-core machine: other runs may have competed for CPU.",
      { size: 11, fill: '#666' },
    ),
    '</svg>',
  ].join('\n');
}

export async function writePlot(r: Results, svgPath: string, pngPath: string): Promise<void> {
  const svg = renderSvg(r);
  await writeFile(svgPath, svg);
  const png = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    fitTo: { mode: 'width', value: W },
  })
    .render()
    .asPng();
  await writeFile(pngPath, png);
}
