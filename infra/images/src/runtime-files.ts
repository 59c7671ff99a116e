// A dynamically linked program of this machine with what it links against, as layer entries: the
// shared libraries `ldd` lists, each at its real path, with the name the loader asks for linked to
// it, and the merged-/usr links of Debian (/lib -> usr/lib, ...), so the program's interpreter path
// (/lib64/ld-linux-x86-64.so.2) and the library paths resolve in the image as on the host.
import { execFile } from 'node:child_process';
import { lstat, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { hostFile } from './host-files';
import type { TarEntry } from './tar';

const run = promisify(execFile);

/** The top-level directories Debian keeps as links into /usr. */
const MERGED_USR = ['bin', 'lib', 'lib64', 'sbin'];

/**
 * The absolute paths of the shared objects in `ldd` output, in order: `libc.so.6 => /lib/... (0x..)`
 * and the interpreter's `/lib64/ld-linux-x86-64.so.2 (0x..)`; the kernel's vDSO (no file) is left out.
 * A library ldd cannot find is an error: the image would not start.
 */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '' || line === 'statically linked') continue;
    if (line.includes('=> not found')) throw new Error(`ldd: ${line}`);
    const arrow = line.match(/^\S+ => (\/\S+) \(0x[0-9a-f]+\)$/);
    const direct = line.match(/^(\/\S+) \(0x[0-9a-f]+\)$/);
    const path = arrow?.[1] ?? direct?.[1];
    if (path !== undefined) paths.push(path);
    else if (!/^\S+ \(0x[0-9a-f]+\)$/.test(line)) throw new Error(`ldd: unexpected line "${line}"`);
  }
  return paths;
}

/** Layer mode of a host file: executable or not, nothing else (no setuid, no group write). */
export function normalizedMode(hostMode: number): number {
  return hostMode & 0o111 ? 0o755 : 0o644;
}

/**
 * Entries for `programs` (host path -> image path) and every library they link, deduplicated by
 * path, plus the merged-/usr links. Paths in `exclude` (already in a lower layer) are left out.
 */
export async function programEntries(
  programs: readonly { readonly host: string; readonly image: string }[],
  exclude: ReadonlySet<string> = new Set(),
): Promise<TarEntry[]> {
  const byPath = new Map<string, TarEntry>();
  const add = (entry: TarEntry) => {
    if (!exclude.has(entry.path) && !byPath.has(entry.path)) byPath.set(entry.path, entry);
  };
  for (const dir of MERGED_USR) {
    const info = await lstat(`/${dir}`).catch(() => undefined);
    if (info?.isSymbolicLink()) add({ type: 'symlink', path: dir, target: await readlink(`/${dir}`) });
  }
  for (const program of programs) {
    add(await normalizedFile(program.host, relative(program.image)));
    const { stdout } = await run('ldd', [program.host]).catch((err: { stdout?: string; stderr?: string }) => {
      // ldd exits 1 for a static binary ("not a dynamic executable"): nothing to add.
      if (/not a dynamic executable/.test(err.stderr ?? '')) return { stdout: '' };
      throw new Error(`ldd ${program.host} failed: ${err.stderr ?? String(err)}`);
    });
    for (const lib of parseLdd(stdout)) {
      const real = await realpath(lib);
      add(await normalizedFile(real, relative(real)));
      // The name the loader opens, in its directory with links resolved (/lib64 -> /usr/lib64).
      const asked = join(await realpath(dirname(lib)), basename(lib));
      if (asked !== real) add({ type: 'symlink', path: relative(asked), target: real });
    }
  }
  return [...byPath.values()];
}

/** A host file (links followed) with its mode normalized. */
async function normalizedFile(hostPath: string, imagePath: string): Promise<TarEntry> {
  const info = await stat(hostPath);
  return hostFile(hostPath, imagePath, normalizedMode(info.mode));
}

function relative(path: string): string {
  return path.replace(/^\/+/, '');
}
