/**
 * The load generator of the benchmark (issue #4), run as its own process so
 * that its cost is not charged to the server. A raw protocol client: frames
 * are encoded once, up front, and replies are checked with a byte scanner
 * (bench/replyScanner.ts), so the generator stays cheaper than either server.
 *
 * Two modes:
 * - `throughput`: C connections, each keeping K requests in flight (send K,
 *   then one more per reply, the new requests of one read in one write), for
 *   a warm-up and then a measured window. Every reply is checked: type
 *   `reading`, the id of the oldest request in flight (docs/PROTOCOL.md §5.3).
 * - `connections`: opens C connections, W at a time, each with its
 *   handshake, timing every block of C/10; then one full poll (the four
 *   readings) on every connection.
 *
 * The server's CPU time and RSS are read from /proc at the window's edges
 * (bench/procStats.ts). Prints one JSON object on stdout; exits 0 when the
 * run finished (errors are in the object), 1 when it could not run.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { type OptionTable, type ResolvedOptions, resolveOptions } from '../lib/config.js';
import { describeError } from '../lib/errors.js';
import { FrameDecoder, MAX_REPLY_FRAME_BYTES } from '../lib/framing.js';
import { decodeServerMessage, encodeMessage, PROTOCOL_VERSION, READINGS } from '../lib/protocol.js';
import { Histogram, type HistogramSummary } from './histogram.js';
import { LivePage } from './livePage.js';
import { cpuTicks, machineBusyTicks, mainThreadCpuTicks, rssBytes } from './procStats.js';
import {
  NO_ID,
  REPLY_ERROR,
  REPLY_MALFORMED,
  REPLY_READING,
  REPLY_WELCOME,
  ReplyScanner,
} from './replyScanner.js';
import {
  type ConnectionsResult,
  newErrorCounts,
  type OpenBlock,
  type ThroughputResult,
  totalErrors,
} from './results.js';

const LOADGEN_OPTIONS = Object.freeze({
  host: { kind: 'string', flag: 'host', default: '127.0.0.1', description: 'server address' },
  port: { kind: 'integer', flag: 'port', min: 1, max: 65_535, default: 7210, description: 'port' },
  mode: {
    kind: 'string',
    flag: 'mode',
    default: 'throughput',
    description: '"throughput" (C×K for a window) or "connections" (open C, then one poll each)',
  },
  connections: {
    kind: 'integer',
    flag: 'connections',
    min: 1,
    max: 19_000,
    default: 50,
    description: 'connections (C)',
  },
  depth: {
    kind: 'integer',
    flag: 'depth',
    min: 1,
    max: 1024,
    default: 1,
    description: 'requests in flight per connection (K)',
  },
  warmupMs: {
    kind: 'integer',
    flag: 'warmup-ms',
    min: 0,
    max: 600_000,
    default: 1_000,
    description: 'warm-up before the measured window, ms',
  },
  durationMs: {
    kind: 'integer',
    flag: 'duration-ms',
    min: 1,
    max: 3_600_000,
    default: 3_000,
    description: 'measured window, ms',
  },
  openWindow: {
    kind: 'integer',
    flag: 'open-window',
    min: 1,
    max: 10_000,
    default: 200,
    description: 'connections being opened at once (connect + handshake)',
  },
  drainMs: {
    kind: 'integer',
    flag: 'drain-ms',
    min: 0,
    max: 600_000,
    default: 10_000,
    description: 'after the window, how long the requests in flight get to be answered, ms',
  },
  serverPid: {
    kind: 'integer',
    flag: 'server-pid',
    min: 0,
    max: 2 ** 22,
    default: 0,
    description: 'pid of the server, whose CPU time and RSS are read from /proc (0: none)',
  },
  pagePort: {
    kind: 'integer',
    flag: 'page-port',
    min: 0,
    max: 65_535,
    default: 0,
    description:
      "the server's HTTP port: attach a stand-in for a live page to its feed while the load runs (0: none)",
  },
  tls: {
    kind: 'boolean',
    flag: 'tls',
    default: false,
    description: 'connect with TLS (issue #14), checking the certificate against --ca',
  },
  ca: {
    kind: 'string',
    flag: 'ca',
    default: '',
    description:
      "with --tls: the PEM file of the CA (or the self-signed certificate) the server's certificate must come from",
  },
  tlsResume: {
    kind: 'boolean',
    flag: 'tls-resume',
    default: false,
    description:
      'with --tls: resume the last TLS session a connection was given, rather than a full handshake each time',
  },
  clockTicks: {
    kind: 'integer',
    flag: 'clock-ticks',
    min: 1,
    max: 1_000_000,
    default: 100,
    description: 'clock ticks per second of /proc CPU times (getconf CLK_TCK)',
  },
} as const satisfies OptionTable);

/** Request frames, encoded once; request n of a connection is frame n mod RING with id n mod RING. */
const RING = 4096;
const REQUESTS: readonly Buffer[] = Array.from({ length: RING }, (_, id) =>
  Buffer.from(
    encodeMessage({ type: 'read', id, reading: READINGS[id % READINGS.length] ?? 'pressure' }),
  ),
);
const HELLO = Buffer.from(encodeMessage({ type: 'hello', version: PROTOCOL_VERSION }));
/** How long a connection may take to connect and be welcomed. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long the poll of the connections mode may take, all connections together. */
const POLL_TIMEOUT_MS = 60_000;
/** After the warm-up connections close, time for the server to let them go before RSS is read. */
const CONNECTIONS_SETTLE_MS = 500;
/**
 * How connections reach the server: plain TCP, or TLS checked against `ca`,
 * resuming the last session when `resume` (set in main, once).
 */
