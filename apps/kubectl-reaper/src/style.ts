/** Output helpers: colour only when writing to a terminal (and NO_COLOR is unset), plain otherwise. */
export interface Style {
  readonly color: boolean;
  phase(text: string, phase: string | undefined): string;
  dim(text: string): string;
  bold(text: string): string;
}

const CODES: Readonly<Record<string, string>> = {
  Completed: '32',
  Succeeded: '32',
  Ready: '32',
  Running: '36',
  Resetting: '36',
  Pending: '33',
  Queued: '33',
  Held: '33',
  Retrying: '33',
  Suspended: '35',
  PartiallyFailed: '31',
  Failed: '31',
};

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const color = stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  const wrap = (code: string | undefined, text: string) =>
    color && code ? `\u001b[${code}m${text}\u001b[0m` : text;
  return {
    color,
    phase: (text, phase) => wrap(phase ? CODES[phase] : undefined, text),
    dim: (text) => wrap('2', text),
    bold: (text) => wrap('1', text),
  };
}

/** Visible width of a string (without colour escapes). */
const ESCAPES = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const width = (s: string): number => [...s.replace(ESCAPES, '')].length;

/** Columns padded to the widest cell, two spaces apart, like kubectl's tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, width(cell));
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell))))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** "1m05s", "12s", "<1s" (the API's times have second resolution); '' when either end is unknown. */
export function duration(start: string | undefined, end: string | undefined): string {
  if (!start || !end) return '';
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return '<1s';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(s % 60).padStart(2, '0')}s`;
}
