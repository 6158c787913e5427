/**
 * The connection actor on a fake duplex: the socket is a stream the spec
 * controls (what arrives, how fast writes are taken), the sensors answer on
 * the next turn as the pool does.
 */

import { performance } from 'node:perf_hooks';
import { Duplex } from 'node:stream';
import { expect } from 'chai';
import { AuthTable, ClientAuth, GUESS_LIMITS } from '../../actors/auth.js';
import {
  type Connection,
  type ConnectionWatchEvent,
  type Sensors,
  startConnection,
} from '../../actors/connection.js';
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_REPLY_FRAME_BYTES } from '../../lib/framing.js';
import { createLogger } from '../../lib/log.js';
import {
  type ClientMessage,
  decodeServerMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type ReceivedServerMessage,
  UNITS,
  type Welcome,
} from '../../lib/protocol.js';
import type { SensorRead } from '../../lib/sensors/batch.js';
import { ServerStats } from '../../lib/telemetry.js';
import { transport } from '../../lib/transport.js';
import type { ConnectionLimits } from '../../machines/connectionMachine.js';
import { nextTurn, until } from '../helpers/wait.js';

const WELCOME: Welcome = {
  type: 'welcome',
  version: PROTOCOL_VERSION,
  server: 'spec',
  station: { id: 'x', name: 'X', latitude: 1.5, longitude: 2.5, elevation: 3 },
  units: UNITS,
  stations: [{ id: 'x', name: 'X', latitude: 1.5, longitude: 2.5, elevation: 3 }],
};
const LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxQueuedRequests: 256,
  maxOutputBytes: 1 << 20,
  writeTimeoutMs: 5_000,
};
const HELLO: ClientMessage = { type: 'hello', version: PROTOCOL_VERSION };

/** A socket stand-in: records every write; can hold writes back, as a peer that reads slowly does. */
class FakeSocket extends Duplex {
  readonly writes: Buffer[] = [];
  readonly #held: (() => void)[] = [];
  #holding = false;

  constructor(writableHighWaterMark = 16 * 1024) {
    super({ writableHighWaterMark, allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.writes.push(chunk);
    if (this.#holding) this.#held.push(done);
    else done();
  }

  arrive(...messages: ClientMessage[]): void {
    this.push(Buffer.concat(messages.map(encodeMessage)));
  }

  hold(): void {
    this.#holding = true;
  }

  release(): void {
    this.#holding = false;
    for (const done of this.#held.splice(0)) done();
  }

  /** Every message written so far. */
  replies(): ReceivedServerMessage[] {
    const decoder = new FrameDecoder(MAX_REPLY_FRAME_BYTES);
    return decoder.push(Buffer.concat(this.writes)).frames.map(decodeServerMessage);
  }
}

/** Sensors that answer on the next turn with a value derived from the reading's position. */
function fakeSensors(): Sensors & { calls: number } {
  const sensors = {
    calls: 0,
    read(
      reads: readonly SensorRead[],
      done: (results: { value: number; observedAt: number }[]) => void,
    ) {
      sensors.calls++;
      setImmediate(() => done(reads.map((_, i) => ({ value: i + 0.5, observedAt: 60_000 }))));
    },
  };
  return sensors;
}

function reads(count: number, firstId = 1): ClientMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'read',
    id: firstId + i,
    reading: 'pressure',
  }));
}

/** A connection runs alike whether an inspector watches it or not. */
const WAYS = [
  { name: 'not inspected', inspect: undefined },
  { name: 'inspected', inspect: { next: (_: ConnectionWatchEvent) => {} } },
] as const;

