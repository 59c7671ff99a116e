// Follows the apps' JSON log files and prints one readable line per interesting record, so the
// demo's terminal shows what matters while the files keep everything.
import { open, stat } from 'node:fs/promises';

const LEVELS: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};
/** Fields worth showing after the message, in this order, when a record has them. */
const FIELDS = [
  'key',
  'kind',
  'state',
  'overlay',
  'op',
  'nodeName',
  'node',
  'queue',
  'url',
  'signal',
  'reason',
] as const;

export interface Style {
  readonly dim: (s: string) => string;
  readonly bold: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly red: (s: string) => string;
  readonly green: (s: string) => string;
}

/** ANSI styling when writing to a terminal, plain text otherwise. */
export function styleFor(tty: boolean): Style {
  const wrap = (code: string) => (s: string) => (tty ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { dim: wrap('2'), bold: wrap('1'), yellow: wrap('33'), red: wrap('31'), green: wrap('32') };
}

/**
 * One line for a log record: `12:00:01 scheduler      WARN  message  key=... err=...`, or undefined
 * when it is below `minLevel`. Lines that are not JSON (a crash's stack trace) are always shown.
 */
function summarize(app: string, line: string, minLevel: number, style: Style): string | undefined {
  if (!line.trim()) return undefined;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${style.dim(clock(new Date()))} ${app.padEnd(20)} ${line}`;
  }
  const level = typeof rec.level === 'string' ? rec.level : 'info';
  const rank = LEVELS[level] ?? 30;
  if (rank < minLevel) return undefined;
  const when = typeof rec.time === 'string' ? new Date(rec.time) : new Date();
  const label = level.toUpperCase().padEnd(5);
  const shown = rank >= 50 ? style.red(label) : rank >= 40 ? style.yellow(label) : style.dim(label);
  const extras: string[] = [];
  for (const f of FIELDS) {
    const v = rec[f];
    if (typeof v === 'string' || typeof v === 'number') extras.push(`${f}=${v}`);
  }
  const err = rec.err as { message?: unknown } | undefined;
  if (err && typeof err.message === 'string')
    extras.push(`err=${JSON.stringify(err.message.split('\n')[0])}`);
  const msg = typeof rec.msg === 'string' ? rec.msg : '';
  return `${style.dim(clock(when))} ${app.padEnd(20)} ${shown} ${msg}${extras.length ? `  ${style.dim(extras.join(' '))}` : ''}`;
}

function clock(d: Date): string {
  return d.toTimeString().slice(0, 8);
}

/**
 * Polls log files for appended lines (every 500 ms) and hands each summary to `print`.
 * Returns a function that reads what is left once more and stops.
 */
export function followLogs(
  files: readonly { app: string; path: string }[],
  opts: { minLevel: number; style: Style; print: (line: string) => void },
): () => Promise<void> {
  const offsets = new Map<string, number>();
  const partial = new Map<string, string>();
  let busy: Promise<void> | undefined;
  const readAll = async () => {
    for (const { app, path } of files) {
      const size = await stat(path).then(
        (s) => s.size,
        () => 0,
      );
      const from = offsets.get(path) ?? 0;
      if (size <= from) continue;
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(Math.min(size - from, 1 << 20));
        const { bytesRead } = await fh.read(buf, 0, buf.length, from);
        offsets.set(path, from + bytesRead);
        const text = (partial.get(path) ?? '') + buf.subarray(0, bytesRead).toString('utf8');
        const lines = text.split('\n');
        partial.set(path, lines.pop() ?? '');
        for (const line of lines) {
          const out = summarize(app, line, opts.minLevel, opts.style);
          if (out) opts.print(out);
        }
      } finally {
        await fh.close();
      }
    }
  };
  const tick = () => {
    busy ??= readAll()
      .catch(() => undefined)
      .finally(() => {
        busy = undefined;
      });
  };
  const timer = setInterval(tick, 500);
  return async () => {
    clearInterval(timer);
    await busy;
    await readAll().catch(() => undefined);
  };
}

export const LOG_LEVEL_RANK = LEVELS;
