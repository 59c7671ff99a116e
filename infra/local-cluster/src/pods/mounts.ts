import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve, sep } from 'node:path';

/** Mount points at or below `dir` in this process's mount namespace. */
export function mountsUnder(dir: string): string[] {
  const root = resolve(dir);
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m === root || m.startsWith(root + sep));
}

/**
 * rm -rf that refuses to cross a mount. Node roots hold a rootfs whose read-only binds of /usr, /etc...
 * exist only inside each pod's private mount namespace; if one ever leaked into ours, a recursive
 * delete would walk into the host's directories.
 */
export async function removeDir(dir: string): Promise<void> {
  const mounts = mountsUnder(dir);
  if (mounts.length > 0) {
    throw new Error(`refusing to delete ${dir}: mounts below it (${mounts.join(', ')}); unmount them first`);
  }
  await rm(dir, { recursive: true, force: true });
}
