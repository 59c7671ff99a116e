// A directory tree of this machine as layer entries: files (mode normalized), directories and
// symbolic links as they are; owner and times are not read (tar.ts fixes them), so the entries
// depend only on paths, contents, links and executable bits.
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizedMode } from './runtime-files';
import type { TarEntry } from './tar';

/**
 * Every entry under `hostDir`, placed under `imageDir` (relative, no leading slash). Names in
 * `skip` are left out at the top level. Anything but a file, directory or link is an error.
 */
export async function treeEntries(
  hostDir: string,
  imageDir: string,
  skip: ReadonlySet<string> = new Set(),
): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const walk = async (host: string, image: string, top: boolean): Promise<void> => {
    const children = await readdir(host, { withFileTypes: true });
    for (const child of children) {
      if (top && skip.has(child.name)) continue;
      const childHost = join(host, child.name);
      const childImage = `${image}/${child.name}`;
      if (child.isSymbolicLink()) {
        out.push({ type: 'symlink', path: childImage, target: await readlink(childHost) });
      } else if (child.isDirectory()) {
        out.push({ type: 'dir', path: childImage, mode: 0o755 });
        await walk(childHost, childImage, false);
      } else if (child.isFile()) {
        const [content, info] = await Promise.all([readFile(childHost), stat(childHost)]);
        out.push({ type: 'file', path: childImage, mode: normalizedMode(info.mode), content });
      } else {
        throw new Error(`${childHost}: not a file, directory or link`);
      }
    }
  };
  await walk(hostDir, imageDir, true);
  return out;
}
