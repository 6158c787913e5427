/**
 * What the inspector (actors/inspect.ts) and the terminal trace
 * (actors/trace.ts) share: an observer factory per program, one observer per
 * root actor, and the readable id of each actor of that root's system.
 *
 * XState numbers session ids from `x:0` in each process, so the server's
 * acceptor and the client's first client actor are both `x:0` on a page that
 * shows the two programs (issue #16 item 4), and a number says nothing of
 * what an actor is. An actor is therefore named by its program, the name its
 * root was given, and the ids of the actors on the way down:
 * `server/acceptor`, `client/connection.1`, `client/connection.1/link`.
 */
import type { InspectionEvent, MachineContext, Observer } from 'xstate';
import type { MachineInspectionEvent } from '../lib/statechart/runtime.js';

/** The programs that name their actors. */
export type Program = 'server' | 'client';

/**
 * An inspection event of either kind of actor: an XState actor's, or a
 * compiled one's (lib/statechart/runtime.ts), which has the same shapes.
 */
export type AnyInspectionEvent = InspectionEvent | MachineInspectionEvent<MachineContext>;

/** What an actor's name is made from: its id, and its parent's, up to the root. */
export interface NamedActor {
  readonly id: string;
  readonly _parent?: NamedActor | undefined;
}

/**
 * An observer for one ROOT actor, to pass as `inspect` to its createActor
 * (or a compiled actor's constructor): it sees every actor of that root's
 * system, and names the root `name`.
 */
export type ObserverFactory = (name: string) => Observer<AnyInspectionEvent>;

/**
 * The readable id of `actorRef`, an actor of the system whose root was named
 * `name` by `program`: `${program}/${name}` for the root, then `/${id}` for
 * each invoked or spawned actor on the way down to it. An actor invoked again
 * under the same id (a client's `link`, after a reconnect) gets the same name:
 * it plays the same part.
 */
export function actorPath(program: Program, name: string, actorRef: NamedActor): string {
  const ids: string[] = [];
  for (let ref: NamedActor | undefined = actorRef; ref?._parent !== undefined; ref = ref._parent)
    ids.unshift(ref.id);
  return [program, name, ...ids].join('/');
}

/** One factory that hands each root's events to every one of `factories` (the inspector and the trace, say). */
export function combineObservers(...factories: readonly ObserverFactory[]): ObserverFactory {
  return (name) => {
    const observers = factories.map((factory) => factory(name));
    return {
      next(event) {
        for (const observer of observers) observer.next?.(event);
      },
    };
  };
}
