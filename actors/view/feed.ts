/**
 * The live view's feed (issue #13): what the pages see of the running
 * server, sent over their WebSockets as coalesced deltas
 * (actors/view/protocol.ts says what is sent, and when).
 *
 * What it costs, by design:
 * - Nobody watching: nothing. No timer runs, no connection is looked at, no
 *   inspector is attached, no table is kept. A page joining starts it all; the
 *   last page leaving stops it all.
 * - Someone watching: every tick (FEED_TICK_MS), one pass over the open
 *   connections (the supervisor's registry) reading each one's snapshot,
 *   which a compiled connection keeps until its state changes; one delta
 *   serialized once and sent to every page that is up to date. Nothing is
 *   added to any connection's path, except for the few watched in detail
 *   (at most `detailLimit`, over all pages), which get an inspector.
 * - Bounded: one row per open connection, a log of the connections closed
 *   since the slowest page's last message (capped), a fixed number of
 *   reading samples, a fixed number of events per watched connection, a
 *   fixed number of pages. A page whose socket is not draining (its
 *   `bufferedAmount` is over the high-water mark) is sent nothing until it
 *   drains, and then one delta that says where everything is: the states in
 *   between are dropped, never queued.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { StateValue, Subscription } from 'xstate';
import { READINGS } from '../../lib/protocol.js';
import type { SensorRead } from '../../lib/sensors/batch.js';
import type { SensorResult } from '../../lib/sensors/result.js';
import { connectionMachine } from '../../machines/connectionMachine.js';
import type { Connection, ConnectionWatchEvent } from '../connection.js';
import { leafStates, machineCharts, StateIndex, statePath } from './charts.js';
import {
  type ConnectionRow,
  type DeltaMessage,
  type DetailEvent,
  type DetailMessage,
  FEED_TICK_MS,
  type FullMessage,
  type HelloMessage,
  type OpenedRow,
  type PoolFigures,
  type ReadingSample,
  type StationLabel,
} from './protocol.js';

/** What the feed reads of a connection: what the supervisor's registry holds. */
export type ViewedConnection = Pick<
  Connection,
  'number' | 'peer' | 'openedAt' | 'replies' | 'lastError' | 'client' | 'actor' | 'watch'
>;

/** What the feed reads of the sensor pool. */
export interface ViewedPool {
  readonly threads: readonly unknown[];
  readonly queueSize: number;
  readonly utilization: number;
  readonly readsAsked: number;
  read(reads: readonly SensorRead[], done: (results: readonly SensorResult[]) => void): void;
}

/** What the feed watches. */
export interface FeedSource {
  readonly server: string;
  /** The protocol port. */
  readonly port: number;
  readonly stations: readonly StationLabel[];
  /** The open connections, oldest first (the supervisor's registry). */
  connections(): Iterable<ViewedConnection>;
  acceptorState(): StateValue;
  readonly pool: ViewedPool;
}

export interface FeedOptions {
  readonly tickMs?: number;
  /** How often the stations' readings are sampled while a page is open (they change once a minute). */
  readonly sampleMs?: number;
  /** Samples kept: the plot's span is this many times `sampleMs`. */
  readonly historyLength?: number;
  /** Connections watched in detail at once, over all pages. */
  readonly detailLimit?: number;
  /** Bytes a page's socket may hold unsent before the page is skipped. */
  readonly highWaterBytes?: number;
  /** Pages served at once; one more is refused. */
  readonly maxPages?: number;
}

export const DEFAULT_SAMPLE_MS = 10_000;
export const DEFAULT_HISTORY_LENGTH = 180;
export const DEFAULT_DETAIL_LIMIT = 16;
export const DEFAULT_HIGH_WATER_BYTES = 1 << 20;
export const DEFAULT_MAX_PAGES = 32;
/** Events kept per watched connection: what a page that starts watching sees of the past. */
const DETAIL_EVENTS = 50;
/** Connections closed since the slowest page's last message, kept to tell it; past this it gets a full picture. */
const MAX_CLOSED_LOG = 100_000;
/** How often a page must answer a ping, or be dropped (a tab that vanished without closing). */
const PING_MS = 15_000;
/** A note on an event is cut at this length. */
const NOTE_CHARS = 80;

