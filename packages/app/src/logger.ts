import { type DestinationStream, type Logger, pino } from 'pino';
import type { InstanceIdentity } from './deps.ts';

/** Levels `LOG_LEVEL` accepts, most severe first; `silent` logs nothing. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A level from {@link logLevels}. */
export type LogLevel = (typeof logLevels)[number];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** `info` shows lifecycle lines; `debug` adds one line per request. */
  level: LogLevel;
  /** Named on every line as `name/id`. */
  instance: InstanceIdentity;
  /** Where lines go. @default stdout */
  destination?: DestinationStream;
}

/**
 * Creates the structured logger of one instance: one JSON object per line (pino), with the time,
 * the level, the instance and a human-readable `msg`. Never give it secrets: URLs go through
 * `redactUrl` first.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { instance: `${options.instance.name}/${options.instance.id}` },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
