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

/** An inbox command, or one line per bad field (`type: Invalid input ...`, `attempt: ...`). */
export function parseInboxCommand(raw: unknown): ParseResult<StartNodeRun | FinishNodeRun | HoldNodeRun> {
  // Typed as the command types: the compiler keeps the schema and the types in step.
  return parseWith(inboxCommandSchema, raw);
}
