// What the demo writes to its terminal: its own messages, styled when stdout is a terminal.
import { relative } from 'node:path';
import { styleFor } from './demo-logs';

export const style = styleFor(process.stdout.isTTY === true);

/** One message of the demo itself. */
export function say(message: string): void {
  process.stdout.write(`${style.bold('[demo]')} ${message}\n`);
}

/** Lines written as they are (tables, kubectl output), indented by `indent`. */
export function print(text: string, indent = ''): void {
  for (const line of text.trimEnd().split('\n')) process.stdout.write(`${indent}${line}\n`);
}

/** A path as the user would type it from where they ran the demo. */
export function rel(path: string): string {
  return relative(process.cwd(), path) || '.';
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
