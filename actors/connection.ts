/**
 * A connection actor: owns one socket for its whole life. It turns bytes
 * into frames and frames into messages (lib/), runs the connection machine
 * (machines/connectionMachine.ts) on them, and performs the effects the
 * machine emits: sensor reads on the pool, writes, pausing, the close.
 *
 * The machine runs compiled (lib/statechart), watched or not: an inspected
 * connection runs as every other does, and its actor sends the inspector
 * (the Stately inspector, the terminal trace, the live view) the events
 * XState's interpreter would, in XState's shapes. spec/lib/statechart proves
 * that the compiled machine and XState's interpreter behave alike.
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
import type { Observer, StateValue, Subscription } from 'xstate';
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

/** What the server and the live view see of a running connection machine. */
export interface ConnectionActorRef {
  readonly id: string;
  send(event: ConnectionEvent): void;
  getSnapshot(): {
    readonly status: string;
    readonly value: StateValue;
    readonly context: ConnectionContext;
  };
}

/** What every connection of a server shares: made once by the server, not per connection. */
export interface ConnectionServices {
  readonly welcome: Welcome;
  readonly sensors: Sensors;
  readonly limits: ConnectionLimits;
  readonly log: Logger;
  readonly telemetry: Telemetry;
  /** Checks each hello's credential (actors/auth.ts); without it, a hello's secret is dropped unread. */
  readonly auth?: HelloGate;
  /** Called once per connection, when it is over and its socket gone (or going). */
  readonly onClosed: (connection: Connection, reason: CloseReason) => void;
}

/** What a watcher of one connection sees: its actor's inspection events, in XState's shapes. */
export type ConnectionWatchEvent = MachineInspectionEvent<ConnectionContext>;

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
  /** The code of the last error reply written to it, if any (the live view shows it). */
  readonly lastError: string | null;
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

/** What the gate needs to know of a connection's socket (a spec's fake stream is neither TLS nor loopback). */
function linkOf({ stream, peer }: Transport): Link {
  const socket = stream as Partial<Pick<TLSSocket, 'encrypted' | 'localAddress' | 'remoteAddress'>>;
  return {
    peer,
    address: socket.remoteAddress ?? '',
    private: socket.encrypted === true || isLoopback(socket.localAddress),
  };
}

/**
 * The socket's events reach their connection through this property of the
 * socket, so that one set of listener functions serves every connection
 * (as Node's own streams keep their state under symbols): a closure per
 * listener per connection would cost memory on every socket of a busy server.
 */
const OWNER = Symbol('meteo.connection');
type OwnedStream = Duplex & { [OWNER]: ConnectionActor };

function onData(this: OwnedStream, chunk: Buffer): void {
  this[OWNER].received(chunk);
}
function onEnd(this: OwnedStream): void {
  this[OWNER].actor.send({ type: 'PEER_ENDED' });
}
function onError(this: OwnedStream, err: Error): void {
  this[OWNER].socketError(err);
}
function onClose(this: OwnedStream): void {
  this[OWNER].actor.send({ type: 'PEER_CLOSED' });
}

/** Starts the connection actor for one accepted socket; `inspect` sees its actor from its creation. */
export function startConnection(
  services: ConnectionServices,
  transport: Transport,
  number: number,
  inspect?: Observer<ConnectionWatchEvent>,
): Connection {
  return new ConnectionActor(services, transport, number, inspect);
}

class ConnectionActor implements Connection {
  readonly name: string;
  readonly peer: string;
  readonly openedAt = performance.now();
  readonly actor: MachineActor<typeof connectionMachine>;
  readonly #services: ConnectionServices;
  readonly #stream: Duplex;
  readonly #decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
  readonly #watchdog: Watchdog;
  /** What an auth gate needs of the socket; made only when the server checks credentials. */
  readonly #link: Link | undefined;
  #replies = 0;
  #lastError: string | null = null;
  #client: string | null = null;
  #closed = false;
  /** Checked hellos whose answers are not yet written: only then is a batch searched for one. */
  #checkedHellos = 0;
  /** The write of a hello's answer, waiting out the peer's penalty. */
  #delayedWrite: NodeJS.Timeout | undefined;

