/**
 * The baseline of the benchmark (issue #4): the same wire protocol as the
 * product (docs/PROTOCOL.md), the same framing, messages and station model
 * from lib/, on a bare `node:net` server: no actors, no pool, every reading
 * computed on the main thread as its request is decoded. It is what a
 * hand-written server would be, so the product's figures are read as ratios
 * to it.
 *
 * Same flags as `npm start` (--host, --port, --seed are used; the others,
 * --threads and --stations among them, are accepted and ignored: no pool, one
 * station), and a "listening ... port=N" line, so the bench starts either
 * server the same way.
 */
import { createServer, type Socket } from 'node:net';
import { commandLine, runProgram } from '../actors/cli/program.js';
import { describeOptions, SERVER_OPTIONS } from '../lib/config.js';
import { describeError, type ErrorCode } from '../lib/errors.js';
import { FrameDecoder, MAX_REQUEST_FRAME_BYTES } from '../lib/framing.js';
import { createLogger } from '../lib/log.js';
import {
  type ClientMessage,
  decodeClientMessage,
  encodeMessage,
  errorReply,
  PROTOCOL_VERSION,
  READING_UNITS,
  type Rejected,
  type ServerMessage,
  UNITS,
  type Welcome,
} from '../lib/protocol.js';
import { SimulatedStation } from '../lib/sensors/model.js';
import { DEFAULT_STATION, stationInfo } from '../lib/sensors/station.js';

const PROGRAM = 'meteo-baseline';

/** As the product's connection does (actors/connection.ts): read and drop for a while, then close. */
const CLOSE_LINGER_MS = 2_000;

const USAGE = `Usage: node dist/bench/baselineServer.js [options]

The benchmark's baseline: the meteo-actors protocol on a bare node:net server,
readings computed on the main thread.

Options:
${describeOptions(SERVER_OPTIONS)}`;

function closeGracefully(socket: Socket): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('data', () => {});
  socket.resume();
  socket.end();
  const timer = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** One connection: frames in, replies out, in order, one write per chunk read. */
function serve(socket: Socket, welcome: Welcome, sensors: SimulatedStation): void {
  const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
  let greeted = false;
  let closing = false;

  const answer = (message: ClientMessage | Rejected, timeMs: number): ServerMessage => {
    switch (message.type) {
      case 'rejected':
        return errorReply(message.id, message.code, message.message);
      case 'hello':
        if (greeted)
          return errorReply(null, 'ERR_ALREADY_GREETED', 'the handshake is already done');
        if (message.version !== PROTOCOL_VERSION) {
          closing = true;
          return errorReply(
            null,
            'ERR_UNSUPPORTED_VERSION',
            `this server speaks protocol version ${PROTOCOL_VERSION}, not ${message.version}`,
          );
        }
        greeted = true;
        return welcome;
      case 'read': {
        if (!greeted) {
          return errorReply(message.id, 'ERR_HANDSHAKE_REQUIRED', 'send hello before any request');
        }
        // One station, as the product serves by default (--stations seattle).
        if (message.station !== undefined && message.station !== DEFAULT_STATION.id) {
          return errorReply(
            message.id,
            'ERR_UNKNOWN_STATION',
            `no station ${JSON.stringify(message.station)}; stations are ${DEFAULT_STATION.id}`,
          );
        }
        try {
          const { value, observedAt } = sensors.observe(message.reading, timeMs);
          if (!Number.isFinite(value)) throw new Error(`the model gave ${value}`);
          return {
            type: 'reading',
            id: message.id,
            station: DEFAULT_STATION.id,
            reading: message.reading,
            value,
            unit: READING_UNITS[message.reading],
            observedAt: new Date(observedAt),
          };
        } catch (err) {
          return errorReply(
            message.id,
            'ERR_SENSOR_FAILED',
            `the sensor read failed: ${describeError(err)}`,
          );
        }
      }
    }
  };

  const closeWith = (replies: Buffer[], code: ErrorCode, message: string): void => {
    replies.push(encodeMessage(errorReply(null, code, message)));
    closing = true;
  };

  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    const { frames, error } = decoder.push(chunk);
    const timeMs = Date.now();
    const replies: Buffer[] = [];
    for (const body of frames) {
      replies.push(encodeMessage(answer(decodeClientMessage(body), timeMs)));
      if (closing) break;
    }
    if (error && !closing) closeWith(replies, error.code, error.message);
    if (replies.length > 0) {
      // One write per chunk, as the product writes one batch per turn.
      const ok = socket.write(
        replies.length === 1 ? (replies[0] as Buffer) : Buffer.concat(replies),
      );
      // Backpressure (docs/PROTOCOL.md §5.3): take nothing more until the peer reads.
      if (!ok && !closing) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    }
    if (closing) closeGracefully(socket);
  });
  // Every request is answered as it is read, so a half-close can be answered at once.
  socket.on('end', () => closeGracefully(socket));
  socket.on('error', () => {});
}

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, SERVER_OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  const log = createLogger((line) => process.stdout.write(`${line}\n`));
  const sensors = new SimulatedStation(options.seed, DEFAULT_STATION);
  const welcome: Welcome = {
    type: 'welcome',
    version: PROTOCOL_VERSION,
    server: `${PROGRAM}/0.1.0`,
    station: stationInfo(DEFAULT_STATION),
    stations: [stationInfo(DEFAULT_STATION)],
    units: UNITS,
  };
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serve(socket, welcome, sensors);
  });
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
  return 0;
}

runProgram(PROGRAM, main);
