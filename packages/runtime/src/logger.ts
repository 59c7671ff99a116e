import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs. Every line carries the app name; reconcilers log through
 * `logger.child({ key })` so each line names the object it is about.
 */
export function createLogger(app: string, level: string, destination?: LogDestination): Logger {
  const options = {
    level,
    base: { app },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Where log lines go instead of stdout (tests read them): each call is one JSON line. */
export interface LogDestination {
  write(line: string): void;
}
