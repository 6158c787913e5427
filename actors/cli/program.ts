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