  constructor(
    services: ConnectionServices,
    transport: Transport,
    readonly number: number,
    inspect: Observer<ConnectionWatchEvent> | undefined,
  ) {
    this.#services = services;
    this.#stream = transport.stream;
    this.peer = transport.peer;
    this.name = connectionName(number);
    this.#link = services.auth ? linkOf(transport) : undefined;
    this.actor = new MachineActor<typeof connectionMachine>(connectionTable(), {
      id: this.name,
      input: { welcome: services.welcome, limits: services.limits },
      inspect,
    });
    this.#watchdog = new Watchdog(services.limits, this.actor);
    this.actor.on('*', (effect) => this.#perform(effect));
    this.actor.subscribe(this);

    const stream = this.#stream as OwnedStream;
    stream[OWNER] = this;
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    services.telemetry.connectionAccepted();
    services.log.info('connection opened', { connection: number, peer: this.peer });
    this.actor.start();
  }

  get replies(): number {
    return this.#replies;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  get client(): string | null {
    return this.#client;
  }

  watch(observer: Observer<ConnectionWatchEvent>): Subscription {
    return this.actor.inspect(observer);
  }

  shutdown(): void {
    this.actor.send({ type: 'SHUTDOWN' });
  }

  abort(): void {
    this.#stream.destroy();
  }

  revoke(message: string): void {
    this.actor.send({ type: 'END', code: 'ERR_AUTH_FAILED', message });
  }

  /** Bytes off the socket: whole frames go to the machine, decoded, in one event. */
  received(chunk: Buffer): void {
    const { frames, error } = this.#decoder.push(chunk);
    if (frames.length > 0) {
      const receivedAt = performance.now();
      const messages = frames.map(this.#decode, this);
      // Only a request restarts the idle timer, not junk (docs/PROTOCOL.md §7, issue #12).
      if (messages.some(isRequest)) this.#watchdog.received(receivedAt);
      this.actor.send({ type: 'RECEIVED', messages, receivedAt });
    }
    if (error) this.actor.send({ type: 'BAD_STREAM', code: error.code, message: error.message });
  }

  socketError(err: Error): void {
    this.#services.log.debug('connection error', {
      connection: this.number,
      peer: this.peer,
      error: describeError(err),
      ...(this.#client === null ? {} : { client: this.#client }),
    });
  }

  /** The machine reached `closed` (as an observer of it). */
  complete(): void {
    this.#finish(this.actor.getSnapshot().context.closeReason ?? 'client-closed');
  }

  /** The machine failed (as an observer of it): a fault in this connection ends it alone. */
  error(err: unknown): void {
    this.#fail(err);
  }

  /** A frame, decoded; a hello with its credential checked and its secret gone. */
  #decode(frame: Uint8Array): ClientMessage | Rejected {
    const message = decodeClientMessage(frame);
    if (message.type !== 'hello') return message;
    const { auth } = this.#services;
    if (auth === undefined || this.#link === undefined) return withoutSecret(message);
    const checked = auth.check(message, this.#link);
    if ('credential' in checked) this.#checkedHellos++;
    return checked;
  }

  #perform(effect: ConnectionEffect): void {
    try {
      switch (effect.type) {
        case 'read':
          this.#services.sensors.read(effect.reads, (results) =>
            this.actor.send({ type: 'COMPUTED', results }),
          );
          break;
        case 'write':
          this.#write(effect.replies);
          break;
        case 'pauseReading':
          this.#stream.pause();
          break;
        case 'resumeReading':
          this.#stream.resume();
          break;
        case 'close':
          closeGracefully(this.#stream);
          break;
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  /** A batch of replies, written now, or once the peer's penalty for failed hellos is served. */
  #write(batch: readonly Reply[]): void {
    const waitMs = this.#checkedHellos > 0 ? this.#answerHellos(batch) : 0;
    if (waitMs <= 0) {
      this.#send(batch);
      return;
    }
    this.#delayedWrite = setTimeout(() => {
      this.#delayedWrite = undefined;
      if (!this.#closed) this.#send(batch);
    }, waitMs);
  }

  /**
   * The answers to checked hellos in a batch: a failure is counted and
   * logged, the client of a success noted; returns how long the batch must
   * wait before it is written, ms (actors/auth.ts).
   */
  #answerHellos(batch: readonly Reply[]): number {
    const { auth, log } = this.#services;
    let waitMs = 0;
    for (const { hello } of batch) {
      if (hello === undefined || auth === undefined || this.#link === undefined) continue;
      this.#checkedHellos--;
      waitMs = Math.max(waitMs, auth.answered(this.#link, hello, this.number));
      if (hello.credential === 'ok' && hello.client !== null) {
        this.#client = hello.client;
        log.info('client authenticated', {
          connection: this.number,
          peer: this.peer,
          client: hello.client,
        });
      }
    }
    return waitMs;
  }

  #send(batch: readonly Reply[]): void {
    const stream = this.#stream;
    // Nobody to write to: nothing is counted as sent; the close that follows ends the connection.
    if (!stream.writable) {
      this.actor.send({ type: 'WRITTEN', bufferedBytes: 0 });
      return;
    }
    const { telemetry } = this.#services;
    const client = this.#client;
    const now = performance.now();
    for (const { message, reading, station, receivedAt } of batch) {
      if (message.type === 'error') {
        telemetry.errorSent(message.code);
        this.#lastError = message.code;
      }
      if (reading !== null && station !== null && receivedAt !== null) {
        const outcome = message.type === 'error' ? message.code : 'ok';
        const seconds = (now - receivedAt) / 1000;
        if (client === null) telemetry.requestServed(station, reading, outcome, seconds);
        else telemetry.requestServed(station, reading, outcome, seconds, client);
      }
    }
    this.#replies += batch.length;
    // One write for the whole batch: one syscall, and the replies leave in order.
    const watchdog = this.#watchdog;
    const id = watchdog.nextWrite();
    stream.write(encodeMessages(batch.map((reply) => reply.message)), () => watchdog.written(id));
    // Nearly always the socket takes it at once; otherwise DRAINED follows once it has.
    const bufferedBytes = stream.writableLength;
    if (bufferedBytes > 0) watchdog.writeWaiting(id);
    this.actor.send({ type: 'WRITTEN', bufferedBytes });
  }

  #finish(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchdog.stop();
    clearTimeout(this.#delayedWrite);
    const { telemetry, log, onClosed } = this.#services;
    telemetry.connectionClosed(reason);
    log.info('connection closed', {
      connection: this.number,
      peer: this.peer,
      reason,
      replies: this.#replies,
      ...(this.#client === null ? {} : { client: this.#client }),
    });
    onClosed(this, reason);
  }

  /** A fault inside this connection ends this connection alone: the peer is told, the fault logged. */
  #fail(err: unknown): void {
    if (this.#closed) return;
    const { telemetry, log } = this.#services;
    log.error('connection failed', {
      code: 'ERR_INTERNAL',
      connection: this.number,
      peer: this.peer,
      error: describeError(err),
      ...(this.#client === null ? {} : { client: this.#client }),
    });
    telemetry.errorSent('ERR_INTERNAL');
    const stream = this.#stream;
    if (stream.writable) {
      stream.write(
        encodeMessage(errorReply(null, 'ERR_INTERNAL', 'the server failed on this connection')),
      );
    }
    closeGracefully(stream);
    this.#finish('ERR_INTERNAL');
    this.actor.stop();
  }
}
