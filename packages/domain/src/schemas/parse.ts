import type { z } from 'zod';

/** Result of parsing untrusted input: the typed value, or one readable line per bad field. */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly string[] };

/** Renders a zod issue path as `spec.volumes[0].configMap`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(root)' : out;
}

// Only scalars are echoed: an object or list would drown the message.
function describeInput(input: unknown): string {
  if (input === undefined || (typeof input === 'object' && input !== null)) return '';
  return ` (got ${JSON.stringify(input)})`;
}

/** One line per issue: `<field path>: <what is allowed> (got <value>)`. */
export function formatIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${path}: required field is missing (expected ${issue.expected})`;
  }
  return `${path}: ${issue.message}${describeInput(issue.input)}`;
}

/**
 * Parses `input` with `schema`, filling defaults. Never throws: a failure lists every bad field with
 * its path and what is allowed, so a controller can write it into a condition as is.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): ParseResult<z.output<S>> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: result.error.issues.map(formatIssue) };
}
