import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs. Every line carries the app name; reconcilers log through
 * `logger.child({ key })` so each line names the object it is about.
 */
export function createLogger(app: string, level: string): Logger {
  return pino({
    level,
    base: { app },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
