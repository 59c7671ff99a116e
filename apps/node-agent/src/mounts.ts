import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { sep } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Decodes the octal escapes mountinfo uses for space, tab, newline and backslash. */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * Mount points visible to this process, or undefined where /proc/self/mountinfo does not exist
 * (not Linux). Read fresh on every call: mounts come and go with workloads.
 */
export async function listMountPoints(): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const points: string[] = [];
  for (const line of text.split('\n')) {
    // Fields: id parent major:minor root mount-point options ...; the mount point is the fifth.
    const field = line.split(' ')[4];
    if (field) points.push(unescapeMountPath(field));
  }
  return points;
}

/** Mount points at `path` or below it. */
export function mountsAtOrBelow(points: readonly string[], path: string): string[] {
  return points.filter((p) => p === path || p.startsWith(path.endsWith(sep) ? path : `${path}${sep}`));
}

/**
 * Detaches the mount at `path` (lazy: the runtime's namespace file stays usable by processes that
 * already joined it, and nothing new can join). Needs CAP_SYS_ADMIN and the host's mount
 * propagation, as the agent has on a node.
 */
export async function unmount(path: string): Promise<void> {
  await exec('umount', ['--lazy', path]);
}