const transport: { tls: boolean; ca?: Buffer; resume: boolean; session?: Buffer } = {
  tls: false,
  resume: false,
};

/** A socket to the server, as `transport` says. */
function openSocket(host: string, port: number): Socket {
  if (!transport.tls) return connect({ host, port, noDelay: true });
  const socket: TLSSocket = connectTls({
    host,
    port,
    ...(transport.ca ? { ca: transport.ca } : {}),
    ...(transport.resume && transport.session ? { session: transport.session } : {}),
  });
  // TLS 1.3 hands its session tickets over after the handshake.
  if (transport.resume) socket.on('session', (session: Buffer) => (transport.session = session));
  return socket.setNoDelay(true);
}

/** Error descriptions kept for the report. */
const MAX_SAMPLES = 5;

const errors = newErrorCounts();
const scanner = new ReplyScanner();

function sample(text: string): void {
  if (errors.samples.length < MAX_SAMPLES) errors.samples.push(text);
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** What the requests of the measured window add up to. */
const measured = {
  measuring: false,
  completed: 0,
  latencyNs: new Histogram(),
};

/**
 * One connection. Request n carries id n mod RING; replies come in request
 * order, so the reply to request n must carry id n mod RING too.
 */
class Connection {
  readonly socket: Socket;
  readonly #decoder = new FrameDecoder(MAX_REPLY_FRAME_BYTES);
  readonly #sentAt: Float64Array;
  #sent = 0;
  #received = 0;
  #welcomed = false;
  #closed = false;
  /** Send one more request for each reply. */
  refill = false;
  #onWelcome: ((ok: boolean, reason: string) => void) | undefined;
  /** Told when no request is in flight any more. */
  onIdle: (() => void) | undefined;
  /** Told of each good reading, with its latency, ms. */
  onReply: ((latencyMs: number) => void) | undefined;

  constructor(host: string, port: number, depth: number) {
    this.#sentAt = new Float64Array(depth);
    this.socket = openSocket(host, port);
    this.socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.#lost(err.code ?? err.message));
    this.socket.on('close', () => this.#lost('closed by the server'));
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#closed ? 0 : this.#sent - this.#received;
  }

  /** Says hello; resolves once welcomed, or with the reason it was not. */
  handshake(): Promise<{ ok: boolean; reason: string }> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => this.#onWelcome?.(false, 'no welcome in time'),
        HANDSHAKE_TIMEOUT_MS,
      );
      this.#onWelcome = (ok, reason) => {
        clearTimeout(timer);
        this.#onWelcome = undefined;
        resolve({ ok, reason });
      };
      this.socket.write(HELLO);
    });
  }

  /** Sends `count` requests in one write, stamped `now`. */
  send(count: number, now: number): void {
    if (this.#closed || count === 0) return;
    const depth = this.#sentAt.length;
    if (count === 1) {
      this.#sentAt[this.#sent % depth] = now;
      this.socket.write(REQUESTS[this.#sent++ % RING] as Buffer);
      return;
    }
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      this.#sentAt[this.#sent % depth] = now;
      frames.push(REQUESTS[this.#sent++ % RING] as Buffer);
    }
    this.socket.write(Buffer.concat(frames));
  }

  close(): void {
    this.#closed = true;
    this.socket.destroy();
  }

  #read(chunk: Buffer): void {
    const now = performance.now();
    const { frames, error } = this.#decoder.push(chunk);
    let answered = 0;
    for (const body of frames) {
      if (!this.#welcomed) {
        this.#welcome(body);
        continue;
      }
      const kind = scanner.scan(body);
      if (this.#sent === this.#received) {
        errors.unexpectedType++;
        sample(`a reply with no request in flight (kind ${kind})`);
        continue;
      }
      const expected = this.#received % RING;
      const sentAt = this.#sentAt[this.#received % this.#sentAt.length] as number;
      this.#received++;
      answered++;
      if (kind === REPLY_READING && scanner.id === expected) {
        if (measured.measuring) {
          measured.completed++;
          measured.latencyNs.record((now - sentAt) * 1e6);
        }
        this.onReply?.(now - sentAt);
      } else {
        this.#misreply(kind, expected, body);
      }
    }
    if (error) {
      errors.malformed++;
      sample(`broken stream: ${describeError(error)}`);
      this.#lost('broken stream');
      this.socket.destroy();
      return;
    }
    if (this.refill) this.send(answered, now);
    else if (answered > 0 && this.#sent === this.#received) this.onIdle?.();
  }

  #welcome(body: Buffer): void {
    const kind = scanner.scan(body);
    if (kind === REPLY_WELCOME) {
      this.#welcomed = true;
      this.#onWelcome?.(true, '');
      return;
    }
    let reason = `kind ${kind}`;
    if (kind === REPLY_ERROR) {
      try {
        const reply = decodeServerMessage(body);
        if (reply.type === 'error') reason = reply.code;
      } catch {
        // Keep the kind as the reason.
      }
    }
    this.#onWelcome?.(false, `no welcome: ${reason}`);
  }

  #misreply(kind: number, expected: number, body: Buffer): void {
    if (kind === REPLY_ERROR) {
      let code = 'unreadable';
      try {
        const reply = decodeServerMessage(body);
        if (reply.type === 'error') {
          code = reply.code;
          sample(`error reply to id ${reply.id}: ${reply.code}: ${reply.message}`);
        }
      } catch (err) {
        sample(`unreadable error reply: ${describeError(err)}`);
      }
      bump(errors.errorReplies, code);
    } else if (kind === REPLY_MALFORMED) {
      errors.malformed++;
      sample(`malformed reply: ${body.subarray(0, 32).toString('hex')}`);
    } else if (kind !== REPLY_READING) {
      errors.unexpectedType++;
      sample(`reply of kind ${kind} where a reading was due`);
    } else {
      errors.wrongId++;
      sample(`reading with id ${scanner.id === NO_ID ? 'nil' : scanner.id}, expected ${expected}`);
    }
  }

  #lost(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#onWelcome) {
      this.#onWelcome(false, reason);
      return;
    }
    errors.connectionsLost++;
    errors.unanswered += this.#sent - this.#received;
    sample(`connection lost: ${reason}`);
    this.onIdle?.();
  }
}

