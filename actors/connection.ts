/**
 * A connection actor: owns one socket for its whole life. It turns bytes
 * into frames and frames into messages (lib/), runs the connection machine
 * (machines/connectionMachine.ts) on them, and performs the effects the
 * machine emits: sensor reads on the pool, writes, pausing, the close.
 *
 * The machine runs compiled (lib/statechart), unless an inspector watches
 * this connection: then it runs on XState's interpreter, which the Stately
 * inspector and the server's live view draw from. Both are driven by the
 * same code below, and spec/lib/statechart proves that they behave alike.
 *
 * A hello's credential is checked here, as its frame is decoded (issue
 * #14): the machine gets the hello with the outcome in place of the secret,
 * so no machine's context or event, and so no inspector, ever holds one.
 * The answer to a checked hello is written when the peer's record of
 * failures allows (actors/auth.ts); the machine waits for it in `replying`
 * as for any slow write.
 */
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import {
  createActor,
  type InspectionEvent,
  type Observer,
  type StateValue,
  type Subscription,
} from 'xstate';
import { isLoopback } from '../lib/config.js';
import { describeError } from '../lib/errors.js';
import { FrameDecoder, MAX_REQUEST_FRAME_BYTES } from '../lib/framing.js';
import type { Logger } from '../lib/log.js';
import {
  type ClientMessage,
  decodeClientMessage,
  encodeMessage,
  encodeMessages,
  errorReply,
  type Hello,
  type Rejected,
  type Welcome,
} from '../lib/protocol.js';
import type { SensorRead } from '../lib/sensors/batch.js';
import type { SensorResult } from '../lib/sensors/result.js';
import { isRequest, type Reply } from '../lib/session.js';
import { type CompiledMachine, compileMachine } from '../lib/statechart/compile.js';
import { MachineActor, type MachineInspectionEvent } from '../lib/statechart/runtime.js';
import type { Telemetry } from '../lib/telemetry.js';
import type { Transport } from '../lib/transport.js';
import {
  type CloseReason,
  type ConnectionContext,
  type ConnectionEffect,
  type ConnectionEvent,
  type ConnectionLimits,
  connectionMachine,
} from '../machines/connectionMachine.js';
import { type HelloGate, type Link, withoutSecret } from './auth.js';
import { Watchdog } from './watchdog.js';

/** Where reads go: the sensor pool in production. */
export interface Sensors {
  /** Make these reads, as of now; call `done` once with one result per read, in order. */
  read(reads: readonly SensorRead[], done: (results: readonly SensorResult[]) => void): void;
}

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

/** The one name of connection `number` on this server: its actor id, its inspector id, its log name. */
export function connectionName(number: number): string {
  return `connection.${number}`;
}

let compiledConnection: CompiledMachine | undefined;

/**
 * The connection machine compiled for the fast path, once per process.
 * Throws ERR_UNSUPPORTED_MACHINE if the machine uses a feature the compiler
 * cannot run; the server calls this before it listens, so that is a start-up failure.
 */
export function connectionTable(): CompiledMachine {
  compiledConnection ??= compileMachine(connectionMachine);
  return compiledConnection;
}

/** What the server and the live view see of a running connection machine, compiled or interpreted. */
export interface ConnectionActorRef {
  readonly id: string;
  send(event: ConnectionEvent): void;
  getSnapshot(): {
    readonly status: string;
    readonly value: StateValue;
    readonly context: ConnectionContext;
  };
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
  /** Watch this connection: it then runs on XState's interpreter, inspected by this observer. */
  readonly inspect?: Observer<InspectionEvent>;
  /** Checks each hello's credential (actors/auth.ts); without it, a hello's secret is dropped unread. */
  readonly auth?: HelloGate;
  /** Called once, when the connection is over and its socket gone (or going). */
  readonly onClosed: (connection: Connection, reason: CloseReason) => void;
}

/** What a watcher of one connection sees: XState's inspection events, or the compiled actor's of the same shapes. */
export type ConnectionWatchEvent = InspectionEvent | MachineInspectionEvent<ConnectionContext>;

