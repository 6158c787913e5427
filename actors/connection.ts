/**
 * A connection actor: owns one socket for its whole life. It turns bytes into
 * frames and frames into messages (lib/), hands them to the connection
 * machine, and gives the machine its link to the socket and the sensor pool.
 */
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { type Actor, type AnyActorRef, createActor } from 'xstate';
import { describeError } from '../lib/errors.js';
import { FrameDecoder, MAX_REQUEST_FRAME_BYTES } from '../lib/framing.js';
import type { Logger } from '../lib/log.js';
import { decodeClientMessage, encodeMessage, errorReply, type Welcome } from '../lib/protocol.js';
import { isRequest } from '../lib/session.js';
import type { Telemetry } from '../lib/telemetry.js';
import type { Transport } from '../lib/transport.js';
import {
  type ConnectionLimits,
  type ConnectionLink,
  connectionMachine,
  type Reply,
} from '../machines/connectionMachine.js';
import { Watchdog } from './watchdog.js';

/** Where reads go: the sensor pool in production. */
export type Sensors = Pick<ConnectionLink, 'read'>;

/**
 * After the server ends a connection, how long it keeps reading (and
 * discarding) before it closes the socket outright. Closing a socket with
 * unread input makes the kernel send a reset, which can destroy the error
 * frame the peer has not read yet (docs/PROTOCOL.md §8.2).
 */
export const CLOSE_LINGER_MS = 2_000;

/**
 * Ends the stream after what is written, then waits for the peer to close,
 * reading and dropping whatever it still sends, for at most `lingerMs`.
 */
export function closeGracefully(stream: Duplex, lingerMs: number = CLOSE_LINGER_MS): void {
  if (stream.destroyed) return;
  stream.removeAllListeners('data');
  stream.on('data', () => {});
  stream.resume();
  stream.end();
  const timer = setTimeout(() => stream.destroy(), lingerMs);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}

export interface ConnectionOptions {
  readonly transport: Transport;
  /** The connection's number on this server, from 1. */
  readonly number: number;
  readonly welcome: Welcome;
  readonly sensors: Sensors;
  readonly limits: ConnectionLimits;
  readonly log: Logger;
  readonly telemetry: Telemetry;
  /**
   * The acceptor: the connection actor shares its actor system (and so its
   * inspector), and its end reaches it as XState's done or error event.
   */
  readonly parent: AnyActorRef;
  /** Called once, when the connection is over and its socket gone. */
  readonly onClosed: () => void;
}

export interface ConnectionHandle {
  readonly actor: Actor<typeof connectionMachine>;
  /** Answer what was received, then send ERR_SHUTTING_DOWN and close. */
  shutdown(): void;
  /** Close the socket now, whatever is in flight. */
  abort(): void;
}

/** The id of connection `number`'s actor, under which the acceptor hears of its end. */
export function connectionActorId(number: number): string {
  return `connection.${number}`;
}

/** Starts the connection actor for one accepted socket. */
export function startConnection(options: ConnectionOptions): ConnectionHandle {
  const { transport, sensors, log, telemetry } = options;
  const { stream, peer } = transport;
  const connectionId = `#${options.number}`;
  const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
  let replies = 0;

  const link: ConnectionLink = {
    read: (reads, done) => sensors.read(reads, done),
    send(batch: readonly Reply[], sent: () => void) {
      // Nobody to write to: nothing is counted as sent, the machine leaves
      // replying at once, and the close that follows ends it.
      if (!stream.writable) return;
      const now = performance.now();
      for (const { message, reading, receivedAt } of batch) {
        if (message.type === 'error') telemetry.errorSent(message.code);
        if (reading !== null && receivedAt !== null) {
          telemetry.requestServed(
            reading,
            message.type === 'error' ? message.code : 'ok',
            (now - receivedAt) / 1000,
          );
        }
      }
      replies += batch.length;
      // One write for the whole batch: one syscall, and the replies leave in order.
      const write = watchdog.nextWrite();
      stream.write(
        batch.length === 1
          ? encodeMessage((batch[0] as Reply).message)
          : Buffer.concat(batch.map((reply) => encodeMessage(reply.message))),
        () => watchdog.written(write),
      );
      // Nearly always the socket takes it at once (writableLength is back to 0 before write
      // returns) and the machine moves on without an event; otherwise SENT comes once it has.
      if (stream.writableLength > 0) watchdog.writeWaiting(write, sent);
    },
    get bufferedBytes() {
      return stream.writableLength;
    },
    pauseReading: () => stream.pause(),
    resumeReading: () => stream.resume(),
    close: () => closeGracefully(stream),
  };

  const watchdog = new Watchdog(options.limits, (event) => actor.send(event));
  const actor = createActor(connectionMachine, {
    id: connectionActorId(options.number),
    parent: options.parent,
    input: { connectionId, welcome: options.welcome, link, limits: options.limits },
  });

  let closed = false;
  const finish = (reason: string): void => {
    if (closed) return;
    closed = true;
    watchdog.stop();
    telemetry.connectionClosed(reason);
    log.info('connection closed', { connection: options.number, peer, reason, replies });
    options.onClosed();
  };
  actor.subscribe({
    complete: () => finish(actor.getSnapshot().context.closeReason ?? 'client-closed'),
    error: (err) => {
      // A fault inside this connection ends this connection alone: say so to
      // the peer, log it with its context, and let the supervisor count it.
      log.error('connection failed', {
        code: 'ERR_INTERNAL',
        connection: options.number,
        peer,
        error: describeError(err),
      });
      telemetry.errorSent('ERR_INTERNAL');
      if (stream.writable) {
        stream.write(
          encodeMessage(errorReply(null, 'ERR_INTERNAL', 'the server failed on this connection')),
        );
      }
      closeGracefully(stream);
      finish('ERR_INTERNAL');
    },
  });

  stream.on('data', (chunk: Buffer) => {
    const { frames, error } = decoder.push(chunk);
    if (frames.length > 0) {
      const receivedAt = performance.now();
      const messages = frames.map(decodeClientMessage);
      // Only a request restarts the idle timer, not junk (docs/PROTOCOL.md §7, issue #12).
      if (messages.some(isRequest)) watchdog.received(receivedAt);
      actor.send({ type: 'RECEIVED', messages, receivedAt });
    }
    if (error) actor.send({ type: 'BAD_STREAM', code: error.code, message: error.message });
  });
  stream.on('end', () => actor.send({ type: 'PEER_ENDED' }));
  stream.on('error', (err) =>
    log.debug('connection error', { connection: options.number, peer, error: describeError(err) }),
  );
  stream.on('close', () => actor.send({ type: 'PEER_CLOSED' }));

  telemetry.connectionAccepted();
  log.info('connection opened', { connection: options.number, peer });
  actor.start();

  return {
    actor,
    shutdown: () => actor.send({ type: 'SHUTDOWN' }),
    abort: () => stream.destroy(),
  };
}
