/**
 * Live inspection of the actors in the Stately (XState) inspector. A relay,
 * an HTTP page and a WebSocket server, carries inspection events from the
 * programs to the page a browser opens; the page embeds the Stately
 * inspector and posts the events to it. The first program to start runs the
 * relay; a second one on the same port joins it, so the page shows the
 * server and the client side by side.
 *
 * @statelyai/inspect 0.7.2 has both parts (`createInspectorServer`,
 * `createWebSocketInspector`), and neither is used, for four faults of theirs
 * (issue #16 items 2, 3 and 5):
 * - its relay listens on every interface (no host option) and takes a
 *   WebSocket from any page of any site (no Origin check): anyone on the
 *   network, or any page the user has open, could read every actor's
 *   context;
 * - its relay's `stop()` closes neither the browser's socket nor the
 *   programs', so a server that has stopped stays alive while a page is open;
 * - its WebSocket inspector, on a socket error, waits 5 s in a timer that
 *   `stop()` cannot cancel and then connects again, for ever: a program that
 *   has finished stays alive, and reconnects to a relay it no longer wants
 *   (`WebSocketAdapter.start`, src/webSocket.ts of statelyai/inspect 0.7.2;
 *   no issue about it could be found in statelyai/inspect's tracker when
 *   this was written, so it is reported in the README's "Watch it run");
 * - its relay answers every path with its page, so a program cannot tell it
 *   from any other web server on the port.
 * Nor is its converter, on a server, for its cost (actors/stately.ts, which
 * makes the same events).
 *
 * Only the actors handed an observer are inspected: the others carry no
 * `inspect` option, so XState sends them no inspection events at all.
 */
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import WebSocket, { WebSocketServer } from 'ws';
import type { Observer } from 'xstate';
import { describeError, MeteoError } from '../lib/errors.js';
import { type AnyInspectionEvent, actorPath, type NamedActor, type Program } from './observe.js';
import {
  actorCreated,
  definitionOf,
  eventReceived,
  type InspectedActor,
  type StatelyEvent,
  snapshotTaken,
  toJson,
} from './stately.js';

/** The relay's port unless told otherwise (the package's own default). */
export const DEFAULT_INSPECT_PORT = 8080;

/** The path at which a relay of ours says what it is, so a joining program can tell it from a stranger. */
export const RELAY_IDENTITY_PATH = '/meteo-actors-relay';
/** The WebSocket path on which a program that joined the relay sends its events; pages connect to `/`. */
const PROGRAMS_PATH = '/programs';
const RELAY_IDENTITY = 'meteo-actors inspector relay';

/** Events kept for a page that opens late, and for a relay not yet reached. */
const BUFFERED_EVENTS = 200;
/** How long a relay's identity may take to answer before the port is taken to be someone else's. */
const IDENTITY_TIMEOUT_MS = 2_000;
/** Wait before a program connects again to a relay that went away. */
const RECONNECT_MS = 1_000;

export interface InspectionOptions {
  /** The relay's port; 0 lets the system choose one (specs only: a second program could not find it). */
  readonly port: number;
  /** The address the relay listens on: the program's `--host`, loopback by default. */
  readonly host: string;
  /** Which program this is: the first part of each of its actors' names. */
  readonly program: Program;
}

export interface Inspection {
  /** The page to open in a browser. */
  readonly url: string;
  /** True when this process started the relay; false when it joined one another process runs. */
  readonly startedRelay: boolean;
  /**
   * An observer to pass as `inspect` to createActor for one ROOT actor: every
   * actor of that root's system appears in the Stately inspector as
   * `${program}/${name}` (the root) and `${program}/${name}/${childId}` (its
   * invoked/spawned children), so several systems in one program, and the
   * server and client together, never share a sessionId.
   */
  observer(name: string): Observer<AnyInspectionEvent>;
  /** Closes the relay (with every socket on it) or leaves it, and cancels any reconnect; resolves once all is closed. */
  stop(): Promise<void>;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** `host:port` as a URL writes it (an IPv6 address in brackets). */
function authority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The `host:port`s under which the relay's own page is loaded: loopback by
 * name and by address, the address it listens on, and, when it listens on
 * every interface, the machine's name and each of its addresses. A WebSocket whose Origin
 * is not one of these comes from another site's page (issue #16 item 5).
 */
export function relayAuthorities(host: string, port: number): ReadonlySet<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '::1']);
  if (isWildcard(host)) {
    hosts.add(hostname());
    for (const addresses of Object.values(networkInterfaces()))
      for (const address of addresses ?? []) hosts.add(address.address);
  } else {
    hosts.add(host);
  }
  return new Set([...hosts].map((known) => authority(known, port)));
}

