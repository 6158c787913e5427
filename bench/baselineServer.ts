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
 * server the same way. With --tls-cert and --tls-key it serves TLS as the
 * product does (issue #14), so that the ratio of the two stays honest.
 */
import { createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { commandLine, runProgram } from '../actors/cli/program.js';
import { closeGracefully } from '../actors/connection.js';
import { loadServerTls, secureContextOf } from '../actors/tls.js';
import { describeOptions, SERVER_OPTIONS } from '../lib/config.js';
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
import { DEFAULT_STATION, stationInfo } from '../lib/sensors/station.js';
import {
  admit,
  connectionError,
  NEW_SESSION,
  type ReadItem,
  replyTo,
  type Session,
  type WorkItem,
} from '../lib/session.js';

const PROGRAM = 'meteo-baseline';

const USAGE = `Usage: node dist/bench/baselineServer.js [options]

The benchmark's baseline: the meteo-actors protocol on a bare node:net server,
readings computed on the main thread.

Options:
${describeOptions(SERVER_OPTIONS)}`;

/**
 * One connection: frames in, replies out, in order, one write per chunk read.
 * The protocol is lib/session.ts's, as in the product; only the sensor read
 * differs: made here, on the main thread, as the frame is decoded.
 */
function serve(socket: Socket, welcome: Welcome, sensors: SimulatedStation): void {
  const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
  let session: Session = NEW_SESSION;
  const work: WorkItem[] = [];

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

  socket.on('data', (chunk: Buffer) => {
    if (session.endedBy !== null) return;
    const { frames, error } = decoder.push(chunk);
    const timeMs = Date.now();
    work.length = 0;
    session = admit(session, welcome, frames.map(decodeClientMessage), timeMs, work);
    if (error && session.endedBy === null) {
      work.push({ kind: 'reply', reply: connectionError(error.code, error.message) });
      session = { ...session, endedBy: error.code };
    }
    if (work.length === 0) return;
    const replies = work.map((item) =>
      item.kind === 'reply'
        ? item.reply.message
        : replyTo(welcome, item, observe(item, timeMs)).message,
    );
    // One write per chunk, as the product writes one batch per turn.
    const ok = socket.write(
      replies.length === 1
        ? encodeMessage(replies[0] as ServerMessage)
        : Buffer.concat(replies.map(encodeMessage)),
    );
    if (session.endedBy !== null) {
      closeGracefully(socket);
    } else if (!ok) {
      // Backpressure (docs/PROTOCOL.md §5.3): take nothing more until the peer reads.
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
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
  const accept = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serve(socket, welcome, sensors);
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
  return 0;
}

runProgram(PROGRAM, main);