/** One open connection, as its supervisor holds it. */
export interface Connection {
  readonly number: number;
  readonly name: string;
  readonly peer: string;
  /** When it was accepted (`performance.now()`). */
  readonly openedAt: number;
  readonly actor: ConnectionActorRef;
  /** Replies written to it so far. */
  readonly replies: number;
  /** The client it was welcomed as, a name from the auth file (issue #14); null when it said none. */
  readonly client: string | null;
  /**
   * Sends this connection's events, microsteps and snapshots to `observer`
   * until unsubscribed, however it runs (the live view's detail of one
   * connection). While nobody watches, nothing is built for it.
   */
  watch(observer: Observer<ConnectionWatchEvent>): Subscription;
  /** Answer what was received, then send ERR_SHUTTING_DOWN and close. */
  shutdown(): void;
  /** Close the socket now, whatever is in flight. */
  abort(): void;
  /**
   * Its client's credential no longer holds (the auth file was reloaded
   * without it): answer what was received, then send ERR_AUTH_FAILED and
   * close, as NATS does on a reload and Redis on ACL DELUSER.
   */
  revoke(message: string): void;
}

type RunningMachine = ConnectionActorRef & {
  on(type: '*', handler: (effect: ConnectionEffect) => void): Subscription;
  subscribe(observer: Observer<unknown>): Subscription;
  start(): unknown;
  stop(): unknown;
};

/** What the gate needs to know of a connection's socket (a spec's fake stream is neither TLS nor loopback). */
function linkOf({ stream, peer }: Transport): Link {
  const socket = stream as Partial<Pick<TLSSocket, 'encrypted' | 'localAddress' | 'remoteAddress'>>;
  return {
    peer,
    address: socket.remoteAddress ?? '',
    private: socket.encrypted === true || isLoopback(socket.localAddress),
  };
}