interface Opened {
  readonly connections: Connection[];
  /** Time from the first connect to the last welcome, ms. */
  readonly elapsedMs: number;
}

/**
 * Opens `count` connections, `openWindow` at a time, each with its
 * handshake. `onWelcomed(n)` is told after the n-th welcome.
 */
function openConnections(
  host: string,
  port: number,
  count: number,
  openWindow: number,
  depth: number,
  handshakeNs: Histogram | undefined,
  onWelcomed: (welcomed: number) => void = () => {},
): Promise<Opened> {
  const start = performance.now();
  const connections: Connection[] = [];
  let started = 0;
  let settled = 0;
  let welcomed = 0;
  return new Promise((resolve) => {
    const startOne = (): void => {
      started++;
      const begin = performance.now();
      const connection = new Connection(host, port, depth);
      connection.handshake().then(({ ok, reason }) => {
        settled++;
        if (ok) {
          connections.push(connection);
          handshakeNs?.record((performance.now() - begin) * 1e6);
          onWelcomed(++welcomed);
        } else {
          bump(errors.openFailures, reason);
          connection.close();
        }
        if (started < count) startOne();
        else if (settled === count) resolve({ connections, elapsedMs: performance.now() - start });
      });
    };
    for (let i = 0; i < Math.min(openWindow, count); i++) startOne();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once no connection has a request in flight, or at the deadline. */
async function settle(connections: readonly Connection[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const busy = () => connections.some((connection) => connection.inFlight > 0);
  while (busy() && performance.now() < deadline) await delay(5);
  for (const connection of connections) errors.unanswered += connection.inFlight;
}

/** Server CPU time and memory at one instant. */
function probe(pid: number): { ticks: number; mainTicks: number; rss: number } {
  return pid > 0
    ? { ticks: cpuTicks(pid), mainTicks: mainThreadCpuTicks(pid), rss: rssBytes(pid) }
    : { ticks: 0, mainTicks: 0, rss: 0 };
}

type Options = ResolvedOptions<typeof LOADGEN_OPTIONS>;

function toMicroseconds(summary: HistogramSummary): HistogramSummary {
  const us = (ns: number) => Math.round(ns / 10) / 100;
  return {
    count: summary.count,
    min: us(summary.min),
    max: us(summary.max),
    mean: us(summary.mean),
    p50: us(summary.p50),
    p90: us(summary.p90),
    p99: us(summary.p99),
    p999: us(summary.p999),
  };
}

/**
 * With --page-port, a stand-in for a browser with the live view open,
 * following connection 1 in detail (the first one the load opens).
 */
async function attachPage(options: Options): Promise<LivePage | undefined> {
  if (options.pagePort === 0) return undefined;
  const page = new LivePage(options.host, options.pagePort, 1);
  await page.opened;
  return page;
}

async function throughput(options: Options): Promise<ThroughputResult> {
  const { host, port, connections: count, depth, serverPid, clockTicks } = options;
  const page = await attachPage(options);
  const { connections } = await openConnections(
    host,
    port,
    count,
    options.openWindow,
    depth,
    undefined,
  );
  const now = performance.now();
  for (const connection of connections) {
    connection.refill = true;
    connection.send(depth, now);
  }
  await delay(options.warmupMs);

  measured.latencyNs.reset();
  measured.completed = 0;
  measured.measuring = true;
  const before = probe(serverPid);
  const machineBefore = machineBusyTicks();
  const ownBefore = process.cpuUsage();
  const start = performance.now();
  await delay(options.durationMs);
  const end = performance.now();
  measured.measuring = false;
  const after = probe(serverPid);
  const machineSeconds = (machineBusyTicks() - machineBefore) / clockTicks;
  const own = process.cpuUsage(ownBefore);
  const ownSeconds = (own.user + own.system) / 1e6;

  for (const connection of connections) connection.refill = false;
  await settle(connections, options.drainMs);
  for (const connection of connections) connection.close();
  const pageFigures = page?.figures();
  page?.close();

  const seconds = (end - start) / 1000;
  const cpuSeconds = (after.ticks - before.ticks) / clockTicks;
  const mainCpuSeconds = (after.mainTicks - before.mainTicks) / clockTicks;
  const requests = measured.completed;
  return {
    mode: 'throughput',
    connections: count,
    depth,
    windowMs: end - start,
    requests,
    requestsPerSecond: requests / seconds,
    latencyUs: toMicroseconds(measured.latencyNs.summary()),
    serverCpuUsPerRequest: requests > 0 ? (cpuSeconds * 1e6) / requests : 0,
    serverMainThreadCpuUsPerRequest: requests > 0 ? (mainCpuSeconds * 1e6) / requests : 0,
    serverCpuCores: cpuSeconds / seconds,
    serverRssBytes: after.rss,
    loadgenCpuCores: ownSeconds / seconds,
    otherCpuCores: Math.max(0, machineSeconds - cpuSeconds - ownSeconds) / seconds,
    ...(pageFigures ? { page: pageFigures } : {}),
    errors,
    errorTotal: totalErrors(errors),
  };
}

/** Sends one full poll (the four readings, pipelined, in one write) on every connection. */
async function pollAll(
  connections: readonly Connection[],
): Promise<{ pollMs: number; pollNs: Histogram; readings: number }> {
  const pollNs = new Histogram();
  let readings = 0;
  let idle = 0;
  const allIdle = new Promise<void>((resolve) => {
    if (connections.length === 0) resolve();
    for (const connection of connections) {
      let replies = 0;
      let done = false;
      connection.onReply = (latencyMs) => {
        readings++;
        if (++replies === READINGS.length) pollNs.record(latencyMs * 1e6);
      };
      // Idle once: answered in full, or lost (after which it is idle for good).
      connection.onIdle = () => {
        if (done) return;
        done = true;
        if (++idle === connections.length) resolve();
      };
    }
  });
  const start = performance.now();
  for (const connection of connections) connection.send(READINGS.length, start);
  await Promise.race([allIdle, delay(POLL_TIMEOUT_MS)]);
  const pollMs = performance.now() - start;
  await settle(connections, 0);
  return { pollMs, pollNs, readings };
}

async function manyConnections(options: Options): Promise<ConnectionsResult> {
  const { host, port, connections: count, serverPid, clockTicks } = options;
  const blockSize = Math.max(1, Math.round(count / 10));
  const page = await attachPage(options);

  // Warm-up: one block opened, polled and closed, so that the first measured
  // block is not charged with compiling the server's accept path.
  const warm = await openConnections(host, port, blockSize, options.openWindow, 4, undefined);
  await pollAll(warm.connections);
  for (const connection of warm.connections) connection.close();
  await delay(CONNECTIONS_SETTLE_MS);

  const marks: { welcomed: number; at: number; ticks: number }[] = [];
  const start = probe(serverPid);
  marks.push({ welcomed: 0, at: performance.now(), ticks: start.ticks });
  const handshakeNs = new Histogram();
  const opened = await openConnections(
    host,
    port,
    count,
    options.openWindow,
    READINGS.length,
    handshakeNs,
    (welcomed) => {
      if (welcomed % blockSize === 0 || welcomed === count) {
        marks.push({
          welcomed,
          at: performance.now(),
          ticks: serverPid > 0 ? cpuTicks(serverPid) : 0,
        });
      }
    },
  );
  const afterOpen = probe(serverPid);
  const blocks: OpenBlock[] = [];
  for (let i = 1; i < marks.length; i++) {
    const a = marks[i - 1] as (typeof marks)[number];
    const b = marks[i] as (typeof marks)[number];
    const n = b.welcomed - a.welcomed;
    blocks.push({
      from: a.welcomed,
      to: b.welcomed,
      wallUsPerConnection: ((b.at - a.at) * 1000) / n,
      serverCpuUsPerConnection: ((b.ticks - a.ticks) / clockTicks / n) * 1e6,
    });
  }

  const { connections } = opened;
  const pollBefore = probe(serverPid);
  const { pollMs, pollNs, readings } = await pollAll(connections);
  const afterPoll = probe(serverPid);
  for (const connection of connections) connection.close();
  const pageFigures = page?.figures();
  page?.close();

  const pollCpuSeconds = (afterPoll.ticks - pollBefore.ticks) / clockTicks;
  return {
    mode: 'connections',
    connections: count,
    warmupConnections: warm.connections.length,
    opened: connections.length,
    openMs: opened.elapsedMs,
    handshakeUs: toMicroseconds(handshakeNs.summary()),
    blocks,
    serverRssBeforeBytes: start.rss,
    serverRssAfterOpenBytes: afterOpen.rss,
    serverRssAfterPollBytes: afterPoll.rss,
    rssBytesPerConnection:
      connections.length > 0 ? (afterOpen.rss - start.rss) / connections.length : 0,
    pollMs,
    pollUs: toMicroseconds(pollNs.summary()),
    pollReadings: readings,
    pollServerCpuUsPerRequest: readings > 0 ? (pollCpuSeconds * 1e6) / readings : 0,
    ...(pageFigures ? { page: pageFigures } : {}),
    errors,
    errorTotal: totalErrors(errors),
  };
}

async function main(): Promise<number> {
  let options: Options;
  try {
    const resolution = resolveOptions(LOADGEN_OPTIONS, process.argv.slice(2), {});
    if (resolution.help) {
      process.stdout.write('Usage: node dist/bench/loadgen.js --port N [--mode M] ...\n');
      return 0;
    }
    options = resolution.options;
    if (options.mode !== 'throughput' && options.mode !== 'connections') {
      throw new Error(`--mode must be "throughput" or "connections" (got "${options.mode}")`);
    }
    transport.tls = options.tls;
    transport.resume = options.tlsResume;
    if (options.ca !== '') transport.ca = readFileSync(options.ca);
  } catch (err) {
    process.stderr.write(`meteo-loadgen: ${describeError(err)}\n`);
    return 2;
  }
  const result =
    options.mode === 'throughput' ? await throughput(options) : await manyConnections(options);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`meteo-loadgen: ${describeError(err)}\n`);
    process.exit(1);
  },
);
