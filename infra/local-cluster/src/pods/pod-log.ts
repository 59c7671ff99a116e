import { EventEmitter } from 'node:events';
import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

// A pod's log in the CRI log format a real kubelet reads (`<RFC3339Nano> <stdout|stderr> <F|P> <text>`
// per line, P marking a piece of a line longer than MAX_LINE), written by the stand-in kubelet
// from the container's pipes, so `kubectl logs` can offer timestamps, tailLines and sinceTime.

/** A line longer than this is split into partial (P) entries, as the CRI runtimes do at 16 KiB. */
const MAX_LINE = 16 * 1024;

export type LogStream = 'stdout' | 'stderr';

/** One parsed entry of a CRI log file. */
export interface LogEntry {
  readonly time: string;
  readonly stream: LogStream;
  /** False for a P entry: the line continues in the next entry. */
  readonly full: boolean;
  readonly text: string;
}

/** RFC 3339 with nanoseconds, as CRI runtimes write (JavaScript clocks give milliseconds). */
export function criTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export function formatEntry(entry: LogEntry): string {
  return `${entry.time} ${entry.stream} ${entry.full ? 'F' : 'P'} ${entry.text}\n`;
}

/** Parses the lines of a CRI log; lines that do not parse are skipped. */
export function parseEntries(text: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/.exec(line);
    if (m)
      entries.push({ time: m[1] as string, stream: m[2] as LogStream, full: m[3] === 'F', text: m[4] ?? '' });
  }
  return entries;
}

/** What `kubectl logs` asks for (the kubelet's PodLogOptions that apply here). */
export interface LogQuery {
  readonly timestamps: boolean;
  /** Only the last N lines. */
  readonly tailLines?: number | undefined;
  /** Only entries at or after this time (sinceSeconds is turned into one). */
  readonly since?: Date | undefined;
  /** Stop after this many bytes. */
  readonly limitBytes?: number | undefined;
}

/**
 * The text `kubectl logs` prints for these entries: each line's text (P pieces joined), prefixed
 * with the time of its first piece when `timestamps`. Pure.
 */
export function renderEntries(entries: readonly LogEntry[], query: LogQuery): string {
  const sinceMs = query.since?.getTime();
  const kept = sinceMs === undefined ? entries : entries.filter((e) => Date.parse(e.time) >= sinceMs);
  let selected = kept;
  if (query.tailLines !== undefined) {
    // Count whole lines from the end: a line is a run of P entries ended by an F entry.
    let lines = 0;
    let start = kept.length;
    for (let i = kept.length - 1; i >= 0; i--) {
      if (kept[i]?.full) {
        if (lines === query.tailLines) break;
        lines++;
      }
      start = i;
    }
    selected = query.tailLines === 0 ? [] : kept.slice(start);
  }
  let out = '';
  let lineStart = true;
  for (const e of selected) {
    if (lineStart && query.timestamps) out += `${e.time} `;
    out += e.full ? `${e.text}\n` : e.text;
    lineStart = e.full;
  }
  return query.limitBytes === undefined ? out : Buffer.from(out).subarray(0, query.limitBytes).toString();
}

/**
 * Writes a container's stdout and stderr into its CRI log file, line by line, in arrival order.
 * `grew` fires after each write reached the file; `closed` once both streams ended and the file is
 * closed (the container is done), so a follower knows nothing more will come.
 */
export class PodLogWriter extends EventEmitter {
  private chain: Promise<void> = Promise.resolve();
  private open = 0;
  private done = false;

  private constructor(private readonly file: FileHandle) {
    super();
  }

  /** Creates (truncates) the log file at `path`. */
  static async create(path: string): Promise<PodLogWriter> {
    return new PodLogWriter(await open(path, 'w'));
  }

  get closed(): boolean {
    return this.done;
  }

  /** Reads `stream` until it ends; the writer closes once every attached stream ended. */
  attach(stream: Readable, name: LogStream): void {
    this.open++;
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      let nl = pending.indexOf('\n');
      const entries: LogEntry[] = [];
      const time = criTime(new Date());
      while (nl >= 0) {
        entries.push(...pieces(pending.slice(0, nl), name, time));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      while (pending.length > MAX_LINE) {
        entries.push({ time, stream: name, full: false, text: pending.slice(0, MAX_LINE) });
        pending = pending.slice(MAX_LINE);
      }
      if (entries.length) this.write(entries);
    });
    const end = () => {
      if (pending) this.write(pieces(pending, name, criTime(new Date())));
      pending = '';
      if (--this.open === 0) this.close();
    };
    stream.once('end', end);
    stream.once('error', () => undefined);
  }

  /** Closes the file now (a container that never got streams, or a kubelet stopping). */
  close(): void {
    this.chain = this.chain.then(async () => {
      if (this.done) return;
      this.done = true;
      await this.file.close().catch(() => undefined);
      this.emit('grew');
    });
  }

  private write(entries: readonly LogEntry[]): void {
    const text = entries.map(formatEntry).join('');
    this.chain = this.chain.then(async () => {
      if (this.done) return;
      await this.file.write(text).catch(() => undefined);
      this.emit('grew');
    });
  }
}

/** A full line, split into P pieces of at most MAX_LINE and an F end. */
function pieces(line: string, stream: LogStream, time: string): LogEntry[] {
  const out: LogEntry[] = [];
  let rest = line;
  while (rest.length > MAX_LINE) {
    out.push({ time, stream, full: false, text: rest.slice(0, MAX_LINE) });
    rest = rest.slice(MAX_LINE);
  }
  out.push({ time, stream, full: true, text: rest });
  return out;
}
