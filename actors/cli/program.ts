/**
 * What every meteo-actors program does the same way: read its command line
 * against its option table (one readable line and status 2 for a bad one,
 * the usage and status 0 for --help), write its lines to standard streams
 * that may fail, end on a fault that escaped every handler, and turn the
 * outcome of its main into an exit status, never a stack trace for the user.
 */
import { pathToFileURL } from 'node:url';
import { type OptionTable, type ResolvedOptions, resolveOptions } from '../../lib/config.js';
import { describeError } from '../../lib/errors.js';

/** Exit status for a bad command line, as Unix programs use it. */
export const USAGE_ERROR = 2;

/** What a command line asks a program to do: run with these options and arguments. */
export interface CommandLine<Table extends OptionTable> {
  readonly options: ResolvedOptions<Table>;
  /** The arguments that are not flags (a command). */
  readonly args: readonly string[];
}

/**
 * The options and arguments of this run, or the exit status to stop with
 * when the command line asked for help or was bad (the line for the user is
 * already written). For a program that takes arguments (a command).
 */
export function commandLineWithArgs<Table extends OptionTable>(
  program: string,
  table: Table,
  usage: string,
): CommandLine<Table> | number {
  return resolveCommandLine(program, table, usage, true);
}

/**
 * The options of this run, or the exit status to stop with when the command
 * line asked for help or was bad (the line for the user is already written).
 */
export function commandLine<Table extends OptionTable>(
  program: string,
  table: Table,
  usage: string,
): ResolvedOptions<Table> | number {
  const resolved = resolveCommandLine(program, table, usage, false);
  return typeof resolved === 'number' ? resolved : resolved.options;
}

function resolveCommandLine<Table extends OptionTable>(
  program: string,
  table: Table,
  usage: string,
  takesArgs: boolean,
): CommandLine<Table> | number {
  try {
    const resolution = resolveOptions(table, process.argv.slice(2), process.env, takesArgs);
    if (!resolution.help) return { options: resolution.options, args: resolution.args };
    process.stdout.write(`${usage}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${program}: ${describeError(err)} (try --help)\n`);
    return USAGE_ERROR;
  }
}

/** Runs `main` and exits with what it returns; a fault it did not expect is one line and status 1. */
export function runProgram(program: string, main: () => Promise<number>): void {
  main()
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        process.stderr.write(`${program}: internal error: ${describeError(err)}\n`);
        process.exitCode = 1;
      },
    )
    // A process started with a channel to its parent (a server process of a
    // --cluster) lets go of it, or the channel alone would keep it alive.
    .finally(() => {
      if (process.connected) process.disconnect?.();
    });
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
 * What a program does with a fault that escaped every handler: an
 * `uncaughtException` or an `unhandledRejection` is a bug, and Node's
 * documentation says a process is not safe to resume after one. So it is
 * handed to `handle` once, which reports it and ends the program (let it
 * crash, for a supervisor to restart: issue #11 item 6); a second fault
 * while the first is handled ends the process at once, with status 1.
 */
export function onEscapedFault(handle: (what: string, err: unknown) => void): void {
  let handling = false;
  const escaped = (what: string, err: unknown): void => {
    if (handling) process.exit(1);
    handling = true;
    handle(what, err);
  };
  process.on('uncaughtException', (err) => escaped('uncaught exception', err));
  process.on('unhandledRejection', (reason) => escaped('unhandled rejection', reason));
}

/** Resolves once `work` settles or `ms` have passed, whichever comes first; never rejects. */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** The variable that arms the test-only fault (README, "Exit status"). */
export const TEST_FAULT_VARIABLE = 'METEO_TEST_FAULT';

/**
 * For the specs only: with METEO_TEST_FAULT set to `uncaught-exception` or
 * `unhandled-rejection`, the program faults outside every handler, as a bug
 * would, when it receives SIGUSR2, so a spec chooses the moment (say, with
 * clients connected) and sees what a real crash does. Unset, nothing listens.
 */
export function armTestFault(env: Readonly<Record<string, string | undefined>>): void {
  const fault = env[TEST_FAULT_VARIABLE];
  if (fault !== 'uncaught-exception' && fault !== 'unhandled-rejection') return;
  process.once('SIGUSR2', () => {
    const err = new Error(`${TEST_FAULT_VARIABLE}: a ${fault}, on purpose`);
    if (fault === 'uncaught-exception') throw err;
    void Promise.reject(err);
  });
}

/**
 * True when the module at `moduleUrl` is the program node was started with,
 * false when it is imported (by a spec, for its functions).
 */
export function isEntryPoint(moduleUrl: string): boolean {
  const started = process.argv[1];
  return started !== undefined && moduleUrl === pathToFileURL(started).href;
}
