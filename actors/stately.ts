/**
 * The Stately inspector's events, made from XState's inspection events in
 * the shapes @statelyai/inspect's converter gives them (`convertXStateEvent`
 * and `createInspector`'s sanitising, src/createInspector.ts of 0.7.2), and
 * checked against it by spec/actors/stately.spec.ts.
 *
 * The package's own path is not used on a server, for its cost: it defers
 * every inspection event in a timer of its own, and copies every snapshot
 * through JSON text (`JSON.parse(safeStringify(snapshot))`) before it hands
 * it on. A request takes a watched connection through a dozen inspection
 * events, and that path cost about 200 µs a request here (node 20, one
 * connection driven in a loop), against 5 µs for the request itself. Here an
 * event is a small object that holds its snapshot as XState made it
 * (snapshots and contexts are immutable), and becomes JSON text only when
 * something reads it: a page that is open, or a relay of another program.
 */
import { createInspector } from '@statelyai/inspect';
import type { EventObject, MachineContext } from 'xstate';

/** An actor as the Stately inspector names it, and as its events carry it. */
export interface InspectedActor {
  /** The readable name the page shows (actors/observe.ts). */
  readonly name: string;
  /** What the page keys the actor by: unique among every program on the page. */
  readonly sessionId: string;
  readonly rootId: string;
  readonly parentId: string | undefined;
  /** The actor's definition (its machine's config) as JSON text, or `{"id":name}` for logic that has none. */
  readonly definition: string;
  getSnapshot(): unknown;
}

/** What every event for the Stately inspector carries: whose it is, and when it was made. */
interface StatelyEventBase {
  readonly sessionId: string;
  readonly rootId: string;
  readonly id: null;
  readonly createdAt: string;
  readonly _version: string;
}

/** One event for the Stately inspector, JSON-ready (toJson). */
export type StatelyEvent =
  | (StatelyEventBase & {
      readonly type: '@xstate.actor';
      readonly name: string;
      readonly definition: string;
      readonly snapshot: unknown;
      readonly parentId: string | undefined;
    })
  | (StatelyEventBase & {
      readonly type: '@xstate.event';
      readonly event: EventObject;
      readonly sourceId: string | undefined;
    })
  | (StatelyEventBase & {
      readonly type: '@xstate.snapshot';
      readonly event: EventObject;
      readonly snapshot: unknown;
    });

/**
 * The version @statelyai/inspect stamps on its events (`_version`), which
 * the page may read to know what it was sent: asked of the package itself,
 * by one event given to its converter, so that it moves with the package.
 */
export const STATELY_VERSION: string = (() => {
  let version = '';
  createInspector({
    send: (event: { readonly _version?: string }) => {
      version = event._version ?? '';
    },
    start: () => {},
    stop: () => {},
  }).actor('version');
  return version;
})();

/** A value as JSON, whatever it holds: a repeated object as `[Circular]`, a function by its name. */
export function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'function') return { type: item.name };
    if (typeof item === 'bigint') return item.toString();
    if (typeof item === 'object' && item !== null) {
      if (seen.has(item)) return '[Circular]';
      seen.add(item);
    }
    return item;
  });
}

/**
 * An event as JSON text. Plain JSON.stringify first, many times faster than
 * a replacer called on every key; `safeJson` for what it refuses (a cycle, a
 * BigInt). A function in a context or an event is left out, as JSON leaves
 * it out; the package showed it as `{"type": its name}`.
 */
export function toJson(event: StatelyEvent): string {
  try {
    return JSON.stringify(event);
  } catch {
    return safeJson(event);
  }
}

/** The definition the page draws an actor from: its machine's config, or only its name. */
export function definitionOf(name: string, logic: unknown): string {
  const config = (logic as { readonly config?: unknown } | undefined)?.config;
  return typeof config === 'object' && config !== null ? safeJson(config) : safeJson({ id: name });
}

/**
 * A connection's context holds its link (a socket and functions): the
 * inspector shows everything else.
 */
function withoutLink(context: MachineContext | undefined): MachineContext | undefined {
  // Callback actors (the listener, a client's socket) have no context at all.
  if (context === undefined || context === null || !('link' in context)) return context;
  const { link: _link, ...rest } = context;
  return rest;
}

/**
 * A snapshot as the page gets it: what XState's toJSON keeps of it (no
 * machine), less any link; worked out only when it is made into JSON.
 */
class ShownSnapshot {
  readonly #snapshot: unknown;

  constructor(snapshot: unknown) {
    this.#snapshot = snapshot;
  }

  toJSON(): unknown {
    const snapshot = this.#snapshot;
    if (typeof snapshot !== 'object' || snapshot === null) return snapshot;
    const json = (
      typeof (snapshot as { toJSON?: unknown }).toJSON === 'function'
        ? (snapshot as { toJSON(): object }).toJSON()
        : snapshot
    ) as { readonly context?: MachineContext };
    return { ...json, context: withoutLink(json.context) };
  }
}

/** `@xstate.actor`: an actor the page should draw, with its snapshot as it is now. */
export function actorCreated(actor: InspectedActor): StatelyEvent {
  return {
    type: '@xstate.actor',
    name: actor.name,
    definition: actor.definition,
    snapshot: new ShownSnapshot(actor.getSnapshot()),
    parentId: actor.parentId,
    sessionId: actor.sessionId,
    rootId: actor.rootId,
    id: null,
    createdAt: Date.now().toString(),
    _version: STATELY_VERSION,
  };
}

/** `@xstate.event`: an event an actor received, and who sent it when an actor did. */
export function eventReceived(
  actor: InspectedActor,
  event: EventObject,
  source: InspectedActor | undefined,
): StatelyEvent {
  return {
    type: '@xstate.event',
    event,
    sourceId: source?.sessionId,
    sessionId: actor.sessionId,
    rootId: actor.rootId,
    id: null,
    createdAt: Date.now().toString(),
    _version: STATELY_VERSION,
  };
}

/** `@xstate.snapshot`: the state an actor is in after `event`. */
export function snapshotTaken(
  actor: InspectedActor,
  event: EventObject,
  snapshot: unknown,
): StatelyEvent {
  return {
    type: '@xstate.snapshot',
    event,
    snapshot: new ShownSnapshot(snapshot),
    sessionId: actor.sessionId,
    rootId: actor.rootId,
    id: null,
    createdAt: Date.now().toString(),
    _version: STATELY_VERSION,
  };
}
