import { z } from 'zod';
import { type ParseResult, parseWith } from '../schemas/parse';
import type { FinishNodeRun, HoldNodeRun, StartNodeRun } from './commands';

const at = z.iso.datetime({ offset: true });
const attempt = z.int().min(1);

const startNodeRunSchema = z.object({
  type: z.literal('StartNodeRun'),
  runId: z.string().min(1),
  node: z.string().min(1),
  attempt,
  reaperPodName: z.string().min(1),
  at,
});

const finishNodeRunSchema = z.object({
  type: z.literal('FinishNodeRun'),
  runId: z.string().min(1),
  node: z.string().min(1),
  attempt,
  outcome: z.enum(['Succeeded', 'Failed']),
  exitCode: z.int().optional(),
  message: z.string().optional(),
  reason: z.enum(['DeadlineExceeded']).optional(),
  retryAt: z.number().optional(),
  at,
});

const holdNodeRunSchema = z.object({
  type: z.literal('HoldNodeRun'),
  runId: z.string().min(1),
  node: z.string().min(1),
  reason: z.enum(['DependencyWaiting', 'DependencyFailed', 'Suspended']),
  message: z.string(),
  at,
});

/**
 * What a node-run worker may leave in a DaemonJob's inbox stream: StartNodeRun, FinishNodeRun or
 * HoldNodeRun.
 * The inbox is Redis data, so it is parsed, not cast: anything else is rejected there.
 */
export const inboxCommandSchema = z.discriminatedUnion('type', [
  startNodeRunSchema,
  finishNodeRunSchema,
  holdNodeRunSchema,
]);

/** The format version workers write (`v`); an entry without one is from before versions: the same shape. */
export const INBOX_COMMAND_VERSION = 1;

export type InboxCommand = StartNodeRun | FinishNodeRun | HoldNodeRun;

/** An inbox command as a worker writes it: the command and the format version. */
export function encodeInboxCommand(command: InboxCommand): InboxCommand & { readonly v: number } {
  return { v: INBOX_COMMAND_VERSION, ...command };
}

/**
 * An inbox entry read back: the command (migrated to the current shape), or why it was refused.
 * `newer` is the version of an entry written by a newer reaper-flow, which this one must not fold
 * (and must not skip either: the reconcile leaves it for a scheduler that reads it).
 */
export type InboxCommandRead =
  | { readonly ok: true; readonly value: InboxCommand }
  | { readonly ok: false; readonly issues: readonly string[]; readonly newer?: number };

/** An inbox command, or one line per bad field (`type: Invalid input ...`, `attempt: ...`). */
export function parseInboxCommand(raw: unknown): InboxCommandRead {
  let command = raw;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.hasOwn(raw, 'v')) {
    const { v, ...rest } = raw as Readonly<Record<string, unknown>>;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      return { ok: false, issues: [`v: not a format version (got ${JSON.stringify(v)})`] };
    }
    if (v > INBOX_COMMAND_VERSION) {
      return {
        ok: false,
        newer: v,
        issues: [`v: format version ${v} is newer than this reaper-flow reads (${INBOX_COMMAND_VERSION})`],
      };
    }
    command = rest;
  }
  // No `v` (written before versions) and v1 have the same shape. Typed as the command types: the
  // compiler keeps the schema and the types in step.
  const parsed: ParseResult<InboxCommand> = parseWith(inboxCommandSchema, command);
  return parsed;
}
