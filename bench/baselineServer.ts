/**
 * The baseline of the benchmark (issue #4): the same wire protocol as the
 * product (docs/PROTOCOL.md), the same framing, messages and station model
 * from lib/, on a bare `node:net` server: no actors, no pool, every reading
 * computed on the main thread as its request is decoded. It is what a
 * hand-written server would be, so the product's figures are read as ratios
 * to it.
 *
 * Same flags as `npm start` (--host, --port, --seed are used; the others,
 * --stations among them, are accepted and ignored: one station), and a
 * "listening ... port=N" line, so the bench starts either server the same
 * way. With --tls-cert and --tls-key it serves TLS as the product does (issue
 * #14), so that the ratio of the two stays honest.
 *
 * With `--reads pool` it is the floor of the product's design instead: the
 * same bare server, with every sensor read made on the product's own sensor
 * pool (actors/sensorPool.ts, --threads worker threads), batched as the
 * product batches them. What the product costs beyond it is what its actors
 * and machines cost; what it costs beyond the plain baseline is what a thread
 * hop per read costs (docs/PERFORMANCE.md §11).
 */
import { createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { commandLine, runProgram } from '../actors/cli/program.js';
import { closeGracefully } from '../actors/connection.js';
import { SensorPool } from '../actors/sensorPool.js';
import { loadServerTls, secureContextOf } from '../actors/tls.js';
import { describeOptions, type OptionTable, SERVER_OPTIONS } from '../lib/config.js';
import { describeError } from '../lib/errors.js';
import { FrameDecoder, MAX_REQUEST_FRAME_BYTES } from '../lib/framing.js';
import { createLogger } from '../lib/log.js';
import {
  decodeClientMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  UNITS,
  type Welcome,
} from '../lib/protocol.js';
import { SimulatedStation } from '../lib/sensors/model.js';
import type { SensorResult } from '../lib/sensors/result.js';
import { SIMULATED } from '../lib/sensors/sources.js';
import { DEFAULT_STATION, stationInfo } from '../lib/sensors/station.js';
import {
  admit,
  connectionError,
  NEW_SESSION,
  type ReadItem,
  readsOf,
  replyTo,
  type Session,
  type WorkItem,
} from '../lib/session.js';

const PROGRAM = 'meteo-baseline';

const BASELINE_OPTIONS = Object.freeze({
  ...SERVER_OPTIONS,
  reads: {
    kind: 'string',
    flag: 'reads',
    default: 'main',
    choices: ['main', 'pool'],
    description:
      "where sensor reads are made: main (the main thread, as each frame is decoded) or pool (the product's sensor pool of --threads threads: the floor of the product's design)",
  },
} as const satisfies OptionTable);

const USAGE = `Usage: node dist/bench/baselineServer.js [options]

The benchmark's baseline: the meteo-actors protocol on a bare node:net server,
readings computed on the main thread (or, with --reads pool, on the product's
sensor pool).

Options:
${describeOptions(BASELINE_OPTIONS)}`;

/** Makes a batch of reads and calls back with one result per read, in order. */
type Reads = (
  reads: readonly ReadItem[],
  timeMs: number,
  done: (results: readonly SensorResult[]) => void,
) => void;

/** Reads on the main thread, as each frame is decoded. */
function readOnMainThread(sensors: SimulatedStation): Reads {
  const observe = (item: ReadItem, timeMs: number): SensorResult => {
    try {
      const observation = sensors.observe(item.reading, timeMs);
      if (!Number.isFinite(observation.value))
        throw new Error(`the model gave ${observation.value}`);
      return observation;
    } catch (err) {
      return {
        code: 'ERR_SENSOR_FAILED',
        message: `the sensor read failed: ${describeError(err)}`,
      };
    }
  };
  return (reads, timeMs, done) => done(reads.map((item) => observe(item, timeMs)));
}

/** One chunk's work and, once the reads are made, their results. */
interface Batch {
  readonly work: readonly WorkItem[];
  results: readonly SensorResult[] | undefined;
}

/**
 * One connection: frames in, replies out, in order, one write per chunk read.
 * The protocol is lib/session.ts's, as in the product; only the sensor read
 * differs. Replies leave in the order the chunks came, whatever order their
 * reads finish in.
 */
function serve(socket: Socket, welcome: Welcome, read: Reads): void {
  const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
  let session: Session = NEW_SESSION;
  /** The peer has half-closed: close once what it sent is answered. */
  let peerEnded = false;
  const batches: Batch[] = [];

  const flush = (): void => {
    while (batches.length > 0 && (batches[0] as Batch).results !== undefined) {
      const { work, results } = batches.shift() as Batch;
      let next = 0;
      const replies = work.map((item) =>
        item.kind === 'reply'
          ? item.reply.message
          : replyTo(welcome, item, (results as readonly SensorResult[])[next++]).message,
      );
      // One write per chunk, as the product writes one batch per turn.
      const ok = socket.write(
        replies.length === 1
          ? encodeMessage(replies[0] as ServerMessage)
          : Buffer.concat(replies.map(encodeMessage)),
      );
      if ((session.endedBy !== null || peerEnded) && batches.length === 0) {
        closeGracefully(socket);
      } else if (!ok) {
        // Backpressure (docs/PROTOCOL.md §5.3): take nothing more until the peer reads.
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    }
  };

  socket.on('data', (chunk: Buffer) => {
    if (session.endedBy !== null) return;
    const { frames, error } = decoder.push(chunk);
    const timeMs = Date.now();
    const work: WorkItem[] = [];
    session = admit(session, welcome, frames.map(decodeClientMessage), timeMs, work);
    if (error && session.endedBy === null) {
      work.push({ kind: 'reply', reply: connectionError(error.code, error.message) });
      session = { ...session, endedBy: error.code };
    }
    if (work.length === 0) return;
    const batch: Batch = { work, results: undefined };
    batches.push(batch);
    const reads = readsOf(work);
    if (reads.length === 0) {
      batch.results = [];
      flush();
      return;
    }
    read(reads, timeMs, (results) => {
      batch.results = results;
      flush();
    });
  });
  // Every request is answered as it is read, so a half-close can be answered once the reads are.
  socket.on('end', () => {
    peerEnded = true;
    if (batches.length === 0) closeGracefully(socket);
  });
  socket.on('error', () => {});
}

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, BASELINE_OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  const log = createLogger((line) => process.stdout.write(`${line}\n`));
  const pool =
    options.reads === 'pool'
      ? new SensorPool({
          threads: options.threads,
          seed: options.seed,
          stations: [{ station: DEFAULT_STATION, source: SIMULATED }],
        })
      : undefined;
  await pool?.ready();
  const read: Reads = pool
    ? (reads, _timeMs, done) => pool.read(reads, done)
    : readOnMainThread(new SimulatedStation(options.seed, DEFAULT_STATION));
  const welcome: Welcome = {
    type: 'welcome',
    version: PROTOCOL_VERSION,
    server: `${PROGRAM}/0.1.0`,
    station: stationInfo(DEFAULT_STATION),
    stations: [stationInfo(DEFAULT_STATION)],
    units: UNITS,
  };
  const sockets = new Set<Socket>();
  const accept = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serve(socket, welcome, read);
  };
  const socketOptions = { allowHalfOpen: true, noDelay: true };
  let server: ReturnType<typeof createServer>;
  try {
    server =
      options.tlsCert === ''
        ? createServer(socketOptions, accept)
        : createTlsServer(
            {
              ...socketOptions,
              ...secureContextOf(
                loadServerTls({ certFile: options.tlsCert, keyFile: options.tlsKey }),
              ),
            },
            accept,
          );
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${describeError(err)}\n`);
    return 2;
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host, port: options.port }, resolve);
    });
  } catch (err) {
    process.stderr.write(`${PROGRAM}: cannot listen: ${describeError(err)}\n`);
    return 1;
  }
  server.on('error', (err) => log.warn('accept failed', { error: describeError(err) }));
  const address = server.address();
  if (address === null || typeof address !== 'object') return 1;
  log.info('listening', { address: address.address, port: address.port, seed: options.seed });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info('shutting down', { signal, open: sockets.size });
  server.close();
  for (const socket of sockets) socket.destroy();
  await pool?.close();
  return 0;
}

runProgram(PROGRAM, main);
