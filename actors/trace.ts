/**
 * `--trace`: the machines' state changes on the terminal, one line each, for
 * learning how the actors behave with no browser (issue #16, "A terminal
 * trace"):
 *
 *   13:20:22.743 client/connection.1 LINK_UP online.connecting → online.greeting
 *
 * the time, the actor (named as the inspector names it, actors/observe.ts),
 * the event that caused the change, and the states before and after. XState
 * reports each microstep, so a state entered and left within one event (the
 * client's `deciding`, the connection's `replying` when the socket takes the
 * write at once) gets its own line. Actors without states (callback actors:
 * the sockets) have none.
 */
import { styleText } from 'node:util';
import type { Observer } from 'xstate';
import {
  type AnyInspectionEvent,
  actorPath,
  type NamedActor,
  type ObserverFactory,
  type Program,
} from './observe.js';

export interface TracerOptions {
  readonly program: Program;
  /** ANSI colours, for a terminal; plain text otherwise. */
  readonly color: boolean;
  /** Where each line goes (without its newline). */
  write(line: string): void;
}

/** What an actor is said to be in before its first state. */
const BEFORE_START = '(start)';

/** `online.waiting` for `{ online: 'waiting' }`; parallel regions as `{a.x, b.y}`. */
export function formatStateValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  const regions = Object.entries(value as Record<string, unknown>).map(
    ([key, inner]) => `${key}.${formatStateValue(inner)}`,
  );
  return regions.length === 1 ? (regions[0] as string) : `{${regions.join(', ')}}`;
}

/** The state an actor's snapshot shows, or null for an actor without states. */
function stateOf(snapshot: unknown): string | null {
  const { value, status } = (snapshot ?? {}) as { value?: unknown; status?: string };
  if (value === undefined) return null;
  // An actor stopped, or failed, in a state is no longer in it.
  if (status === 'stopped' || status === 'error') return `(${status})`;
  return formatStateValue(value);
}

/** `13:20:22.743`, local time, as the server's log lines show it. */
function clock(time: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}.${String(time.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * A factory with the shape of `Inspection.observer`: one observer per root
 * actor, printing each state change of each actor of that root's system.
 */
export function createTracer(options: TracerOptions): ObserverFactory {
  const paint = (style: Parameters<typeof styleText>[0], text: string): string =>
    options.color ? styleText(style, text) : text;
  return (name): Observer<AnyInspectionEvent> => {
    const states = new WeakMap<NamedActor, string>();
    const changed = (actorRef: NamedActor, snapshot: unknown, eventType: string): void => {
      const to = stateOf(snapshot);
      if (to === null) return;
      const from = states.get(actorRef) ?? BEFORE_START;
      if (to === from) return;
      states.set(actorRef, to);
      options.write(
        [
          paint('dim', clock(new Date())),
          paint('cyan', actorPath(options.program, name, actorRef)),
          paint('yellow', eventType),
          `${paint('dim', from)} → ${paint(['bold', 'green'], to)}`,
        ].join(' '),
      );
    };
    return {
      next(event) {
        if (event.type === '@xstate.microstep' || event.type === '@xstate.snapshot')
          changed(event.actorRef as NamedActor, event.snapshot, event.event.type);
      },
    };
  };
}
