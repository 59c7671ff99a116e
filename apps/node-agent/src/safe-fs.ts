import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, rm } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { OverlayBusyError, UnsafePathError } from './errors';
import { listMountPoints, mountsAtOrBelow } from './mounts';
import { assertInside } from './overlay-layout';

const isNotFound = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * File operations confined to one state dir.
 *
 * Guarantees, whatever a name or the disk contains:
 * - every path is resolved and must stay inside the (real path of the) state dir;
 * - every component between the state dir and the target is lstat-ed first: a symlink anywhere on
 *   the way, the target included, is refused with UnsafePathError, never followed;
 * - a directory tree is removed only when nothing is mounted at or below it, so a bind mount of a
 *   host directory left inside an overlay is never emptied through the mount.
 * The checks and the operation are separate system calls, so a process that rewrites the state dir
 * between them can still race us; only root can write there, and the runtime does not plant
 * symlinks, so the checks exist to stop mistakes and bad input, not a hostile root.
 */
export class StateDir {
  private constructor(
    /** The real path of the state dir. */
    readonly root: string,
  ) {}

  /** Creates `dir` if missing and resolves its real path; the filesystem root is refused. */
  static async open(dir: string): Promise<StateDir> {
    const wanted = resolve(dir);
    await mkdir(wanted, { recursive: true, mode: 0o755 });
    const real = await realpath(wanted);
    if (dirname(real) === real) {
      throw new UnsafePathError(`refusing state dir ${dir}: it resolves to the filesystem root`);
    }
    return new StateDir(real);
  }

  /**
   * lstat-s each component from the state dir down to `target`. Returns the target's stats, or
   * undefined if it (or a directory above it) does not exist.
   */
  async inspect(target: string): Promise<Stats | undefined> {
    const path = this.confine(target);
    let current = this.root;
    let stats: Stats | undefined;
    for (const segment of this.segments(path)) {
      current = `${current}${sep}${segment}`;
      try {
        stats = await lstat(current);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
      if (stats.isSymbolicLink()) {
        throw new UnsafePathError(`refusing ${path}: ${current} is a symlink (symlinks are never followed)`);
      }
      if (current !== path && !stats.isDirectory()) {
        throw new UnsafePathError(`refusing ${path}: ${current} is not a directory`);
      }
    }
    return stats;
  }

  /** mkdir -p without following symlinks; an existing non-directory is refused. */
  async ensureDir(target: string): Promise<void> {
    const path = this.confine(target);
    let current = this.root;
    for (const segment of this.segments(path)) {
      current = `${current}${sep}${segment}`;
      let stats = await lstatOrUndefined(current);
      if (!stats) {
        try {
          await mkdir(current, { mode: 0o755 });
        } catch (err) {
          // Someone else created it first: fine, check what it is below.
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        stats = await lstat(current);
      }
      if (stats.isSymbolicLink()) {
        throw new UnsafePathError(`refusing ${path}: ${current} is a symlink (symlinks are never followed)`);
      }
      if (!stats.isDirectory()) {
        throw new UnsafePathError(`refusing ${path}: ${current} exists and is not a directory`);
      }
    }
  }

  /**
   * Removes a file or a whole directory tree; a missing target is success (returns false).
   * Refuses symlinks on the way (see inspect) and anything mounted at or below the target.
   */
  async remove(target: string): Promise<boolean> {
    const path = this.confine(target);
    if (path === this.root) throw new UnsafePathError(`refusing to remove the state dir ${path} itself`);
    const stats = await this.inspect(path);
    if (!stats) return false;
    const mounted = mountsAtOrBelow((await listMountPoints()) ?? [], path);
    if (mounted.length > 0) {
      throw new OverlayBusyError(`cannot remove ${path}: still mounted at ${mounted.join(', ')}`);
    }
    // fs.rm lstat-s what it walks: a symlink inside the tree is unlinked, never followed.
    await rm(path, { recursive: stats.isDirectory(), force: true });
    return true;
  }

  /** Reads a file without following a symlink; undefined when it does not exist. */
  async readFile(target: string): Promise<string | undefined> {
    const path = this.confine(target);
    if (!(await this.inspect(path))) return undefined;
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
        throw new UnsafePathError(`refusing ${path}: it is a symlink (symlinks are never followed)`);
      }
      throw err;
    }
    try {
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  }

  /**
   * Replaces `target` atomically (write a new file, rename over): a crash leaves the old or the new
   * content, never half of one. The rename replaces a symlink at `target` instead of following it.
   */
  async writeFileAtomic(target: string, content: string): Promise<void> {
    const path = this.confine(target);
    await this.ensureDir(dirname(path));
    const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Resolves `target` and refuses it unless it lies inside the state dir. */
  confine(target: string): string {
    const path = resolve(this.root, target);
    assertInside(this.root, path);
    return path;
  }

  private segments(path: string): string[] {
    const rel = relative(this.root, path);
    return rel === '' ? [] : rel.split(sep);
  }
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
