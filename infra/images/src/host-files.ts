// Entries for a layer from files on this machine (the only I/O of the image writer).
import { readFile, stat } from 'node:fs/promises';
import type { TarEntry } from './tar';

/** A file of this machine at `imagePath` in the layer, with its content and permission bits. */
export async function hostFile(hostPath: string, imagePath: string, mode?: number): Promise<TarEntry> {
  const [content, info] = await Promise.all([readFile(hostPath), stat(hostPath)]);
  if (!info.isFile()) throw new Error(`${hostPath} is not a regular file`);
  return { type: 'file', path: imagePath, mode: mode ?? info.mode & 0o7777, content };
}

/**
 * Whether an ELF executable is statically linked (has no PT_INTERP program header): such a binary
 * runs in an image that holds nothing else.
 */
export function isStaticElf(binary: Uint8Array): boolean {
  const buf = Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength);
  const isElf64 = buf.length >= 64 && buf.readUInt32BE(0) === 0x7f454c46 && buf[4] === 2 && buf[5] === 1;
  if (!isElf64) return false;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > buf.length) return false;
    if (buf.readUInt32LE(at) === 3 /* PT_INTERP */) return false;
  }
  return true;
}