interface Row {
  readonly n: number;
  readonly connection: ViewedConnection;
  readonly peer: string;
  readonly openedAt: number;
  value: StateValue;
  state: number;
  replies: number;
  error: string | null;
  client: string | null;
  /** The tick it last changed at, the one it opened at, and the one its client became known at. */
  gen: number;
  readonly openedGen: number;
  clientGen: number;
  /** The tick it was last seen open at. */
  seen: number;
}

interface Page {
  readonly socket: WebSocket;
  /** The tick of the last picture it was sent; -1 before its first. */
  gen: number;
  sampleSeq: number;
  watching: number | null;
  /** The last detail event it was sent of the connection it watches. */
  detailSeq: number;
  alive: boolean;
}

interface Watch {
  readonly n: number;
  subscription: Subscription;
  readonly pages: Set<Page>;
  readonly events: DetailEvent[];
  seq: number;
  pending: { t: number; event: string; note: string; states: number[] } | null;
  state: number;
  closed: boolean;
  /** Something to tell its pages at the next tick. */
  dirty: boolean;
}

function openedRow(row: Row): OpenedRow {
  return row.client === null
    ? [row.n, row.state, row.replies, row.error, row.peer, row.openedAt]
    : [row.n, row.state, row.replies, row.error, row.peer, row.openedAt, row.client];
}

/** A row changed since tick `since`: with its client only if that became known since then. */
function changedRow(row: Row, since: number): ConnectionRow {
  return row.client === null || row.clientGen <= since
    ? [row.n, row.state, row.replies, row.error]
    : [row.n, row.state, row.replies, row.error, row.client];
}

/** What an event carried, in a few words, ids and names only. */
export function describeEvent(event: { readonly type: string } & Record<string, unknown>): string {
  let note = '';
  switch (event.type) {
    case 'RECEIVED': {
      const messages = Array.isArray(event['messages']) ? event['messages'] : [];
      const parts = messages.slice(0, 3).map((message: Record<string, unknown>) => {
        if (message['type'] === 'read') return `read #${message['id']} ${message['reading']}`;
        if (message['type'] === 'rejected') return `rejected ${message['code'] ?? ''}`.trim();
        return String(message['type']);
      });
      if (messages.length > 3) parts.push(`+${messages.length - 3} more`);
      note = parts.join(', ');
      break;
    }
    case 'COMPUTED': {
      const results = Array.isArray(event['results']) ? event['results'] : [];
      note = `${results.length} result${results.length === 1 ? '' : 's'}`;
      break;
    }
    case 'WRITTEN':
      note = Number(event['bufferedBytes']) > 0 ? `${event['bufferedBytes']} B waiting` : 'sent';
      break;
    case 'BAD_STREAM':
      note = String(event['code']);
      break;
  }
  return note.length > NOTE_CHARS ? `${note.slice(0, NOTE_CHARS - 1)}…` : note;
}

export class LiveFeed {
  readonly #source: FeedSource;
  readonly #tickMs: number;
  readonly #sampleMs: number;
  readonly #historyLength: number;
  readonly #detailLimit: number;
  readonly #highWater: number;
  readonly #maxPages: number;
  readonly #states: readonly string[];
  readonly #index: StateIndex;
  readonly #startedAt = Date.now();
  readonly #pages = new Set<Page>();
  readonly #rows = new Map<number, Row>();
  /** Connections closed, with the tick they were seen gone at, oldest first. */
  #closedLog: [n: number, gen: number][] = [];
  /** A page whose last picture is older than this tick may have missed closes: it gets a full one. */
  #closedFloor = 0;
  readonly #watches = new Map<number, Watch>();
  readonly #history: ReadingSample[] = [];
  #sampleSeq = 0;
  #sampling = false;
  #gen = 0;
  #counts: number[];
  #pool: PoolFigures = { threads: 0, queued: 0, utilization: 0, readsPerSecond: 0 };
  #acceptor = '';
  #opened: Row[] = [];
  #changed: Row[] = [];
  #closed: number[] = [];
  #lastReads = 0;
  #lastTickAt = 0;
  #lastPingAt = 0;
  #tickTimer: NodeJS.Timeout | undefined;
  #sampleTimer: NodeJS.Timeout | undefined;
  #hello: string | undefined;
  #stopped = false;

