/**
 * Live inspection of the actors in the XState (Stately) inspector, through
 * @statelyai/inspect's Node support: a relay server (HTTP page + WebSocket)
 * that a browser opens, and a WebSocket inspector that sends it every
 * inspected actor's events and snapshots.
 *
 * Only the actors handed `observer` are inspected: the others carry no
 * `inspect` option, so XState sends them no inspection events at all, and
 * the request path does no inspection work.
 */
import { connect } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import type { InspectionEvent, MachineContext, Observer } from 'xstate';

/** The relay's port unless told otherwise (the package's own default). */
export const DEFAULT_INSPECT_PORT = 8080;

export interface Inspection {
  /** The page to open in a browser. */
  readonly url: string;
  /** Give this as `inspect` to the actors to be watched. */
  readonly observer: Observer<InspectionEvent>;
  /** True when this process started the relay; false when it joined one another process runs. */
  readonly startedRelay: boolean;
  stop(): void;
}

/** Whether something already listens on this loopback port (a relay another meteo process started). */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ host: '127.0.0.1', port });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * A connection's context holds its link (a socket and functions): the
 * inspector shows everything else.
 */
function withoutLink(context: MachineContext): MachineContext {
  // Callback actors (the listener, a client's socket) have no context at all.
  if ((context as MachineContext | undefined) === undefined || !('link' in context)) return context;
  const { link: _link, ...rest } = context;
  return rest;
}

/**
 * The Stately inspector draws an actor from its snapshots, and XState sends
 * one per event: the state at the end of the event's macrostep. A state left
 * within that macrostep (`replying`, when the socket takes the replies at
 * once) would never be drawn. So every microstep is sent as a snapshot, and
 * the end-of-event snapshot only when it is not the last microstep again.
 */
function withMicrosteps(next: (event: InspectionEvent) => void): Observer<InspectionEvent> {
  const lastSent = new WeakMap<object, unknown>();
  return {
    next(event) {
      if (event.type === '@xstate.microstep') {
        lastSent.set(event.actorRef, event.snapshot);
        next({ ...event, type: '@xstate.snapshot' } as InspectionEvent);
        return;
      }
      if (event.type === '@xstate.snapshot' && lastSent.get(event.actorRef) === event.snapshot)
        return;
      next(event);
    },
  };
}

/**
 * Starts the relay on `port` (or joins the one already there, so the server
 * and the client can share one inspector page), and connects an inspector
 * to it.
 */
export async function startInspection(port: number = DEFAULT_INSPECT_PORT): Promise<Inspection> {
  const startedRelay = !(await isListening(port));
  // The page opens itself only when asked: a server may run where no browser does.
  const relay = startedRelay ? createInspectorServer({ port, autoOpen: false }) : undefined;
  const inspector = createWebSocketInspector({
    url: `ws://localhost:${port}`,
    sanitizeContext: withoutLink,
  });
  return {
    url: `http://localhost:${port}`,
    observer: withMicrosteps((event) => inspector.inspect.next?.(event)),
    startedRelay,
    stop() {
      inspector.stop();
      relay?.stop();
    },
  };
}
