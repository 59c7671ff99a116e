import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs. Every line carries the app name; reconcilers log through
 * `logger.child({ key })` so each line names the object it is about.
 */
export function createLogger(app: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { app },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // A destination (tests that read the lines) or stdout.
  return destination ? pino(options, destination) : pino(options);
}
