import { z } from 'zod';
import type { StateDir } from './safe-fs';

/** How many reset request ids of one generation are remembered (policy resets share a generation). */
const MAX_REQUEST_IDS = 64;

/**
 * What the agent last did to an overlay on this node, kept next to the overlay's upper and work
 * dirs in `.reaper-generation`. It is what makes a redelivered reset a no-op: BullMQ delivers at
 * least once (a stalled job, a crash after the disk work but before the job completed).
 */
const GenerationRecordSchema = z.object({
  /** The ReaperOverlay incarnation the record belongs to. */
  uid: z.string(),
  /** The highest generation applied by a reset (or seen by the ensure that created the overlay). */
  generation: z.number().int().min(0),
  /** Reset request ids already applied at `generation`. */
  requestIds: z.array(z.string()),
  /** When the last reset finished (RFC 3339); absent until the first reset. */
  resetAt: z.string().optional(),
});
export type GenerationRecord = z.infer<typeof GenerationRecordSchema>;

/** Reads the record; a missing or unreadable one is "nothing applied yet" (the safe direction: reset again). */
export async function readGenerationRecord(
  dir: StateDir,
  file: string,
): Promise<GenerationRecord | undefined> {
  const text = await dir.readFile(file);
  if (text === undefined) return undefined;
  try {
    const parsed = GenerationRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeGenerationRecord(
  dir: StateDir,
  file: string,
  record: GenerationRecord,
): Promise<void> {
  await dir.writeFileAtomic(file, `${JSON.stringify(record)}\n`);
}

/**
 * Whether a reset (uid, generation, requestId) is already applied or superseded by the record:
 * same incarnation and either a later generation, or this very request at the same generation.
 */
export function isResetApplied(
  record: GenerationRecord | undefined,
  reset: { uid: string; generation: number; requestId: string },
): boolean {
  if (!record || record.uid !== reset.uid) return false;
  if (record.generation > reset.generation) return true;
  return record.generation === reset.generation && record.requestIds.includes(reset.requestId);
}

/** The record after applying a reset. */
export function recordReset(
  record: GenerationRecord | undefined,
  reset: { uid: string; generation: number; requestId: string },
  resetAt: string,
): GenerationRecord {
  const sameGeneration = record?.uid === reset.uid && record.generation === reset.generation;
  const previous = sameGeneration ? record.requestIds : [];
  return {
    uid: reset.uid,
    generation: reset.generation,
    requestIds: [...previous, reset.requestId].slice(-MAX_REQUEST_IDS),
    resetAt,
  };
}
