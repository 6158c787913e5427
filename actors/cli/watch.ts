/**
 * How a program shows its actors (README, "Watch it run"): the Stately
 * inspector through the relay (actors/inspect.ts), the terminal trace
 * (actors/trace.ts), or both, as the one observer factory the program passes
 * as its actors' `inspect` setting.
 */
import { describeError } from '../../lib/errors.js';
import { type Inspection, startInspection } from '../inspect.js';
import { combineObservers, type ObserverFactory, type Program } from '../observe.js';
import { createTracer } from '../trace.js';
import type { LineSink } from './program.js';

/** How a program is asked to show its actors (README, "Watch it run"). */
export interface WatchChoice {
  readonly program: Program;
  /** `--inspect`: send them to the Stately inspector through the relay on `host:inspectPort`. */
  readonly inspect: boolean;
  readonly inspectPort: number;
  readonly host: string;
  /** `--trace`: print their state changes on stderr, in colour on a terminal. */
  readonly trace: boolean;
}

export interface Watching {
  /** What to pass as the actors' `inspect` setting; undefined when nothing watches them. */
  readonly observe: ObserverFactory | undefined;
  readonly inspection: Inspection | undefined;
}

/**
 * Starts what `choice` asks for, the inspection, the trace (its lines to
 * `stderr`), or both, as one observer factory. Or, when the inspection
 * cannot start (ERR_ADDRESS_IN_USE, ERR_LISTEN_FAILED), writes one line and
 * returns the exit status to stop with, as commandLine does.
 */
export async function startWatching(
  choice: WatchChoice,
  stderr: LineSink,
): Promise<Watching | number> {
  let inspection: Inspection | undefined;
  try {
    inspection = choice.inspect
      ? await startInspection({
          port: choice.inspectPort,
          host: choice.host,
          program: choice.program,
        })
      : undefined;
  } catch (err) {
    stderr.write(`meteo-${choice.program}: ${describeError(err)}`);
    return 1;
  }
  const factories: ObserverFactory[] = [];
  if (inspection) factories.push((name) => inspection.observer(name));
  if (choice.trace) {
    const color = wantsColor(process.stderr);
    factories.push(createTracer({ program: choice.program, color, write: stderr.write }));
  }
  return {
    observe: factories.length === 0 ? undefined : combineObservers(...factories),
    inspection,
  };
}

/** Colour on a terminal, unless NO_COLOR (no-color.org) says otherwise. */
export function wantsColor(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && !process.env['NO_COLOR'];
}