/**
 * Where a client's relay listens, given the server address it polls (its
 * `--host`): that address when it is one of this machine's, where a server
 * started with the same `--host` runs its relay, so the two share one page;
 * loopback when the server is elsewhere, as a relay may only listen here.
 */
export function relayHostFor(serverHost: string): string {
  if (serverHost === 'localhost') return '127.0.0.1';
  const local = Object.values(networkInterfaces()).some((addresses) =>
    (addresses ?? []).some((address) => address.address === serverHost),
  );
  return local ? serverHost : '127.0.0.1';
}

/** Whether a WebSocket upgrade may join the relay: a program (no Origin), or the relay's own page. */
function isOwnOrigin(origin: string | undefined, authorities: ReadonlySet<string>): boolean {
  // A browser always sends Origin; a program (a meteo program's inspector) sends none.
  if (origin === undefined) return true;
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && authorities.has(url.host);
  } catch {
    return false;
  }
}

/**
 * The page a browser opens: the Stately inspector in a frame, and the
 * events from the relay's WebSocket posted to it. The same as
 * @statelyai/inspect's page, except that it connects back to the address it
 * was loaded from rather than to `localhost`.
 */
function relayPage(inspectorUrl: string): string {
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>meteo-actors · Stately inspector</title>
  <style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }</style>
</head>
<body>
  <iframe id="inspector" src="${inspectorUrl}"></iframe>
  <script>
    const frame = document.getElementById('inspector');
    const waiting = [];
    let connected = false;
    window.addEventListener('message', (event) => {
      if (event.data && event.data.type === '@statelyai.connected') {
        connected = true;
        for (const data of waiting.splice(0)) frame.contentWindow.postMessage(data, '*');
      }
    });
    const socket = new WebSocket('ws://' + location.host + '/');
    // Each message is a batch: the events of one turn of a program's event loop.
    socket.onmessage = (message) => {
      for (const data of JSON.parse(message.data)) {
        if (connected) frame.contentWindow.postMessage(data, '*');
        else waiting.push(data);
      }
    };
  </script>
