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
  /**
   * Told once, with the error, when the log cannot be written (its reader
   * has gone, the disk is full); from then on lines are dropped. It must not
   * log: that is what failed.
   */
  readonly onFailure?: (err: NodeJS.ErrnoException) => void;
}

/**
 * A logger that never throws into its caller. A sync pino destination that
 * fails throws from the logging call itself (sonic-boom emits 'error' inside
 * the write; unheard, that throws), so a failed log line would end whatever
 * the program was doing, and a fault handler that logs would fail again on
 * the same write (issue #16 item 1). After the first failure nothing more is
 * written: sonic-boom keeps the unwritten bytes and retries them with every
 * line, so a log that cannot be written would otherwise grow in memory.
 */
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
  let failed = false;
  const fail = (err: unknown): void => {
    if (failed) return;
    failed = true;
    options.onFailure?.(err as NodeJS.ErrnoException);
  };
  destination.on('error', fail);
  const logger = pino({ level: options.level, base: options.base ?? null }, destination);
  const at =
    (write: (fields: LogFields, message: string) => void) =>
    (message: string, fields?: LogFields): void => {
      if (failed) return;
      try {
        write(fields ?? {}, message);
      } catch (err) {
        fail(err);
      }
    };
  return {
    debug: at((fields, message) => logger.debug(fields, message)),
    info: at((fields, message) => logger.info(fields, message)),
    warn: at((fields, message) => logger.warn(fields, message)),
    error: at((fields, message) => logger.error(fields, message)),
  };
}