  constructor(source: FeedSource, options: FeedOptions = {}) {
    this.#source = source;
    this.#tickMs = options.tickMs ?? FEED_TICK_MS;
    this.#sampleMs = options.sampleMs ?? DEFAULT_SAMPLE_MS;
    this.#historyLength = options.historyLength ?? DEFAULT_HISTORY_LENGTH;
    this.#detailLimit = options.detailLimit ?? DEFAULT_DETAIL_LIMIT;
    this.#highWater = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
    this.#maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    this.#states = leafStates(connectionMachine);
    this.#index = new StateIndex(this.#states);
    this.#counts = this.#states.map(() => 0);
  }

  /** Pages attached now. */
  get pages(): number {
    return this.#pages.size;
  }

  /** Connections watched in detail now. */
  get watched(): number {
    return this.#watches.size;
  }

  /** Whether its timers run (a page is attached). */
  get running(): boolean {
    return this.#tickTimer !== undefined;
  }

  /** Whether one more page may join. */
  get full(): boolean {
    return this.#pages.size >= this.#maxPages;
  }

  /** A page's WebSocket, open: it gets the picture now, and deltas from the next tick. */
  attach(socket: WebSocket): void {
    if (this.#stopped || this.full) {
      socket.close(1013, 'try again later');
      return;
    }
    const page: Page = {
      socket,
      gen: -1,
      sampleSeq: 0,
      watching: null,
      detailSeq: 0,
      alive: true,
    };
    this.#pages.add(page);
    socket.on('error', () => {});
    socket.on('close', () => this.#detach(page));
    socket.on('pong', () => {
      page.alive = true;
    });
    socket.on('message', (data, isBinary) => this.#heard(page, data, isBinary));
    if (!this.running) this.#start();
    this.#send(page, this.#helloText());
    this.#sendFull(page);
  }

  /** Closes every page's socket and stops; later pages are refused. */
  stop(): void {
    this.#stopped = true;
    for (const page of this.#pages) page.socket.terminate();
    this.#pages.clear();
    this.#halt();
  }

  /** What does not change while the server runs, serialized once. */
  #helloText(): string {
    this.#hello ??= JSON.stringify({
      type: 'hello',
      server: this.#source.server,
      startedAt: this.#startedAt,
      port: this.#source.port,
      stations: this.#source.stations,
      readings: READINGS,
      states: this.#states,
      charts: machineCharts(),
      tickMs: this.#tickMs,
      sampleMs: this.#sampleMs,
      historyLength: this.#historyLength,
      detailLimit: this.#detailLimit,
    } satisfies HelloMessage);
    return this.#hello;
  }

