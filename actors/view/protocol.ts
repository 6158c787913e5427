/**
 * What the live view's WebSocket carries (issue #13): JSON messages from the
 * server to the page, and the one message a page may send. Shared by the
 * server (actors/view/feed.ts) and the page (actors/view/page/main.ts), so
 * it holds types and constants only, nothing of Node or of the DOM.
 *
 * A page that joins gets `hello` (what does not change while the server
 * runs: the charts, the stations, the names of the states) and then `full`
 * (the whole picture now). After that, every tick (FEED_TICK_MS) it gets a
 * `delta`: the connections that opened, changed or closed since the last
 * message it was sent, the counts per state, the pool, the new readings.
 * States travel as indexes into `hello.states`, connections as their
 * numbers. A page that cannot keep up (its socket's buffer is full) misses
 * ticks; its next delta says where everything is then, and the states in
 * between are dropped.
 *
 * The page can change nothing on the server: the only thing it says is
 * which connection it shows in detail (`watch`), and that only decides what
 * is sent to it.
 */

/** The path of the WebSocket, on the server's HTTP port. */
export const FEED_PATH = '/live';

/** How often the feed sends its deltas: coalesced, between 100 and 250 ms (issue #13). */
export const FEED_TICK_MS = 200;

/** A machine drawn on the page: its Mermaid text, and the Mermaid id of each state by path. */
export interface ChartInfo {
  readonly name: 'acceptor' | 'connection' | 'client';
  readonly title: string;
  /** Where it is defined, relative to the repository. */
  readonly source: string;
  readonly mermaid: string;
  /** Mermaid state id by state path (`serving.computing`). */
  readonly ids: Readonly<Record<string, string>>;
}

export interface StationLabel {
  readonly id: string;
  readonly name: string;
}

export interface PoolFigures {
  readonly threads: number;
  /** Tasks waiting for a thread. */
  readonly queued: number;
  /** Share of the threads' time busy since the pool started, 0 to 1. */
  readonly utilization: number;
  /** Sensor reads per second over the last tick. */
  readonly readsPerSecond: number;
}

/**
 * A connection's figures: number, state (an index into `hello.states`),
 * replies sent, the last error code it was sent (or its close reason); and
 * the client it was welcomed as (issue #14), only in the first message
 * after that became known: it is known once and never changes, so it is
 * not sent again with every change of the others.
 */
export type ConnectionRow = readonly [
  n: number,
  state: number,
  replies: number,
  error: string | null,
  client?: string,
];

/**
 * A connection the page has not seen yet: its figures, its peer, when it
 * opened (ms since the epoch), and its client when already known.
 */
export type OpenedRow = readonly [
  n: number,
  state: number,
  replies: number,
  error: string | null,
  peer: string,
  openedAt: number,
  client?: string,
];

/** One sampling of every station's readings: `values[station][reading]`, null where it had none. */
export interface ReadingSample {
  readonly seq: number;
  /** When the server sampled, ms since the epoch. */
  readonly t: number;
  readonly values: readonly (readonly (number | null)[])[];
}

export interface HelloMessage {
  readonly type: 'hello';
  /** `meteo-actors/0.1.0`. */
  readonly server: string;
  /** When the server started, ms since the epoch: a page that sees it change knows the server restarted. */
  readonly startedAt: number;
  /** The protocol port of the server. */
  readonly port: number;
  readonly stations: readonly StationLabel[];
  readonly readings: readonly string[];
  /** The connection machine's states, leaves only, by path: what a row's state indexes. */
  readonly states: readonly string[];
  readonly charts: readonly ChartInfo[];
  readonly tickMs: number;
  readonly sampleMs: number;
  /** How many samples the server keeps: the plot's span is this many times sampleMs. */
  readonly historyLength: number;
  /** Connections the server shows in detail at once, over all pages. */
  readonly detailLimit: number;
}

interface Figures {
  readonly gen: number;
  /** The server's clock, ms since the epoch, when this was taken. */
  readonly now: number;
  /** The acceptor's state, by path (`listening`). */
  readonly acceptor: string;
  readonly open: number;
  /** Open connections in each state of `hello.states`. */
  readonly counts: readonly number[];
  readonly pool: PoolFigures;
}

export interface FullMessage extends Figures {
  readonly type: 'full';
  /** Every open connection, oldest first. */
  readonly rows: readonly OpenedRow[];
  /** The readings kept, oldest first. */
  readonly samples: readonly ReadingSample[];
}

export interface DeltaMessage extends Figures {
  readonly type: 'delta';
  readonly opened: readonly OpenedRow[];
  readonly changed: readonly ConnectionRow[];
  readonly closed: readonly number[];
  readonly samples: readonly ReadingSample[];
}

/** One event a watched connection took, and the states it went through (indexes into `hello.states`). */
export interface DetailEvent {
  readonly seq: number;
  /** When, ms since the epoch. */
  readonly t: number;
  readonly event: string;
  /** What it carried, in a few words: `read #3 pressure`. */
  readonly note: string;
  readonly states: readonly number[];
}

export interface DetailMessage {
  readonly type: 'detail';
  readonly n: number;
  readonly state: number;
  readonly closed: boolean;
  /** The events since the last detail message sent to this page; the recent past when it starts watching. */
  readonly events: readonly DetailEvent[];
}

export interface DetailRefusedMessage {
  readonly type: 'detail-refused';
  readonly n: number;
  /** `closed`: no such connection is open; `busy`: as many connections are watched as the server allows. */
  readonly reason: 'closed' | 'busy';
}

export type FeedMessage =
  | HelloMessage
  | FullMessage
  | DeltaMessage
  | DetailMessage
  | DetailRefusedMessage;

/** What a page says: show this connection in detail, or none (null). */
export interface WatchMessage {
  readonly type: 'watch';
  readonly n: number | null;
}

/**
 * What the page says of itself, as `window.meteoView`, for the browser specs
 * and the screenshot script (actors/view/page/main.ts keeps it).
 */
export interface ViewFigures {
  connected: boolean;
  /** performance.now() of each update applied, the last 50. */
  updates: number[];
  hello: HelloMessage | null;
  /** Connections the page shows. */
  open: number;
  /** Reading samples received. */
  samples: number;
  /** Values of the newest sample plotted (null where a station had none). */
  plotted: (number | null)[];
  acceptor: string;
  detail: { n: number; state: string; events: number; closed: boolean } | null;
  /** Content-Security-Policy violations: anything the page tried to load from elsewhere. */
  violations: string[];
}
