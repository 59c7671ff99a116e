import { OverlayBusyError } from './errors';
import {
  type GenerationRecord,
  isResetApplied,
  readGenerationRecord,
  recordReset,
  writeGenerationRecord,
} from './generation-record';
import { type HelperOutcome, type StopHelperOptions, stopHelper } from './helper-process';
import { KeyedMutex } from './keyed-mutex';
import { listMountPoints, unmount } from './mounts';
import { type OverlayPaths, overlayPaths } from './overlay-layout';
import { acquireOverlayLock, type OverlayLockOptions } from './overlay-lock';
import { StateDir } from './safe-fs';

/** The overlay an operation is about. */
export interface OverlayTarget {
  readonly namespace: string;
  readonly name: string;
  /** The ReaperOverlay incarnation asking. */
  readonly uid: string;
  readonly generation: number;
}

export interface ResetRequest extends OverlayTarget {
  readonly requestId: string;
}

export interface EnsureResult {
  /** True when this call created the overlay's directory. */
  readonly created: boolean;
  /** The generation the overlay's data on this node is at (the request's for a new overlay). */
  readonly generation: number;
  /** When the overlay was last reset on this node, if ever. */
  readonly resetAt?: string | undefined;
}

export interface ResetResult {
  /** False when the same reset (or a later one) had already been applied: nothing was touched. */
  readonly applied: boolean;
  readonly generation: number;
  readonly resetAt?: string | undefined;
  readonly helper?: HelperOutcome | undefined;
}

export interface RemoveResult {
  /** False when the data belongs to another incarnation of the same name (left alone). */
  readonly removed: boolean;
  readonly helper?: HelperOutcome | undefined;
}

/** Per-call options of the disk operations. */
export interface OperationOptions {
  /**
   * Aborts the operation while it waits for the overlay lock (the agent is stopping). Once the
   * lock is held the operation runs to its end: it is short, and stopping it halfway would only
   * make the redelivered job redo the same steps.
   */
  readonly signal?: AbortSignal | undefined;
}

export interface OverlayDiskOptions {
  readonly lock?: OverlayLockOptions;
  readonly helper?: StopHelperOptions;
  /** Clock for reset times (tests pin it). */
  readonly now?: () => Date;
}

/**
 * The Reaper runtime's on-disk overlays under one state dir (default /run/reaper):
 * `overlay/<ns>/<name>/{upper,work}`, `merged/<ns>/<name>`, `ns/<ns>--<name>` (+ `.pid` of the
 * namespace helper) and the lock file `overlay-<ns>--<name>.lock`.
 *
 * Every operation validates the names, stays inside the state dir and never follows a symlink
 * (see StateDir), holds the overlay's lock file for its whole duration (a runtime that honours the
 * lock waits), and is idempotent: BullMQ delivers a job at least once, and running an operation
 * again after a crash at any point converges to the same end state.
 */
export class OverlayDisk {
  private readonly mutex = new KeyedMutex();

  private constructor(
    readonly dir: StateDir,
    private readonly opts: OverlayDiskOptions,
  ) {}

  static async open(stateDir: string, opts: OverlayDiskOptions = {}): Promise<OverlayDisk> {
    return new OverlayDisk(await StateDir.open(stateDir), opts);
  }

  /** The validated paths of an overlay (throws InvalidOverlayNameError for bad names). */
  paths(namespace: string, name: string): OverlayPaths {
    return overlayPaths(this.dir.root, namespace, name);
  }

  /** The generation record of an overlay, if the agent wrote one. */
  async readRecord(namespace: string, name: string): Promise<GenerationRecord | undefined> {
    return readGenerationRecord(this.dir, this.paths(namespace, name).generationFile);
  }

  /** Creates the overlay's directories if absent; never removes anything. */
  async ensure(target: OverlayTarget, call: OperationOptions = {}): Promise<EnsureResult> {
    const p = this.paths(target.namespace, target.name);
    return this.exclusive(p, call, async () => {
      const created = (await this.dir.inspect(p.overlayDir)) === undefined;
      for (const d of [p.upperDir, p.workDir, p.mergedDir]) await this.dir.ensureDir(d);
      let record = await readGenerationRecord(this.dir, p.generationFile);
      if (record?.uid !== target.uid) {
        // A new overlay is as clean as a freshly reset one: it is at the requested generation.
        // Data left by an older incarnation whose delete never ran here is kept (an ensure never
        // destroys data); its generation restarts with the new incarnation's.
        record = { uid: target.uid, generation: target.generation, requestIds: [] };
        await writeGenerationRecord(this.dir, p.generationFile, record);
      }
      // The generation the data on disk really is at: an overlay that missed a reset (its node was
      // away) says so instead of claiming the ensure's generation; an ensure never resets.
      return { created, generation: record.generation, resetAt: record.resetAt };
    });
  }