  #start(): void {
    this.#lastReads = this.#source.pool.readsAsked;
    this.#lastTickAt = performance.now();
    this.#lastPingAt = this.#lastTickAt;
    this.#scan();
    this.#tickTimer = setInterval(() => this.#tick(), this.#tickMs);
    this.#tickTimer.unref();
    this.#sample();
    this.#sampleTimer = setInterval(() => this.#sample(), this.#sampleMs);
    this.#sampleTimer.unref();
  }

  /** Nobody watches: every timer, inspector and row goes. The readings kept stay, a few KiB. */
  #halt(): void {
    clearInterval(this.#tickTimer);
    clearInterval(this.#sampleTimer);
    this.#tickTimer = undefined;
    this.#sampleTimer = undefined;
    for (const watch of this.#watches.values()) watch.subscription.unsubscribe();
    this.#watches.clear();
    this.#rows.clear();
    this.#closedLog = [];
    this.#closedFloor = this.#gen;
    this.#opened = [];
    this.#changed = [];
    this.#closed = [];
  }

  #detach(page: Page): void {
    if (!this.#pages.delete(page)) return;
    this.#release(page);
    if (this.#pages.size === 0) this.#halt();
  }

  #send(page: Page, text: string): void {
    if (page.socket.readyState === WebSocket.OPEN) page.socket.send(text);
  }

  #sendFull(page: Page): void {
    const full: FullMessage = {
      type: 'full',
      ...this.#figures(),
      rows: [...this.#rows.values()].map(openedRow),
      samples: this.#history,
    };
    this.#send(page, JSON.stringify(full));
    page.gen = this.#gen;
    page.sampleSeq = this.#sampleSeq;
  }

  #figures(): Omit<FullMessage, 'type' | 'rows' | 'samples'> {
    return {
      gen: this.#gen,
      now: Date.now(),
      acceptor: this.#acceptor,
      open: this.#rows.size,
      counts: this.#counts,
      pool: this.#pool,
    };
  }

  /** One pass over the open connections: rows made, changed or closed, counts per state. */
  #scan(): void {
    const gen = ++this.#gen;
    const counts = this.#states.map(() => 0);
    const opened: Row[] = [];
    const changed: Row[] = [];
    let seen = 0;
    for (const connection of this.#source.connections()) {
      seen++;
      const snapshot = connection.actor.getSnapshot();
      const value = snapshot.value;
      let row = this.#rows.get(connection.number);
      if (row === undefined) {
        row = {
          n: connection.number,
          connection,
          peer: connection.peer,
          openedAt: Math.round(performance.timeOrigin + connection.openedAt),
          value,
          state: this.#index.of(value),
          replies: connection.replies,
          error: connection.lastError,
          client: connection.client,
          gen,
          openedGen: gen,
          clientGen: gen,
          seen: gen,
        };
        this.#rows.set(row.n, row);
        opened.push(row);
      } else {
        row.seen = gen;
        if (
          value !== row.value ||
          connection.replies !== row.replies ||
          connection.lastError !== row.error ||
          connection.client !== row.client
        ) {
          row.value = value;
          row.state = this.#index.of(value);
          row.replies = connection.replies;
          row.error = connection.lastError;
          if (connection.client !== row.client) {
            row.client = connection.client;
            row.clientGen = gen;
          }
          row.gen = gen;
          changed.push(row);
        }
      }
      if (row.state >= 0) counts[row.state] = (counts[row.state] as number) + 1;
    }
    const closed: number[] = [];
    if (this.#rows.size > seen) {
      for (const row of this.#rows.values()) {
        if (row.seen === gen) continue;
        this.#rows.delete(row.n);
        closed.push(row.n);
        this.#closedLog.push([row.n, gen]);
        const watch = this.#watches.get(row.n);
        if (watch) {
          watch.closed = true;
          watch.dirty = true;
        }
      }
    }
    this.#opened = opened;
    this.#changed = changed;
    this.#closed = closed;
    this.#counts = counts;
    this.#acceptor = statePath(this.#source.acceptorState());
    const now = performance.now();
    const pool = this.#source.pool;
    const reads = pool.readsAsked;
    const seconds = (now - this.#lastTickAt) / 1000;
    this.#pool = {
      threads: pool.threads.length,
      queued: pool.queueSize,
      utilization: Math.round(pool.utilization * 1000) / 1000,
      readsPerSecond: seconds > 0 ? Math.round((reads - this.#lastReads) / seconds) : 0,
    };
    this.#lastReads = reads;
    this.#lastTickAt = now;
  }

  #tick(): void {
    const before = this.#gen;
    this.#scan();
    const texts = new Map<string, string>();
    for (const page of this.#pages) {
      // A page that is not draining its socket is skipped: what changes
      // meanwhile reaches it as one delta once it drains.
      if (page.socket.bufferedAmount > this.#highWater) continue;
      if (page.gen < this.#closedFloor) {
        this.#sendFull(page);
        continue;
      }
      // Pages told the same before are told the same now: serialized once.
      const key = `${page.gen}:${page.sampleSeq}`;
      let text = texts.get(key);
      if (text === undefined) {
        text = JSON.stringify(this.#delta(page.gen, page.gen === before, page.sampleSeq));
        texts.set(key, text);
      }
      this.#send(page, text);
      page.gen = this.#gen;
      page.sampleSeq = this.#sampleSeq;
    }
    this.#tellWatchers();
    this.#trimClosedLog();
    this.#ping();
  }

  /** What changed since tick `since`: this tick's lists when it was the last one, else a pass over the rows. */
  #delta(since: number, lastTick: boolean, sampleSeq: number): DeltaMessage {
    let opened: OpenedRow[];
    let changed: ConnectionRow[];
    if (lastTick) {
      opened = this.#opened.map(openedRow);
      changed = this.#changed.map((row) => changedRow(row, since));
    } else {
      opened = [];
      changed = [];
      for (const row of this.#rows.values()) {
        if (row.openedGen > since) opened.push(openedRow(row));
        else if (row.gen > since) changed.push(changedRow(row, since));
      }
    }
    const closed: number[] = [];
    for (const [n, gen] of this.#closedLog) if (gen > since) closed.push(n);
    return {
      type: 'delta',
      ...this.#figures(),
      opened,
      changed,
      closed,
      samples: this.#history.filter((sample) => sample.seq > sampleSeq),
    };
  }

  /** Forgets the closes every page has been told of, and, past the cap, the oldest ones. */
  #trimClosedLog(): void {
    let oldest = this.#gen;
    for (const page of this.#pages) oldest = Math.min(oldest, page.gen);
    let drop = 0;
    while (
      drop < this.#closedLog.length &&
      (this.#closedLog[drop] as [number, number])[1] <= oldest
    )
      drop++;
    const over = this.#closedLog.length - drop - MAX_CLOSED_LOG;
    if (over > 0) {
      drop += over;
      this.#closedFloor = (this.#closedLog[drop - 1] as [number, number])[1];
    }
    if (drop > 0) this.#closedLog = this.#closedLog.slice(drop);
  }

  /** Pings the pages now and then; one that did not answer the last ping has gone and is dropped. */
  #ping(): void {
    const now = performance.now();
    if (now - this.#lastPingAt < PING_MS) return;
    this.#lastPingAt = now;
    for (const page of this.#pages) {
      if (!page.alive) {
        page.socket.terminate();
        continue;
      }
      page.alive = false;
      page.socket.ping();
    }
  }

  /** Samples every station's four readings through the pool, as a client's reads are made. */
  #sample(): void {
    if (this.#sampling) return;
    const stations = this.#source.stations.length;
    const reads: SensorRead[] = [];
    for (let station = 0; station < stations; station++) {
      for (const reading of READINGS) reads.push({ reading, station });
    }
    this.#sampling = true;
    const t = Date.now();
    this.#source.pool.read(reads, (results) => {
      this.#sampling = false;
      const values: (number | null)[][] = [];
      for (let station = 0; station < stations; station++) {
        values.push(
          READINGS.map((_, r) => {
            const result = results[station * READINGS.length + r];
            return result !== undefined && 'value' in result ? result.value : null;
          }),
        );
      }
      this.#history.push({ seq: ++this.#sampleSeq, t, values });
      if (this.#history.length > this.#historyLength) this.#history.shift();
    });
  }

  // ------------------------------------------------------------ detail

  #heard(page: Page, data: WebSocket.RawData, isBinary: boolean): void {
    let n: number | null;
    try {
      if (isBinary) throw new Error('binary');
      const message = JSON.parse(String(data)) as { type?: unknown; n?: unknown };
      if (message.type !== 'watch') throw new Error('type');
      if (message.n !== null && !(Number.isSafeInteger(message.n) && (message.n as number) > 0))
        throw new Error('n');
      n = message.n as number | null;
    } catch {
      // The page says nothing else; anything else is not our page.
      page.socket.close(1008, 'the page may only say which connection it watches');
      return;
    }
    this.#watch(page, n);
  }

  #release(page: Page): void {
    const n = page.watching;
    page.watching = null;
    if (n === null) return;
    const watch = this.#watches.get(n);
    if (watch === undefined) return;
    watch.pages.delete(page);
    if (watch.pages.size === 0) {
      watch.subscription.unsubscribe();
      this.#watches.delete(n);
    }
  }

  #watch(page: Page, n: number | null): void {
    if (n !== null && page.watching === n && this.#watches.has(n)) return;
    this.#release(page);
    if (n === null) return;
    let watch = this.#watches.get(n);
    if (watch === undefined) {
      const row = this.#rows.get(n);
      if (row === undefined) {
        this.#send(page, JSON.stringify({ type: 'detail-refused', n, reason: 'closed' }));
        return;
      }
      if (this.#watches.size >= this.#detailLimit) {
        this.#send(page, JSON.stringify({ type: 'detail-refused', n, reason: 'busy' }));
        return;
      }
      watch = this.#startWatch(row);
    }
    watch.pages.add(page);
    page.watching = n;
    page.detailSeq = 0;
    this.#sendDetail(page, watch);
  }

  #startWatch(row: Row): Watch {
    const watch: Watch = {
      n: row.n,
      subscription: { unsubscribe: () => {} },
      pages: new Set(),
      events: [],
      seq: 0,
      pending: null,
      state: row.state,
      closed: false,
      dirty: false,
    };
    watch.subscription = row.connection.watch({
      next: (inspection) => this.#inspected(watch, inspection),
    });
    this.#watches.set(row.n, watch);
    return watch;
  }

  /** One inspection event of a watched connection: an event starts an entry, its steps add states, its snapshot ends it. */
  #inspected(watch: Watch, inspection: ConnectionWatchEvent): void {
    switch (inspection.type) {
      case '@xstate.event': {
        const event = inspection.event as { type: string } & Record<string, unknown>;
        watch.pending = {
          t: Date.now(),
          event: event.type,
          note: describeEvent(event),
          states: [],
        };
        break;
      }
      case '@xstate.microstep': {
        const state = this.#index.of(
          (inspection as { snapshot: { value: StateValue } }).snapshot.value,
        );
        const pending = watch.pending;
        if (pending && pending.states[pending.states.length - 1] !== state)
          pending.states.push(state);
        break;
      }
      case '@xstate.snapshot': {
        const state = this.#index.of(
          (inspection as { snapshot: { value: StateValue } }).snapshot.value,
        );
        const pending = watch.pending;
        watch.pending = null;
        watch.state = state;
        watch.dirty = true;
        if (pending === null) break;
        if (pending.states.length === 0) pending.states.push(state);
        watch.events.push({ seq: ++watch.seq, ...pending });
        if (watch.events.length > DETAIL_EVENTS) watch.events.shift();
        break;
      }
    }
  }

  #sendDetail(page: Page, watch: Watch): void {
    const events = watch.events.filter((event) => event.seq > page.detailSeq);
    const detail: DetailMessage = {
      type: 'detail',
      n: watch.n,
      state: watch.state,
      closed: watch.closed,
      events,
    };
    this.#send(page, JSON.stringify(detail));
    page.detailSeq = watch.seq;
  }

  #tellWatchers(): void {
    for (const watch of this.#watches.values()) {
      if (!watch.dirty) continue;
      watch.dirty = false;
      for (const page of watch.pages) {
        if (page.socket.bufferedAmount <= this.#highWater) this.#sendDetail(page, watch);
      }
      if (watch.closed) {
        watch.subscription.unsubscribe();
        this.#watches.delete(watch.n);
      }
    }
  }
}