/** Starts the connection actor for one accepted socket. */
export function startConnection(options: ConnectionOptions): Connection {
  const { transport, sensors, log, telemetry, number, auth } = options;
  const { stream, peer } = transport;
  const name = connectionName(number);
  const input = { welcome: options.welcome, limits: options.limits };
  const interpreted = options.inspect
    ? createActor(connectionMachine, { id: name, input, inspect: options.inspect })
    : undefined;
  const compiled = interpreted
    ? undefined
    : new MachineActor<typeof connectionMachine>(connectionTable(), { id: name, input });
  const actor = (interpreted ?? compiled) as RunningMachine;
  const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
  const watchdog = new Watchdog(options.limits, (event) => actor.send(event));
  let replies = 0;
  let closed = false;
  const link = linkOf(transport);
  let client: string | null = null;
  /** Checked hellos whose answers are not yet written: only then is a batch searched for one. */
  let checkedHellos = 0;
  /** The write of a hello's answer, waiting out the peer's penalty. */
  let delayedWrite: NodeJS.Timeout | undefined;

  /** The hello the machine gets: its credential checked, its secret gone. */
  const checkHello = (hello: Hello): ClientMessage => {
    if (auth === undefined) return withoutSecret(hello);
    const checked = auth.check(hello, link);
    if ('credential' in checked) checkedHellos++;
    return checked;
  };
  const decode = (frame: Uint8Array): ClientMessage | Rejected => {
    const message = decodeClientMessage(frame);
    return message.type === 'hello' ? checkHello(message) : message;
  };

  const connection: Connection = {
    number,
    name,
    peer,
    openedAt: performance.now(),
    actor,
    get replies() {
      return replies;
    },
    get client() {
      return client;
    },
    watch: (observer) =>
      interpreted
        ? interpreted.system.inspect(observer)
        : (compiled as MachineActor<typeof connectionMachine>).inspect(observer),
    shutdown: () => actor.send({ type: 'SHUTDOWN' }),
    abort: () => stream.destroy(),
    // The machine's way to end a connection with a coded error after what it has received
    // (closeWith) is reached by BAD_STREAM; the stream is sound, but the effect is the one wanted.
    revoke: (message) => actor.send({ type: 'BAD_STREAM', code: 'ERR_AUTH_FAILED', message }),
  };

  const finish = (reason: CloseReason): void => {
    if (closed) return;
    closed = true;
    watchdog.stop();
    clearTimeout(delayedWrite);
    telemetry.connectionClosed(reason);
    log.info('connection closed', {
      connection: number,
      peer,
      reason,
      replies,
      ...(client === null ? {} : { client }),
    });
    options.onClosed(connection, reason);
  };

  /** A fault inside this connection ends this connection alone: the peer is told, the fault logged. */
  const fail = (err: unknown): void => {
    if (closed) return;
    log.error('connection failed', {
      code: 'ERR_INTERNAL',
      connection: number,
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
    actor.stop();
  };

  /**
   * The answers to checked hellos in a batch: a failure is counted and
   * logged, the client of a success noted; returns how long the batch must
   * wait before it is written, ms (actors/auth.ts).
   */
  const answerHellos = (batch: readonly Reply[]): number => {
    let waitMs = 0;
    for (const { hello } of batch) {
      if (hello === undefined || auth === undefined) continue;
      checkedHellos--;
      waitMs = Math.max(waitMs, auth.answered(link, hello, number));
      if (hello.credential === 'ok' && hello.client !== null) {
        client = hello.client;
        log.info('client authenticated', { connection: number, peer, client });
      }
    }
    return waitMs;
  };

  const write = (batch: readonly Reply[]): void => {
    const waitMs = checkedHellos > 0 ? answerHellos(batch) : 0;
    if (waitMs <= 0) {
      send(batch);
      return;
    }
    delayedWrite = setTimeout(() => {
      delayedWrite = undefined;
      if (!closed) send(batch);
    }, waitMs);
  };

  const send = (batch: readonly Reply[]): void => {
    // Nobody to write to: nothing is counted as sent; the close that follows ends the connection.
    if (!stream.writable) {
      actor.send({ type: 'WRITTEN', bufferedBytes: 0 });
      return;
    }
    const now = performance.now();
    for (const { message, reading, station, receivedAt } of batch) {
      if (message.type === 'error') telemetry.errorSent(message.code);
      if (reading !== null && station !== null && receivedAt !== null) {
        const outcome = message.type === 'error' ? message.code : 'ok';
        const seconds = (now - receivedAt) / 1000;
        if (client === null) telemetry.requestServed(station, reading, outcome, seconds);
        else telemetry.requestServed(station, reading, outcome, seconds, client);
      }
    }
    replies += batch.length;
    // One write for the whole batch: one syscall, and the replies leave in order.
    const id = watchdog.nextWrite();
    stream.write(encodeMessages(batch.map((reply) => reply.message)), () => watchdog.written(id));
    // Nearly always the socket takes it at once; otherwise DRAINED follows once it has.
    const bufferedBytes = stream.writableLength;
    if (bufferedBytes > 0) watchdog.writeWaiting(id, () => actor.send({ type: 'DRAINED' }));
    actor.send({ type: 'WRITTEN', bufferedBytes });
  };

  actor.on('*', (effect) => {
    try {
      switch (effect.type) {
        case 'read':
          sensors.read(effect.reads, (results) => actor.send({ type: 'COMPUTED', results }));
          break;
        case 'write':
          write(effect.replies);
          break;
        case 'pauseReading':
          stream.pause();
          break;
        case 'resumeReading':
          stream.resume();
          break;
        case 'close':
          closeGracefully(stream);
          break;
      }
    } catch (err) {
      fail(err);
    }
  });
  actor.subscribe({
    complete: () => finish(actor.getSnapshot().context.closeReason ?? 'client-closed'),
    error: fail,
  });

  stream.on('data', (chunk: Buffer) => {
    const { frames, error } = decoder.push(chunk);
    if (frames.length > 0) {
      const receivedAt = performance.now();
      const messages = frames.map(decode);
      // Only a request restarts the idle timer, not junk (docs/PROTOCOL.md §7, issue #12).
      if (messages.some(isRequest)) watchdog.received(receivedAt);
      actor.send({ type: 'RECEIVED', messages, receivedAt });
    }
    if (error) actor.send({ type: 'BAD_STREAM', code: error.code, message: error.message });
  });
  stream.on('end', () => actor.send({ type: 'PEER_ENDED' }));
  stream.on('error', (err) =>
    log.debug('connection error', { connection: number, peer, error: describeError(err) }),
  );
  stream.on('close', () => actor.send({ type: 'PEER_CLOSED' }));

  telemetry.connectionAccepted();
  log.info('connection opened', { connection: number, peer });
  actor.start();
  return connection;
}