</body>
</html>`;
}

/** An event on its way to the pages: this program's, as made, or another program's, as JSON text. */
type Relayed = StatelyEvent | string;

interface Relay {
  readonly port: number;
  /** Hands the relay a batch of events, to keep and to send to every page. */
  publish(events: readonly Relayed[]): void;
  stop(): Promise<void>;
}

/** A batch as one WebSocket message to a page: a JSON array. Made only when a page is open. */
function asArray(events: readonly Relayed[]): string {
  return `[${events.map((event) => (typeof event === 'string' ? event : toJson(event))).join(',')}]`;
}

/**
 * Starts the relay on `host:port`. Rejects with the listen error (its `code`
 * says EADDRINUSE when the port is taken).
 */
async function startRelay(host: string, port: number): Promise<Relay> {
  const http: Server = createHttpServer();
  const sockets = new WebSocketServer({ noServer: true });
  const buffered: Relayed[] = [];
  let authorities: ReadonlySet<string> = new Set();
  const page = relayPage('https://stately.ai/inspect');

  http.on('request', (req, res) => {
    // A page loaded under a name that is not the relay's (DNS rebinding) gets nothing.
    if (!authorities.has(req.headers.host ?? '')) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('misdirected request\n');
      return;
    }
    if (req.url === RELAY_IDENTITY_PATH) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${RELAY_IDENTITY}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  });
  const pages = new Set<WebSocket>();
  const publish = (events: readonly Relayed[]): void => {
    buffered.push(...events);
    if (buffered.length > BUFFERED_EVENTS) buffered.splice(0, buffered.length - BUFFERED_EVENTS);
    if (pages.size === 0) return;
    const message = asArray(events);
    for (const page of pages) if (page.readyState === WebSocket.OPEN) page.send(message);
  };

  http.on('upgrade', (req, socket, head) => {
    const origin = req.headers.origin;
    // A program has no Origin; a page may only be the relay's own, and may not pose as a program.
    const program = req.url === PROGRAMS_PATH && origin === undefined;
    if (!isOwnOrigin(origin, authorities)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (client) => {
      client.on('error', () => {});
      if (program) {
        // A batch from a program: its events, one JSON text per line.
        client.on('message', (data) => publish(String(data).split('\n')));
        return;
      }
      // A page listens only; a page that opens late sees the recent past.
      pages.add(client);
      client.once('close', () => pages.delete(client));
      if (buffered.length > 0) client.send(asArray(buffered));
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const bound = (http.address() as { port: number }).port;
  authorities = relayAuthorities(host, bound);
  return {
    port: bound,
    publish,
    async stop() {
      // Every socket, the browser's and the programs', is closed now: a
      // socket left open would keep this process alive (issue #16 item 2).
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

/** Whether the listener on `host:port` is a relay of ours: it answers its identity path with its identity. */
function isOurRelay(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // No keep-alive agent, and the socket destroyed once answered: a stranger
    // that keeps its side open must not hold this probe, or itself, open.
    const probe = httpRequest({
      host,
      port,
      path: RELAY_IDENTITY_PATH,
      agent: false,
      timeout: IDENTITY_TIMEOUT_MS,
    });
    const answer = (ours: boolean): void => {
      probe.destroy();
      resolve(ours);
    };
    probe.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 256) body += chunk;
      });
      res.on('end', () => answer(res.statusCode === 200 && body.trim() === RELAY_IDENTITY));
      res.on('error', () => answer(false));
    });
    probe.on('timeout', () => answer(false));
    probe.on('error', () => answer(false));
    probe.end();
  });
}

/**
 * Where a program's events go. Events are gathered for one turn of the
 * event loop and handed on as one batch, as a request moves a connection
 * through several states in one turn and each is an event: one hand-over,
 * and one socket write, per turn. An event may be given as a function, to
 * be made at the end of the turn: an actor that XState announces before it
 * has a snapshot has one by then.
 */
abstract class EventSink {
  #batch: (StatelyEvent | (() => StatelyEvent))[] = [];
  #flush: NodeJS.Immediate | undefined;
  protected stopped = false;

  send(event: StatelyEvent | (() => StatelyEvent)): void {
    if (this.stopped) return;
    this.#batch.push(event);
    this.#flush ??= setImmediate(() => this.#deliverBatch());
  }

  /** Hands on what this turn gathered, then lets go of where the events went. */
  stop(): Promise<void> {
    clearImmediate(this.#flush);
    this.#deliverBatch();
    this.stopped = true;
    return this.close();
  }

  #deliverBatch(): void {
    this.#flush = undefined;
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length > 0 && !this.stopped)
      this.deliver(batch.map((event) => (typeof event === 'function' ? event() : event)));
  }

  /** Hands on one turn's events. */
  protected abstract deliver(events: StatelyEvent[]): void;
  protected abstract close(): Promise<void>;
}

/** This program runs the relay: its events go to it as they are, made into JSON only for a page. */
class LocalSink extends EventSink {
  readonly #relay: Relay;

  constructor(relay: Relay) {
    super();
    this.#relay = relay;
  }

  protected deliver(events: StatelyEvent[]): void {
    this.#relay.publish(events);
  }

  protected close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * This program joined another's relay: its events go over one WebSocket,
 * the last ones kept while it is not open, and it connects again if the
 * relay goes away, in a timer that `stop()` cancels and that never keeps the
 * process alive.
 */
class RelayConnection extends EventSink {
  readonly #url: string;
  readonly #waiting: string[] = [];
  #socket: WebSocket | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(url: string) {
    super();
    this.#url = url;
  }

  start(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.on('open', () => {
      if (this.#waiting.length > 0) socket.send(this.#waiting.splice(0).join('\n'));
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.stopped || this.#socket !== socket) return;
      this.#retry = setTimeout(() => this.start(), RECONNECT_MS);
      this.#retry.unref();
    });
  }

  protected deliver(events: StatelyEvent[]): void {
    // JSON text never holds a raw line break, so a line break parts the events.
    const texts = events.map(toJson);
    if (this.#socket?.readyState === WebSocket.OPEN) {
      this.#socket.send(texts.join('\n'));
      return;
    }
    this.#waiting.push(...texts);
    if (this.#waiting.length > BUFFERED_EVENTS)
      this.#waiting.splice(0, this.#waiting.length - BUFFERED_EVENTS);
  }

  protected close(): Promise<void> {
    clearTimeout(this.#retry);
    const socket = this.#socket;
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.terminate();
    });
  }
}

/**
 * The observer for one root actor: each XState inspection event of its
 * system, as the Stately inspector's event, to `send` (an event given as a
 * function is to be made at the end of the turn).
 *
 * Every actor is named as actors/observe.ts names it; its `sessionId`, which
 * the page keys actors by, adds the process id, so two clients on one page
 * stay apart.
 *
 * The page draws an actor from its snapshots, and XState sends one per
 * event: the state at the end of the event's macrostep. A state left within
 * that macrostep (`replying`, when the socket takes the replies at once)
 * would never be drawn. So every microstep is sent as a snapshot, and the
 * end-of-event snapshot only when it is not the last microstep again.
 */
/**
 * Whether two snapshots show the same: the same object (XState's end of an
 * event is its last microstep's snapshot), or, as a compiled actor makes a
 * new one for each, the same state, context and status.
 */
function sameState(shown: unknown, next: unknown): boolean {
  if (shown === next) return true;
  if (typeof shown !== 'object' || shown === null || typeof next !== 'object' || next === null)
    return false;
  const a = shown as {
    readonly value?: unknown;
    readonly context?: unknown;
    readonly status?: unknown;
  };
  const b = next as typeof a;
  return a.value === b.value && a.context === b.context && a.status === b.status;
}

/** What the inspector reads of an actor, XState's or compiled. */
interface InspectableActor extends NamedActor {
  readonly _parent?: InspectableActor | undefined;
  /** Its machine, whose config the page draws; callback actors' logic has none. */
  readonly logic?: unknown;
  getSnapshot(): unknown;
}

export function rootObserver(
  program: Program,
  name: string,
  send: (event: StatelyEvent | (() => StatelyEvent)) => void,
): Observer<AnyInspectionEvent> {
  const actors = new WeakMap<InspectableActor, InspectedActor>();
  const lastSent = new WeakMap<InspectableActor, unknown>();
  const inspected = (ref: InspectableActor): InspectedActor => {
    let actor = actors.get(ref);
    if (actor === undefined) {
      const path = actorPath(program, name, ref);
      const parent = ref._parent === undefined ? undefined : inspected(ref._parent);
      const sessionId = `${path}@${process.pid}`;
      actor = {
        name: path,
        sessionId,
        rootId: parent?.rootId ?? sessionId,
        parentId: parent?.sessionId,
        definition: definitionOf(path, ref.logic),
        getSnapshot: () => ref.getSnapshot(),
      };
      actors.set(ref, actor);
    }
    return actor;
  };
  return {
    next(event) {
      const ref = event.actorRef as InspectableActor;
      switch (event.type) {
        case '@xstate.actor': {
          const actor = inspected(ref);
          send(() => actorCreated(actor));
          return;
        }
        case '@xstate.event': {
          // XState types the sender ActorRefLike; it is an actor of the system, id and all.
          const source = event.sourceRef
            ? inspected(event.sourceRef as unknown as InspectableActor)
            : undefined;
          send(eventReceived(inspected(ref), event.event, source));
          return;
        }
        case '@xstate.microstep':
          lastSent.set(ref, event.snapshot);
          send(snapshotTaken(inspected(ref), event.event, event.snapshot));
          return;
        case '@xstate.snapshot':
          if (sameState(lastSent.get(ref), event.snapshot)) return;
          send(snapshotTaken(inspected(ref), event.event, event.snapshot));
          return;
        default:
      }
    },
  };
}

/**
 * Starts the relay on `host:port`, or joins the one a program of ours already
 * runs there, and sends this program's inspected actors to it. Rejects with
 * ERR_ADDRESS_IN_USE when something else listens on the port, and with
 * ERR_LISTEN_FAILED when the relay cannot listen for another reason.
 */
export async function startInspection(options: InspectionOptions): Promise<Inspection> {
  const { host, program } = options;
  // A relay on every interface is reached, and joined, on loopback.
  const reachAt = isWildcard(host) ? '127.0.0.1' : host;
  let relay: Relay | undefined;
  try {
    relay = await startRelay(host, options.port);
  } catch (err) {
    const where = authority(host, options.port);
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      throw new MeteoError(
        'ERR_LISTEN_FAILED',
        `cannot start the inspector relay on ${where}: ${describeError(err)}`,
      );
    }
    if (!(await isOurRelay(reachAt, options.port))) {
      throw new MeteoError(
        'ERR_ADDRESS_IN_USE',
        `cannot start the inspector relay on ${where}: another program, not a meteo-actors relay, listens there; choose another --inspect-port`,
      );
    }
  }
  const port = relay?.port ?? options.port;
  let sink: EventSink;
  if (relay) {
    sink = new LocalSink(relay);
  } else {
    const joined = new RelayConnection(`ws://${authority(reachAt, port)}${PROGRAMS_PATH}`);
    joined.start();
    sink = joined;
  }
  return {
    url: `http://${authority(isWildcard(host) ? 'localhost' : host, port)}`,
    startedRelay: relay !== undefined,
    observer: (name) => rootObserver(program, name, (event) => sink.send(event)),
    async stop() {
      await sink.stop();
      await relay?.stop();
    },
  };
}
