import {
  type EngineState,
  engineStateSchema,
  errorCode,
  INBOX_COMMAND_VERSION,
  type InboxCommand,
  parseInboxCommand,
  parseWith,
  ReaperError,
} from '@reaper-flow/domain';
import { z } from 'zod';

export const UNREADABLE_STORED_DATA = 'queue.UnreadableStoredData';

/**
 * A value read back from Redis that this reaper-flow cannot use: not JSON, not the shape its format
 * version has, or written in a newer format. Terminal: reading it again gives the same answer. The
 * message names the key, what was found and what an operator can do.
 */
export class UnreadableStoredDataError extends ReaperError {
  readonly code = UNREADABLE_STORED_DATA;
  readonly terminal = true;

  constructor(
    message: string,
    readonly key: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Whether `err` is an UnreadableStoredDataError (by its code: errors cross process boundaries). */
export function isUnreadableStoredData(err: unknown): err is UnreadableStoredDataError {
  return errorCode(err) === UNREADABLE_STORED_DATA;
}

/** The format version of the DaemonJob snapshots this release writes (`v`). */
export const SNAPSHOT_VERSION = 1;

/** What the DaemonJob reconciler keeps per job between reconciles. */
export interface DaemonJobSnapshot {
  /** Bumped by every save; a save with a stale version is refused (compare-and-set). */
  readonly version: number;
  readonly state: EngineState;
  /** Stream id of the last inbox entry folded into `state`. */
  readonly inboxCursor: string;
  /** Epoch ms of the last status write, and a fingerprint of what was written (coalescing). */
  readonly lastStatusWriteAt: number;
  readonly lastStatusHash: string;
  /** uid of the DaemonJob incarnation this state belongs to. */
  readonly uid: string;
}

// v1 is the shape snapshots had before they carried a version: a snapshot without `v` was written
// by the release before, and migrates by reading it as v1.
const snapshotV1 = z.object({
  v: z.literal(1).optional(),
  version: z.int().min(0),
  state: engineStateSchema,
  inboxCursor: z.string().regex(/^\d+-\d+$/),
  lastStatusWriteAt: z.number(),
  lastStatusHash: z.string(),
  uid: z.string(),
});

const formatVersion = z.object({ v: z.unknown() });

/** The stored text of a snapshot, with its format version. */
export function encodeSnapshot(snapshot: DaemonJobSnapshot): string {
  return JSON.stringify({ v: SNAPSHOT_VERSION, ...snapshot });
}

/** What to do about a snapshot that will not parse: the job's state can be rebuilt from scratch. */
function rebuildHint(keys: SnapshotKeys): string {
  return (
    `To rebuild the job's state, delete ${keys.snapshot} and ${keys.version}: ` +
    'its next reconcile starts from an empty state and runs the job again on every target node.'
  );
}

export interface SnapshotKeys {
  readonly snapshot: string;
  readonly version: string;
}

/**
 * Parses a stored DaemonJob snapshot: the current format, or the previous release's (no `v`),
 * migrated. Throws UnreadableStoredDataError for anything else, naming the key.
 */
export function decodeSnapshot(text: string, keys: SnapshotKeys): DaemonJobSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new UnreadableStoredDataError(
      `DaemonJob snapshot ${keys.snapshot} is not JSON (it starts ${JSON.stringify(text.slice(0, 60))}). ${rebuildHint(keys)}`,
      keys.snapshot,
      { cause },
    );
  }
  const found = formatVersion.safeParse(raw);
  const v = found.success ? found.data.v : undefined;
  if (v !== undefined && v !== SNAPSHOT_VERSION) {
    const newer = typeof v === 'number' && Number.isInteger(v) && v > SNAPSHOT_VERSION;
    throw new UnreadableStoredDataError(
      newer
        ? `DaemonJob snapshot ${keys.snapshot} has format version ${v}, newer than this reaper-flow reads ` +
            `(${SNAPSHOT_VERSION}): a newer scheduler wrote it. Run that version on every scheduler ` +
            '(finish the upgrade, or roll back with its state); this job is not reconciled until then.'
        : `DaemonJob snapshot ${keys.snapshot} has format version ${JSON.stringify(v)}, which no ` +
            `reaper-flow writes. ${rebuildHint(keys)}`,
      keys.snapshot,
    );
  }
  const parsed = parseWith(snapshotV1, raw);
  if (!parsed.ok) {
    const issues = parsed.issues.slice(0, 5).join('; ');
    const more = parsed.issues.length > 5 ? ` (and ${parsed.issues.length - 5} more)` : '';
    throw new UnreadableStoredDataError(
      `DaemonJob snapshot ${keys.snapshot} is not a snapshot of format version ${SNAPSHOT_VERSION}: ${issues}${more}. ${rebuildHint(keys)}`,
      keys.snapshot,
    );
  }
  const { v: _v, ...snapshot } = parsed.value;
  return snapshot;
}

/** One entry of a DaemonJob's inbox, read back: its command, or why it was refused. */
export type InboxEntry =
  | { readonly id: string; readonly command: InboxCommand }
  | {
      readonly id: string;
      readonly refused: UnreadableStoredDataError;
      /**
       * Written in a newer format by a newer reaper-flow: not to be folded, and not to be skipped
       * either (the fold stops before it until a scheduler that reads it comes).
       */
      readonly newer: boolean;
    };

/** Parses one inbox entry's `command` field (undefined: the field is missing). */
export function decodeInboxEntry(id: string, text: string | undefined, key: string): InboxEntry {
  const refuse = (found: string, newer = false, cause?: unknown): InboxEntry => ({
    id,
    newer,
    refused: new UnreadableStoredDataError(
      newer
        ? `inbox entry ${id} of ${key}: ${found}. The job's inbox is folded up to it and waits for a ` +
            'scheduler of that version (finish the upgrade so every scheduler runs it).'
        : `inbox entry ${id} of ${key} refused: ${found}. It is skipped; reaper-flow's node-runs do ` +
            `not write this, so look for another writer of ${key}.`,
      key,
      { cause },
    ),
  });
  if (text === undefined) return refuse('no command field');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    return refuse(`not JSON (it starts ${JSON.stringify(text.slice(0, 60))})`, false, cause);
  }
  const parsed = parseInboxCommand(raw);
  if (parsed.ok) return { id, command: parsed.value };
  if (parsed.newer !== undefined) {
    return refuse(
      `format version ${parsed.newer}, newer than this reaper-flow reads (${INBOX_COMMAND_VERSION})`,
      true,
    );
  }
  return refuse(parsed.issues.join('; '));
}
