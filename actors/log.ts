/**
 * The programs' logger: pino, behind the small `Logger` interface the actors
 * use (lib/log.ts). JSON lines when the output is a file or a pipe (for a log
 * collector), readable coloured lines when it is a terminal. Writes are
 * synchronous: the server logs per connection, never per request, and a line
 * written just before exit must not be lost.
 */
import pino from 'pino';
import pretty from 'pino-pretty';
import type { LogFields, Logger, LogLevel } from '../lib/log.js';

export interface PinoLoggerOptions {
  readonly level: LogLevel;
  /** The file descriptor to write to (1: stdout). */
  readonly fd?: number;
  /** Readable lines rather than JSON; by default, when `fd` is a terminal. */
  readonly pretty?: boolean;
  /** Fields on every line (say, which program wrote it). */
  readonly base?: LogFields;
}

export function createPinoLogger(options: PinoLoggerOptions): Logger {
  const fd = options.fd ?? 1;
  const readable =
    options.pretty ?? (fd === 1 ? process.stdout.isTTY : process.stderr.isTTY) === true;
  const destination = readable
    ? pretty({
        destination: fd,
        sync: true,
        colorize: true,
        singleLine: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      })
    : pino.destination({ fd, sync: true });
  const logger = pino({ level: options.level, base: options.base ?? null }, destination);
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}