for (const way of WAYS)
  describe(`actors/connection (${way.name})`, () => {
    let socket: FakeSocket;
    let handle: Connection;
    let closed: number;
    let logged: string[];
    let stats: ServerStats;

    function start(
      sensors: Sensors = fakeSensors(),
      highWaterMark?: number,
      limits = LIMITS,
    ): void {
      socket = new FakeSocket(highWaterMark);
      stats = new ServerStats();
      closed = 0;
      logged = [];
      handle = startConnection(
        {
          welcome: WELCOME,
          sensors,
          limits,
          log: createLogger((line) => logged.push(line), 'debug'),
          telemetry: stats,
          onClosed: () => closed++,
        },
        transport(socket, 'fake:1'),
        1,
        way.inspect,
      );
    }

    afterEach(() => socket.destroy());

    it('answers a hello and the requests pipelined behind it in one write, in order', async () => {
      start();
      socket.arrive(HELLO, ...reads(16));
      await until(() => socket.replies().length === 17, '17 replies');
      const replies = socket.replies();
      expect(replies[0]).to.deep.include({ type: 'welcome' });
      expect(
        replies.slice(1).map((reply) => (reply.type === 'reading' ? reply.id : -1)),
      ).to.deep.equal(Array.from({ length: 16 }, (_, i) => i + 1));
      expect(socket.writes).to.have.length(1);
    });

    it('holds later work while the peer is slow to read, then answers all of it in order', async () => {
      const sensors = fakeSensors();
      start(sensors, 64);
      socket.hold();
      socket.arrive(HELLO, ...reads(3));
      await until(() => socket.writes.length === 1, 'the first write');
      // The write is over the 64-byte high-water mark and not taken yet: the machine waits in `replying`.
      expect(handle.actor.getSnapshot().value).to.deep.equal({ serving: 'replying' });
      socket.arrive(...reads(5, 100));
      // Once the five are in the mailbox, the machine has had its chance to read them.
      await until(
        () => handle.actor.getSnapshot().context.queue.length === 5 || sensors.calls > 1,
        'the later requests are queued (or read)',
      );
      expect(handle.actor.getSnapshot().value).to.deep.equal({ serving: 'replying' });
      expect(sensors.calls, 'reads while the peer is slow').to.equal(1);
      socket.release();
      await until(() => socket.replies().length === 9, 'all 9 replies');
      expect(
        socket.replies().map((reply) => (reply.type === 'reading' ? reply.id : 0)),
      ).to.deep.equal([0, 1, 2, 3, 100, 101, 102, 103, 104]);
    });

    it('shows a watcher its snapshots from the moment it watches, and nothing once it stops', async () => {
      start();
      const seen: string[] = [];
      const watching = handle.watch({
        next: (event) => {
          if (event.type === '@xstate.snapshot') {
            seen.push(JSON.stringify((event.snapshot as { value: unknown }).value));
          }
        },
      });
      socket.arrive(HELLO, ...reads(1));
      await until(() => socket.replies().length === 2, 'the welcome and a reading');
      expect(seen).to.include(JSON.stringify({ serving: 'computing' }));
      watching.unsubscribe();
      const before = seen.length;
      socket.arrive(...reads(1, 2));
      await until(() => socket.replies().length === 3, 'a second reading');
      expect(seen).to.have.length(before);
    });

    describe('a hello that says who the client is (issue #14)', () => {
      const SECRET = 'a-secret-nobody-may-see';
      const GOOD = { name: 'kiosk', secret: SECRET };

      /** Starts with a gate of one client; the fake stream is TLS unless `clear`. */
      function startChecked(
        clear = false,
        firstDelayMs = 1,
        sensors: Sensors = fakeSensors(),
      ): void {
        socket = new FakeSocket();
        if (!clear) Object.assign(socket, { encrypted: true, remoteAddress: '10.0.0.7' });
        stats = new ServerStats();
        closed = 0;
        logged = [];
        const log = createLogger((line) => logged.push(line), 'debug');
        handle = startConnection(
          {
            welcome: WELCOME,
            sensors,
            limits: LIMITS,
            log,
            telemetry: stats,
            auth: new ClientAuth({
              table: new AuthTable([{ client: 'kiosk', secret: SECRET }]),
              limits: { ...GUESS_LIMITS, firstDelayMs },
              log,
              telemetry: stats,
            }),
            onClosed: () => closed++,
          },
          transport(socket, 'fake:1'),
          1,
          way.inspect,
        );
      }

      it('checks the credential as it decodes the hello: no event or snapshot of the machine holds the secret', async () => {
        startChecked();
        const seen: string[] = [];
        handle.watch({ next: (event) => seen.push(JSON.stringify(event)) });
        socket.arrive({ type: 'hello', version: PROTOCOL_VERSION, auth: GOOD }, ...reads(2));
        await until(() => socket.replies().length === 3, 'the welcome and two readings');
        expect(socket.replies()[0]).to.deep.include({ type: 'welcome' });
        expect(handle.client).to.equal('kiosk');
        expect(seen.length).to.be.above(0);
        expect(seen.join('\n')).not.to.include(SECRET);
        expect(JSON.stringify(handle.actor.getSnapshot().context)).not.to.include(SECRET);
        expect(stats.snapshot(0).auth.requests).to.deep.equal({ kiosk: 2 });
        expect(logged.join('\n')).not.to.include(SECRET);
      });

      it('refuses a credential on a stream that is neither TLS nor loopback: it crossed a network in clear', async () => {
        startChecked(true);
        socket.arrive({ type: 'hello', version: PROTOCOL_VERSION, auth: GOOD });
        await until(() => socket.replies().length === 1, 'the refusal');
        expect(socket.replies()[0]).to.deep.include({ code: 'ERR_AUTH_FAILED' });
        expect(stats.snapshot(0).auth.failures).to.deep.equal({ cleartext: 1 });
      });

      it('writes the answer to a wrong secret only after the penalty, the machine waiting in replying', async () => {
        startChecked(false, 150);
        const started = performance.now();
        socket.arrive(
          {
            type: 'hello',
            version: PROTOCOL_VERSION,
            auth: { ...GOOD, secret: 'not it at all!!!' },
          },
          ...reads(1),
        );
        await until(() => handle.actor.getSnapshot().context.closeReason !== null, 'the refusal');
        expect(socket.writes).to.have.length(0);
        await until(() => socket.replies().length === 1, 'the refusal, written', 2_000);
        expect(performance.now() - started).to.be.at.least(140);
        expect(
          socket.replies().map((reply) => (reply.type === 'error' ? reply.code : reply.type)),
        ).to.deep.equal(['ERR_AUTH_FAILED']);
        expect(stats.snapshot(0).auth.failures).to.deep.equal({ 'wrong-secret': 1 });
      });

      it('names its client in the log lines of a socket error and of a fault, as in that of its close', async () => {
        startChecked(false, 1, {
          read() {
            throw new Error('wiring fault');
          },
        });
        socket.arrive({ type: 'hello', version: PROTOCOL_VERSION, auth: GOOD });
        await until(() => socket.replies().length === 1, 'the welcome');
        socket.emit('error', new Error('connection reset'));
        socket.arrive(...reads(1));
        await until(() => closed === 1, 'the close is reported');
        for (const message of ['connection error', 'connection failed', 'connection closed']) {
          expect(
            logged.find((line) => line.includes(` ${message} `)),
            message,
          ).to.include(' client=kiosk');
        }
      });

      it('when revoked, answers what it received, then ERR_AUTH_FAILED with id nil, and closes', async () => {
        startChecked();
        socket.arrive({ type: 'hello', version: PROTOCOL_VERSION, auth: GOOD });
        await until(() => socket.replies().length === 1, 'the welcome');
        socket.arrive(...reads(2));
        handle.revoke('kiosk is no longer let in');
        await until(() => socket.writableEnded, 'the close');
        expect(
          socket
            .replies()
            .map((reply) => (reply.type === 'error' ? [reply.code, reply.id] : reply.type)),
        ).to.deep.equal(['welcome', 'reading', 'reading', ['ERR_AUTH_FAILED', null]]);
      });
    });

    it('answers an oversized length prefix with ERR_FRAME_TOO_LARGE, then ends the socket', async () => {
      start();
      const header = Buffer.alloc(FRAME_HEADER_BYTES);
      header.writeUInt32BE(1 << 30);
      socket.push(Buffer.concat([encodeMessage(HELLO), header]));
      await until(() => socket.writableEnded, 'the socket is ended');
      const replies = socket.replies();
      expect(replies.map((reply) => reply.type)).to.deep.equal(['welcome', 'error']);
      expect(replies[1]).to.deep.include({ code: 'ERR_FRAME_TOO_LARGE', id: null });
    });

    it('answers everything a half-closed peer sent, then ends the socket', async () => {
      start();
      socket.arrive(HELLO, ...reads(4));
      socket.push(null);
      await until(() => socket.writableEnded, 'the socket is ended');
      expect(socket.replies()).to.have.length(5);
    });

    it('reports its close to its supervisor once, when the socket is gone', async () => {
      start();
      socket.arrive(HELLO);
      await until(() => socket.replies().length === 1, 'the welcome');
      handle.abort();
      await until(() => closed > 0, 'the close is reported');
      // A second report could only follow the socket's 'close' event: let it come and go.
      await until(() => socket.closed, 'the socket has closed');
      await nextTurn();
      expect(closed).to.equal(1);
      expect(handle.actor.getSnapshot().status).to.equal('done');
    });

    it('ends this connection alone when a fault is thrown inside it: ERR_INTERNAL to the peer, a log line, a count', async () => {
      start({
        read() {
          throw new Error('wiring fault');
        },
      });
      socket.arrive(HELLO, ...reads(1));
      await until(() => closed === 1, 'the close is reported');
      expect(socket.writableEnded).to.equal(true);
      expect(
        socket.replies().map((reply) => (reply.type === 'error' ? reply.code : reply.type)),
      ).to.deep.equal(['ERR_INTERNAL']);
      expect(
        logged.some((line) => line.includes('connection failed') && line.includes('wiring fault')),
      ).to.equal(true);
      expect(stats.snapshot(0).connections.closed).to.deep.equal({ ERR_INTERNAL: 1 });
    });
  });
