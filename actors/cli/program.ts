/**
 * What every meteo-actors program does the same way: read its command line
 * against its option table (one readable line and status 2 for a bad one,
 * the usage and status 0 for --help), and turn the outcome of its main into
 * an exit status, never a stack trace for the user.
 */
import { pathToFileURL } from 'node:url';
import { type OptionTable, type ResolvedOptions, resolveOptions } from '../../lib/config.js';
import { describeError } from '../../lib/errors.js';

/** Exit status for a bad command line, as Unix programs use it. */
export const USAGE_ERROR = 2;

/**
 * The options of this run, or the exit status to stop with when the command
 * line asked for help or was bad (the line for the user is already written).
 */
export function commandLine<Table extends OptionTable>(
  program: string,
  table: Table,
  usage: string,
): ResolvedOptions<Table> | number {
  try {
    const resolution = resolveOptions(table, process.argv.slice(2), process.env);
    if (!resolution.help) return resolution.options;
    process.stdout.write(`${usage}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${program}: ${describeError(err)} (try --help)\n`);
    return USAGE_ERROR;
  }
}

/** Runs `main` and exits with what it returns; a fault it did not expect is one line and status 1. */
export function runProgram(program: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${program}: internal error: ${describeError(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/**
 * One line at a time to a standard stream, never throwing and never
 * recursing: the first write that fails (EPIPE once the reader has gone, as
 * `| head` does; ENOSPC on a full disk) is handed to `onFailure`, once, and
 * every later line is dropped. Node reports a failed write to a pipe as an
 * 'error' event, which unheard becomes an uncaught exception; a handler
 * that reports it on the same broken stream fails again, and so on for ever
 * (issue #16 item 1). So the stream's errors are heard here, and a report
 * of this sink's own failure must go elsewhere, or nowhere.
 */
export interface LineSink {
  write(line: string): void;
  /** The error that closed this output, or null while it works. */
  readonly failure: NodeJS.ErrnoException | null;
}

export function lineSink(
  stream: NodeJS.WritableStream,
  onFailure: (err: NodeJS.ErrnoException) => void = () => {},
): LineSink {
  let failure: NodeJS.ErrnoException | null = null;
  const fail = (err: NodeJS.ErrnoException): void => {
    if (failure !== null) return;
    failure = err;
    onFailure(err);
  };
  stream.on('error', fail);
  return {
    write(line) {
      if (failure !== null) return;
      try {
        stream.write(`${line}\n`);
      } catch (err) {
        fail(err as NodeJS.ErrnoException);
      }
    },
    get failure() {
      return failure;
    },
  };
}

/** True for the error of a write whose reader has gone: `| head` has read what it wanted. */
export function isBrokenPipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'EPIPE';
}

/**
 * Faults that escape every handler are reported, never silent, and the
 * program carries on: the actors that own its connections are untouched by
 * a fault outside them.
 */
export function reportEscapedFaults(report: (what: string, err: unknown) => void): void {
  process.on('unhandledRejection', (reason) => report('unhandled rejection', reason));
  process.on('uncaughtException', (err) => report('uncaught exception', err));
}

/**
 * True when the module at `moduleUrl` is the program node was started with,
 * false when it is imported (by a spec, for its functions).
 */
export function isEntryPoint(moduleUrl: string): boolean {
  const started = process.argv[1];
  return started !== undefined && moduleUrl === pathToFileURL(started).href;
}
