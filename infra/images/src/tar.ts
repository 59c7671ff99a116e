// A minimal, reproducible tar writer (POSIX ustar, with pax headers for long names): every entry has
// the same mtime, uid, gid and empty user/group names, so an archive depends only on paths, modes
// and contents. Entries are written in the order given; callers sort them.

const BLOCK = 512;

/** One archive member. `path` is relative, without a leading slash; directories without a trailing one. */
export type TarEntry =
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly content: Uint8Array }
  | { readonly type: 'dir'; readonly path: string; readonly mode: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

/** Owner and time every member gets (the defaults: root, the epoch). */
export interface TarOwner {
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
}

export const ROOT_OWNER: TarOwner = { uid: 0, gid: 0, mtime: 0 };

/** Thrown for an entry tar cannot hold (a path outside the archive, a size over 8 GiB). */
export class TarEntryError extends Error {
  readonly code = 'TarEntryInvalid';
}

/** The archive of `entries`, in that order, followed by the two zero blocks that end a tar. */
export function tarArchive(entries: readonly TarEntry[], owner: TarOwner = ROOT_OWNER): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    checkPath(entry.path);
    const name = entry.type === 'dir' ? `${entry.path}/` : entry.path;
    const link = entry.type === 'symlink' ? entry.target : '';
    const content = entry.type === 'file' ? Buffer.from(entry.content) : Buffer.alloc(0);
    if (content.length >= 8 ** 11) throw new TarEntryError(`${entry.path}: over 8 GiB`);
    const pax: Record<string, string> = {};
    if (Buffer.byteLength(name) > 100) pax.path = name;
    if (Buffer.byteLength(link) > 100) pax.linkpath = link;
    if (Object.keys(pax).length > 0) {
      const body = paxBody(pax);
      parts.push(
        header({ name: 'PaxHeader', mode: 0o644, size: body.length, type: 'x', link: '' }, owner),
        padded(body),
      );
    }
    const mode = entry.type === 'symlink' ? 0o777 : entry.mode;
    const type = entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2';
    parts.push(header({ name, mode, size: content.length, type, link }, owner), padded(content));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

function checkPath(path: string): void {
  if (path === '' || path.startsWith('/') || path.endsWith('/') || path.split('/').includes('..')) {
    throw new TarEntryError(`bad archive path "${path}": relative, no "..", no trailing slash`);
  }
}

interface Header {
  readonly name: string;
  readonly mode: number;
  readonly size: number;
  readonly type: string;
  readonly link: string;
}

function header(h: Header, owner: TarOwner): Buffer {
  const block = Buffer.alloc(BLOCK);
  // Over-long names live in the pax header before; the ustar field keeps a truncated copy.
  block.write(truncate(h.name, 100), 0, 'utf8');
  octal(block, 100, 8, h.mode & 0o7777);
  octal(block, 108, 8, owner.uid);
  octal(block, 116, 8, owner.gid);
  octal(block, 124, 12, h.size);
  octal(block, 136, 12, owner.mtime);
  block.fill(' ', 148, 156);
  block.write(h.type, 156, 'ascii');
  block.write(truncate(h.link, 100), 157, 'utf8');
  block.write('ustar\u000000', 257, 'ascii');
  octal(block, 329, 8, 0);
  octal(block, 337, 8, 0);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'ascii');
  return block;
}

function octal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, 'ascii');
}

function truncate(text: string, bytes: number): string {
  const buf = Buffer.from(text);
  return buf.length <= bytes ? text : buf.subarray(0, bytes).toString('utf8');
}

/** pax records are `<len> <key>=<value>\n`, where `<len>` counts the whole record, itself included. */
function paxBody(fields: Readonly<Record<string, string>>): Buffer {
  const records = Object.entries(fields).map(([key, value]) => {
    const rest = ` ${key}=${value}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len++;
    return `${len}${rest}`;
  });
  return Buffer.from(records.join(''));
}

function padded(content: Buffer): Buffer {
  const rest = content.length % BLOCK;
  return rest === 0 ? content : Buffer.concat([content, Buffer.alloc(BLOCK - rest)]);
}