  /**
   * Tears the overlay down and recreates it empty: stops the namespace helper, detaches and removes
   * the namespace file (the old namespace still has the old upper dir mounted; a workload joining
   * it would see the old data), empties upper, work and merged, then records the generation.
   * A reset already applied (same uid, same generation and request id, or a later generation) is
   * a no-op, so a redelivered job never wipes data written after the first delivery.
   */
  async reset(request: ResetRequest, call: OperationOptions = {}): Promise<ResetResult> {
    const p = this.paths(request.namespace, request.name);
    return this.exclusive(p, call, async () => {
      const record = await readGenerationRecord(this.dir, p.generationFile);
      if (record && isResetApplied(record, request)) {
        return { applied: false, generation: record.generation, resetAt: record.resetAt };
      }
      const helper = await this.stopHelper(p);
      await this.removeNamespaceFile(p);
      for (const d of [p.upperDir, p.workDir, p.mergedDir]) await this.dir.remove(d);
      for (const d of [p.upperDir, p.workDir, p.mergedDir]) await this.dir.ensureDir(d);
      const resetAt = (this.opts.now?.() ?? new Date()).toISOString();
      // Written last: a crash before this line repeats the reset on redelivery, which is harmless.
      await writeGenerationRecord(this.dir, p.generationFile, recordReset(record, request, resetAt));
      return { applied: true, generation: request.generation, resetAt, helper };
    });
  }

  /**
   * Removes every on-disk trace of the overlay: helper, namespace file and pid file, overlay and
   * merged dirs, and finally the lock file. Data recorded as belonging to another incarnation
   * (the name was reused and the new overlay already ensured here) is left alone.
   */
  async remove(target: OverlayTarget, call: OperationOptions = {}): Promise<RemoveResult> {
    const p = this.paths(target.namespace, target.name);
    return this.exclusive(p, call, async () => {
      const record = await readGenerationRecord(this.dir, p.generationFile);
      if (record && record.uid !== target.uid) return { removed: false };
      const helper = await this.stopHelper(p);
      await this.removeNamespaceFile(p);
      await this.dir.remove(p.overlayDir);
      await this.dir.remove(p.mergedDir);
      // Removing the lock file is also its release (releasing a lock file that is gone is a no-op).
      await this.dir.remove(p.lockFile);
      return { removed: true, helper };
    });
  }

  /** Runs `task` holding both the in-process mutex and the lock file of the overlay. */
  private exclusive<T>(p: OverlayPaths, call: OperationOptions, task: () => Promise<T>): Promise<T> {
    return this.mutex.run(p.lockFile, async () => {
      const lock = await acquireOverlayLock(this.dir, p.lockFile, { ...this.opts.lock, signal: call.signal });
      try {
        return await task();
      } finally {
        await lock.release();
      }
    });
  }

  /** Stops the helper named in the pid file (if it still runs) and removes the pid file. */
  private async stopHelper(p: OverlayPaths): Promise<HelperOutcome | undefined> {
    const stats = await this.dir.inspect(p.helperPidFile);
    if (!stats) return undefined;
    const text = (await this.dir.readFile(p.helperPidFile)) ?? '';
    const { outcome } = await stopHelper(text, stats.mtimeMs, this.opts.helper);
    await this.dir.remove(p.helperPidFile);
    return outcome;
  }

  /** Detaches the namespace bind mount if there is one, then removes the file. */
  private async removeNamespaceFile(p: OverlayPaths): Promise<void> {
    if (!(await this.dir.inspect(p.nsFile))) return;
    const mounts = await listMountPoints();
    if (mounts?.includes(p.nsFile)) {
      try {
        await unmount(p.nsFile);
      } catch (err) {
        throw new OverlayBusyError(
          `cannot unmount the namespace file ${p.nsFile}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    await this.dir.remove(p.nsFile);
  }
}
