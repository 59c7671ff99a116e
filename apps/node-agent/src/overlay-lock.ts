import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { OverlayLockedError } from './errors';
import { isAlive } from './helper-process';
import type { StateDir } from './safe-fs';

/** Identifies this agent process in the locks it writes (a restarted container may reuse its pid). */
const INSTANCE = randomUUID();

const LockContent = z.object({
  pid: z.number().int(),
  instance: z.string().optional(),
  token: z.string().optional(),
  host: z.string().optional(),
  acquiredAt: z.string().optional(),
});

export interface OverlayLockOptions {
  /** A lock older than this is taken to be left behind by a holder that died (default 10 min). */
  readonly staleAfterMs?: number;
  /** How long to wait for a live holder before giving up with OverlayLockedError (default 30 s). */
  readonly waitMs?: number;
  readonly pollMs?: number;
  /** Aborts the wait (the agent is stopping); the lock is then not taken. */
  readonly signal?: AbortSignal | undefined;
}

/** A held lock; `release` is idempotent. */
export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Takes the overlay's lock file by creating it exclusively (O_CREAT|O_EXCL, which also refuses to
 * create through a symlink), writing our pid and instance id into it.
 *
 * A lock in the way is broken (removed and taken again) when it is stale:
 * - its holder pid is not running (a holder that crashed never removes its lock), or
 * - it names our pid but another instance id (our own earlier incarnation: in a container the
 *   agent is often pid 1 after every restart, so "pid alive" proves nothing there), or
 * - it is older than `staleAfterMs` (a holder on a pid we cannot see, or unreadable content).
 * Otherwise we poll until `waitMs` and then throw OverlayLockedError, which BullMQ retries with
 * backoff. Pids are only meaningful in the host pid namespace: the agent runs with hostPID.
 */
export async function acquireOverlayLock(
  dir: StateDir,
  lockFile: string,
  opts: OverlayLockOptions = {},
): Promise<HeldLock> {
  const staleAfterMs = opts.staleAfterMs ?? 10 * 60_000;
  const deadline = Date.now() + (opts.waitMs ?? 30_000);
  const path = dir.confine(lockFile);
  for (;;) {
    opts.signal?.throwIfAborted();
    const token = randomUUID();
    if (await tryCreate(path, token)) return heldLock(dir, path, token);
    const holder = await describeHolder(dir, path, staleAfterMs);
    if (holder.stale) {
      await breakLock(dir, path, holder.ino);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new OverlayLockedError(`overlay lock ${path} is held by ${holder.description}`);
    }
    await sleep(opts.pollMs ?? 100, undefined, { signal: opts.signal });
  }
}

async function tryCreate(path: string, token: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    const content = {
      pid: process.pid,
      instance: INSTANCE,
      token,
      host: hostname(),
      acquiredAt: new Date().toISOString(),
    };
    await handle.writeFile(`${JSON.stringify(content)}\n`, 'utf8');
  } finally {
    await handle.close();
  }
  return true;
}

async function describeHolder(
  dir: StateDir,
  path: string,
  staleAfterMs: number,
): Promise<{ stale: boolean; ino?: number; description: string }> {
  const stats = await dir.inspect(path);
  // Released between our create and this look: not stale, just try again.
  if (!stats) return { stale: false, description: 'nobody (released)' };
  const ageMs = Date.now() - stats.mtimeMs;
  const parsed = await readLock(dir, path);
  const description = parsed
    ? `pid ${parsed.pid}${parsed.host ? ` on ${parsed.host}` : ''} since ${parsed.acquiredAt ?? '?'}`
    : `an unknown holder for ${Math.round(ageMs / 1000)} s`;
  if (ageMs > staleAfterMs) return { stale: true, ino: stats.ino, description };
  if (!parsed) return { stale: false, ino: stats.ino, description };
  if (parsed.pid === process.pid) {
    return { stale: parsed.instance !== INSTANCE, ino: stats.ino, description };
  }
  return { stale: !(await isAlive(parsed.pid)), ino: stats.ino, description };
}

/**
 * Removes a stale lock, but only if it is still the file we judged: another breaker may have
 * removed it and a new holder created a fresh one in between (re-checking the inode narrows that
 * window to the two calls below; the stale rules make a live holder's lock look stale only after
 * `staleAfterMs`).
 */
async function breakLock(dir: StateDir, path: string, ino: number | undefined): Promise<void> {
  const now = await dir.inspect(path);
  if (!now || now.ino !== ino) return;
  await dir.remove(path);
}

/** Reads and validates a lock file's content; undefined when missing or unreadable. */
async function readLock(dir: StateDir, path: string): Promise<z.infer<typeof LockContent> | undefined> {
  try {
    const text = await dir.readFile(path);
    if (text === undefined) return undefined;
    const result = LockContent.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

function heldLock(dir: StateDir, path: string, token: string): HeldLock {
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      // Remove only our own lock: if ours was broken as stale, the file now belongs to someone else.
      if ((await readLock(dir, path))?.token === token) await dir.remove(path);
    },
  };
}
