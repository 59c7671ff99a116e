/** Progress sink of the local cluster; the CLI writes it to stderr so stdout stays machine-readable. */
export type Logger = (message: string) => void;

/** Logs to stderr with a component prefix. */
export function stderrLogger(prefix: string): Logger {
  return (message) => process.stderr.write(`[${prefix}] ${message}\n`);
}
