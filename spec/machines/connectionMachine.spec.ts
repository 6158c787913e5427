/**
 * The connection machine's behaviour, through real actors with a fake world
 * (spec/helpers/fakes.ts). Every spec runs twice: on XState's interpreter,
 * and compiled (lib/statechart), the two ways the server runs the machine.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createActor, type StateValue } from 'xstate';
import {
  type ClientMessage,
  errorReply,
  PROTOCOL_VERSION,
  READING_UNITS,
  READINGS,
  type Reading,
  type ReadingReply,
  type Rejected,
  type ServerMessage,
  UNITS,
  type Welcome,
} from '../../lib/protocol.js';
import type { SensorResult } from '../../lib/sensors/result.js';
import { compileMachine } from '../../lib/statechart/compile.js';
import { MachineActor } from '../../lib/statechart/runtime.js';
import {
  type ConnectionContext,
  type ConnectionEvent,
  type ConnectionLimits,
  connectionMachine,
} from '../../machines/connectionMachine.js';
import { type EffectSource, FakeWorld } from '../helpers/fakes.js';

const STATION = { id: 'test', name: 'Test', latitude: 47.6, longitude: -122.3, elevation: 56 };
const WELCOME: Welcome = {
  type: 'welcome',
  version: PROTOCOL_VERSION,
  server: 'meteo-actors/test',
  station: STATION,
  stations: [STATION],
  units: UNITS,
};

/** 2026-11-26T13:05:00Z, on the minute as the station samples. */
const OBSERVED_AT = Date.UTC(2026, 10, 26, 13, 5);

const hello = (version = PROTOCOL_VERSION): ClientMessage => ({ type: 'hello', version });
const read = (id: number, reading: Reading, station?: string): ClientMessage =>
  station === undefined ? { type: 'read', id, reading } : { type: 'read', id, reading, station };
const value = (v: number): SensorResult => ({ value: v, observedAt: OBSERVED_AT });

function readingReply(id: number, reading: Reading, v: number, station = 'test'): ReadingReply {
  return {
    type: 'reading',
    id,
    station,
    reading,
    value: v,
    unit: READING_UNITS[reading],
    observedAt: new Date(OBSERVED_AT),
  };
}

/** The ids the replies answer, `welcome` standing for the welcome. */
function idsOf(replies: readonly ServerMessage[]): (number | null | 'welcome')[] {
  return replies.map((reply) => (reply.type === 'welcome' ? 'welcome' : reply.id));
}

/** The states in order, each once however many events it took (a congested write is two). */
function distinct(states: readonly StateValue[]): StateValue[] {
  return states.filter((state, i) => JSON.stringify(state) !== JSON.stringify(states[i - 1]));
}

function codesOf(replies: readonly ServerMessage[]): (string | null)[] {
  return replies.map((reply) => (reply.type === 'error' ? reply.code : null));
}

/** Limits far enough away that only the specs of the limits reach them. */
const LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 60_000,
  idleTimeoutMs: 600_000,
  maxQueuedRequests: 10_000,
  maxOutputBytes: 1 << 30,
  writeTimeoutMs: 60_000,
};

/** A started connection machine, however it runs. */
interface Running extends EffectSource {
  getSnapshot(): { status: string; value: StateValue; context: ConnectionContext };
  subscribe(observer: {
    next?: (snapshot: { value: StateValue }) => void;
    error?: (err: unknown) => void;
  }): unknown;
  start(): unknown;
  stop(): unknown;
}

const table = compileMachine(connectionMachine);
const RUNNERS: readonly { name: string; start: (limits: ConnectionLimits) => Running }[] = [
  {
    name: "on XState's interpreter",
    start: (limits) => createActor(connectionMachine, { input: { welcome: WELCOME, limits } }),
  },
  {
    name: 'compiled',
    start: (limits) =>
      new MachineActor<typeof connectionMachine>(table, {
        id: 'connection.1',
        input: { welcome: WELCOME, limits },
      }),
  },
];

for (const runner of RUNNERS) {
  describe(`machines/connectionMachine (${runner.name})`, () => {
    let actor: Running;
    let world: FakeWorld;
    let states: StateValue[];
    let failure: unknown;

    function start(limits: ConnectionLimits = LIMITS): void {
      actor = runner.start(limits);
      world = new FakeWorld(actor);
      states = [];
      failure = undefined;
      actor.subscribe({
        next: (snapshot) => states.push(snapshot.value),
        error: (err) => {
          failure = err;
        },
      });
      actor.start();
    }

    function receive(...messages: (ClientMessage | Rejected)[]): void {
      actor.send({ type: 'RECEIVED', messages, receivedAt: 0 });
    }

    function send(event: ConnectionEvent): void {
      actor.send(event);
    }

    /** Does the handshake, then forgets it, so a spec sees only what follows. */
    function greet(): void {
      receive(hello());
      expect(world.sent).to.deep.equal([[WELCOME]]);
      world.clearRecords();
      states.length = 0;
    }

    const state = (): StateValue => actor.getSnapshot().value;
    const context = (): ConnectionContext => actor.getSnapshot().context;

    beforeEach(() => start());
    afterEach(() => actor.stop());

    describe('its phases', () => {
      it('starts in handshake, serves once the hello is answered, drains, closes, and ends in closed', () => {
        expect(state()).to.equal('handshake');
        world.congested = true;
        receive(hello(), read(1, 'pressure'));
        world.answer(value(1013.2));
        expect(state()).to.deep.equal({ serving: 'replying' });
        world.drain();
        send({ type: 'PEER_ENDED' });
        send({ type: 'PEER_CLOSED' });
        expect(distinct(states)).to.deep.equal([
          'handshake',
          { serving: 'computing' },
          { serving: 'replying' },
          { serving: 'awaiting-request' },
          'closing',
          'closed',
        ]);
        expect(actor.getSnapshot().status).to.equal('done');
      });

      it('goes awaiting-request → computing → replying → awaiting-request for each batch', () => {
        greet();
        world.congested = true;
        receive(read(1, 'pressure'));
        world.answer(value(1013.2));
        world.drain();
        world.congested = true;
        receive(read(2, 'rainfall'));
        world.answer(value(0.2));
        world.drain();
        expect(distinct(states)).to.deep.equal([
          { serving: 'computing' },
          { serving: 'replying' },
          { serving: 'awaiting-request' },
          { serving: 'computing' },
          { serving: 'replying' },
          { serving: 'awaiting-request' },
        ]);
        expect(world.sent).to.deep.equal([
          [readingReply(1, 'pressure', 1013.2)],
          [readingReply(2, 'rainfall', 0.2)],
        ]);
      });

      it('rests in replying until the socket has taken the write', () => {
        greet();
        world.congested = true;
        receive(read(1, 'pressure'));
        world.answer(value(1013.2));
        expect(state()).to.deep.equal({ serving: 'replying' });
        world.drain();
        expect(state()).to.deep.equal({ serving: 'awaiting-request' });
      });

      it('skips computing for a batch that needs no sensors (a hello, errors)', () => {
        receive(hello());
        expect(world.calls).to.deep.equal(['write']);
        expect(states).to.not.deep.include({ serving: 'computing' });
        expect(state()).to.deep.equal({ serving: 'awaiting-request' });
      });
    });

    describe('the request cycle', () => {
      it('answers a hello with the welcome from its input', () => {
        receive(hello());
        expect(world.sent).to.have.length(1);
        expect(world.sent[0]?.[0]).to.equal(WELCOME);
      });

      it('answers reads in request order, with their ids, units and observation times', () => {
        greet();
        receive(read(7, 'rainfall'), read(3, 'minTemperature'), read(9, 'pressure'));
        expect(world.reads).to.deep.equal([['rainfall', 'minTemperature', 'pressure']]);
        world.answer(value(0.4), value(3.2), value(1013.2));
        expect(world.sent).to.deep.equal([
          [
            readingReply(7, 'rainfall', 0.4),
            readingReply(3, 'minTemperature', 3.2),
            readingReply(9, 'pressure', 1013.2),
          ],
        ]);
      });

      it('gives each reading its unit: °C for temperatures, hPa for pressure, mm for rain', () => {
        greet();
        receive(...READINGS.map((reading, i) => read(i, reading)));
        world.answer(value(1), value(2), value(3), value(4));
        expect(
          world.replies.map((reply) => (reply.type === 'reading' ? reply.unit : null)),
        ).to.deep.equal(['°C', '°C', 'hPa', 'mm']);
      });

      it('queues requests that arrive while computing and sends them as the next batch, in order', () => {
        greet();
        receive(read(1, 'pressure'));
        receive(read(2, 'rainfall'));
        receive(read(3, 'minTemperature'), read(4, 'maxTemperature'));
        expect(state()).to.deep.equal({ serving: 'computing' });
        expect(world.reads, 'no second read while one is in flight').to.have.length(1);
        world.answer(value(1000));
        expect(world.reads).to.deep.equal([
          ['pressure'],
          ['rainfall', 'minTemperature', 'maxTemperature'],
        ]);
        world.answer(value(0.2), value(-1.5), value(8));
        expect(world.sent).to.deep.equal([
          [readingReply(1, 'pressure', 1000)],
          [
            readingReply(2, 'rainfall', 0.2),
            readingReply(3, 'minTemperature', -1.5),
            readingReply(4, 'maxTemperature', 8),
          ],
        ]);
        expect(state()).to.deep.equal({ serving: 'awaiting-request' });
      });

      it('answers a hello and the reads behind it, received together, in order in one write', () => {
        receive(hello(), read(1, 'minTemperature'), read(2, 'maxTemperature'));
        expect(world.reads).to.deep.equal([['minTemperature', 'maxTemperature']]);
        world.answer(value(3.2), value(9.8));
        expect(world.sent).to.deep.equal([
          [WELCOME, readingReply(1, 'minTemperature', 3.2), readingReply(2, 'maxTemperature', 9.8)],
        ]);
      });

      it('gives every request exactly one reply, in request order, however requests and results interleave (property)', () => {
        const request = fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom(...READINGS).map((reading) => ({ reading })) },
          { weight: 1, arbitrary: fc.constant({ rejected: true as const }) },
          { weight: 1, arbitrary: fc.constant({ hello: true as const }) },
        );
        const step = fc.record({
          messages: fc.array(request, { minLength: 1, maxLength: 5 }),
          answerFirst: fc.boolean(),
          fail: fc.boolean(),
          congested: fc.boolean(),
        });
        fc.assert(
          fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
            actor.stop();
            start();
            greet();
            let nextId = 1;
            const expected: (number | null)[] = [];
            const answerOldest = (fail: boolean): void => {
              const pending = world.pending[0];
              if (!pending) return;
              world.answer(
                ...pending.map((_, i) =>
                  fail && i === 0
                    ? { code: 'ERR_SENSOR_FAILED' as const, message: 'test' }
                    : value(i),
                ),
              );
            };
            for (const { messages, answerFirst, fail, congested } of steps) {
              if (!congested) world.drain();
              world.congested = congested;
              if (answerFirst) answerOldest(fail);
              receive(
                ...messages.map((message): ClientMessage | Rejected => {
                  if ('hello' in message) {
                    expected.push(null);
                    return hello();
                  }
                  const id = nextId++;
                  expected.push(id);
                  return 'rejected' in message
                    ? { type: 'rejected', id, code: 'ERR_UNKNOWN_READING', message: 'test' }
                    : read(id, message.reading);
                }),
              );
            }
            world.drain();
            while (world.pending.length > 0) {
              answerOldest(false);
              world.drain();
            }
            expect(idsOf(world.replies)).to.deep.equal(expected);
            expect(world.calls).to.not.include('close');
            expect(state()).to.deep.equal({ serving: 'awaiting-request' });
          }),
          { numRuns: 200 },
        );
      });
    });

    describe('the handshake', () => {
      it('refuses a read before the hello with ERR_HANDSHAKE_REQUIRED and the read’s id, at once', () => {
        receive(read(5, 'pressure'));
        expect(world.sent).to.deep.equal([
          [errorReply(5, 'ERR_HANDSHAKE_REQUIRED', 'send hello before any request')],
        ]);
        expect(state()).to.equal('handshake');
        receive(hello());
        expect(world.replies.at(-1)).to.equal(WELCOME);
      });

      it('refuses a second hello with ERR_ALREADY_GREETED and stays open', () => {
        greet();
        receive(hello());
        expect(codesOf(world.replies)).to.deep.equal(['ERR_ALREADY_GREETED']);
        expect(state()).to.deep.equal({ serving: 'awaiting-request' });
      });

      it('answers a hello of another version with ERR_UNSUPPORTED_VERSION, then closes after the reply', () => {
        receive(hello(99), read(1, 'pressure'));
        expect(codesOf(world.replies)).to.deep.equal(['ERR_UNSUPPORTED_VERSION']);
        expect(world.calls).to.deep.equal(['pauseReading', 'write', 'close']);
        expect(state()).to.equal('closing');
        expect(context().closeReason).to.equal('ERR_UNSUPPORTED_VERSION');
      });

      it('closes with ERR_HANDSHAKE_TIMEOUT when the handshake timeout comes before the hello', () => {
        send({ type: 'HANDSHAKE_TIMEOUT' });
        expect(codesOf(world.replies)).to.deep.equal(['ERR_HANDSHAKE_TIMEOUT']);
        expect(state()).to.equal('closing');
      });

      it('does nothing at the handshake timeout once the hello has come', () => {
        greet();
        send({ type: 'HANDSHAKE_TIMEOUT' });
        expect(world.effects).to.deep.equal([]);
        expect(state()).to.deep.equal({ serving: 'awaiting-request' });
      });

      it('cuts off a peer that floods it before the hello without reading, with ERR_SLOW_READER', () => {
        start({ ...LIMITS, maxOutputBytes: 1_000 });
        world.congested = true;
        world.unsentBytes = 5_000;
        receive(read(1, 'pressure'));
        expect(codesOf(world.replies)).to.deep.equal(['ERR_HANDSHAKE_REQUIRED', 'ERR_SLOW_READER']);
        expect(state()).to.equal('closing');
      });
    });

    describe('stations', () => {
      beforeEach(() => {
        actor.stop();
        actor = runner.start(LIMITS);
      });

      it('reads the station a request names, and says which in the reply', () => {
        start();
        greet();
        receive(read(1, 'pressure', 'test'));
        expect(world.pending[0]?.[0]?.station).to.equal(0);
        world.answer(value(1000));
        expect(world.replies).to.deep.equal([readingReply(1, 'pressure', 1000)]);
      });

      it('answers a station it does not serve with ERR_UNKNOWN_STATION, in its place', () => {
        start();
        greet();
        receive(read(1, 'pressure'), read(2, 'rainfall', 'nowhere'), read(3, 'rainfall'));
        world.answer(value(1000), value(0.2));
        expect(idsOf(world.replies)).to.deep.equal([1, 2, 3]);
        expect(codesOf(world.replies)).to.deep.equal([null, 'ERR_UNKNOWN_STATION', null]);
      });
    });

    describe('bad requests and failed reads', () => {
      it('answers a rejected frame with its error reply in its place and stays usable', () => {
        greet();
        receive(
          read(1, 'pressure'),
          { type: 'rejected', id: 2, code: 'ERR_UNKNOWN_READING', message: 'no reading named x' },
          read(3, 'rainfall'),
        );
        world.answer(value(1000), value(0.2));
        expect(idsOf(world.replies)).to.deep.equal([1, 2, 3]);
        expect(codesOf(world.replies)).to.deep.equal([null, 'ERR_UNKNOWN_READING', null]);
        expect(state()).to.deep.equal({ serving: 'awaiting-request' });
      });

      it('answers a failed sensor read with an error reply of its code, never a number', () => {
        greet();
        receive(read(1, 'pressure'), read(2, 'rainfall'));
        world.answer({ code: 'ERR_READING_UNAVAILABLE', message: 'no pressure' }, value(0.2));
        expect(codesOf(world.replies)).to.deep.equal(['ERR_READING_UNAVAILABLE', null]);
      });

      it('answers ERR_SENSOR_FAILED for a read the sensors gave no result for', () => {
        greet();
        receive(read(1, 'pressure'), read(2, 'rainfall'));
        world.answer(value(1000));
        expect(codesOf(world.replies)).to.deep.equal([null, 'ERR_SENSOR_FAILED']);
      });
    });

    describe('ending', () => {
      it('on BAD_STREAM while computing pauses reading, sends the replies in flight, then the error, then closes', () => {
        greet();
        receive(read(1, 'pressure'));
        send({
          type: 'BAD_STREAM',
          code: 'ERR_FRAME_TOO_LARGE',
          message: 'frame declares 9999 bytes',
        });
        expect(world.calls).to.deep.equal(['read', 'pauseReading']);
        world.answer(value(1000));
        expect(idsOf(world.replies)).to.deep.equal([1, null]);
        expect(codesOf(world.replies)).to.deep.equal([null, 'ERR_FRAME_TOO_LARGE']);
        expect(world.calls.at(-1)).to.equal('close');
        expect(states).to.deep.include({ draining: 'replying' });
      });

      it('on PEER_ENDED answers everything queued, then closes without an error', () => {
        greet();
        receive(read(1, 'pressure'));
        receive(read(2, 'rainfall'));
        send({ type: 'PEER_ENDED' });
        world.answer(value(1000));
        expect(state()).to.deep.equal({ draining: 'computing' });
        world.answer(value(0.2));
        expect(idsOf(world.replies)).to.deep.equal([1, 2]);
        expect(codesOf(world.replies)).to.deep.equal([null, null]);
        expect(state()).to.equal('closing');
        expect(context().closeReason).to.equal('client-ended');
      });

      it('on PEER_ENDED with nothing queued closes at once', () => {
        greet();
        send({ type: 'PEER_ENDED' });
        expect(world.calls).to.deep.equal(['pauseReading', 'close']);
        expect(state()).to.equal('closing');
      });

      it('on SHUTDOWN answers what was received, then sends ERR_SHUTTING_DOWN with no id, then closes', () => {
        greet();
        receive(read(1, 'pressure'));
        receive(read(2, 'rainfall'));
        send({ type: 'SHUTDOWN' });
        world.answer(value(1000));
        world.answer(value(0.2));
        expect(idsOf(world.replies)).to.deep.equal([1, 2, null]);
        expect(codesOf(world.replies)).to.deep.equal([null, null, 'ERR_SHUTTING_DOWN']);
        expect(state()).to.equal('closing');
      });

      it('on SHUTDOWN when idle sends ERR_SHUTTING_DOWN and closes', () => {
        greet();
        send({ type: 'SHUTDOWN' });
        expect(codesOf(world.replies)).to.deep.equal(['ERR_SHUTTING_DOWN']);
        expect(state()).to.equal('closing');
      });

      it('takes no message received after SHUTDOWN', () => {
        greet();
        receive(read(1, 'pressure'));
        send({ type: 'SHUTDOWN' });
        receive(read(2, 'rainfall'));
        world.answer(value(1000));
        expect(idsOf(world.replies)).to.deep.equal([1, null]);
      });

      it('sends one ERR_SHUTTING_DOWN however many times SHUTDOWN comes', () => {
        greet();
        receive(read(1, 'pressure'));
        send({ type: 'SHUTDOWN' });
        send({ type: 'SHUTDOWN' });
        world.answer(value(1000));
        send({ type: 'SHUTDOWN' });
        expect(codesOf(world.replies)).to.deep.equal([null, 'ERR_SHUTTING_DOWN']);
      });

      it('ends in closed on PEER_CLOSED while computing, and a late COMPUTED does nothing', () => {
        greet();
        receive(read(1, 'pressure'));
        send({ type: 'PEER_CLOSED' });
        expect(state()).to.equal('closed');
        world.answer(value(1000));
        expect(world.replies).to.deep.equal([]);
        expect(failure).to.equal(undefined);
        expect(context().closeReason).to.equal('client-closed');
      });

      it('once closing, takes SHUTDOWN as news of nothing: reading stays on, for the peer’s FIN', () => {
        greet();
        send({ type: 'PEER_ENDED' });
        world.clearRecords();
        send({ type: 'SHUTDOWN' });
        expect(world.effects).to.deep.equal([]);
        expect(state()).to.equal('closing');
      });

      it('records why it closed: the peer, or the error it closed with', () => {
        greet();
        send({ type: 'IDLE_TIMEOUT' });
        send({ type: 'PEER_CLOSED' });
        expect(context().closeReason).to.equal('ERR_IDLE_TIMEOUT');
      });
    });

    describe('back-pressure and limits', () => {
      it('stays in replying while the socket is congested and takes the queued work once it drains', () => {
        greet();
        world.congested = true;
        receive(read(1, 'pressure'));
        world.answer(value(1000));
        receive(read(2, 'rainfall'));
        expect(state()).to.deep.equal({ serving: 'replying' });
        expect(world.reads).to.have.length(1);
        world.drain();
        expect(state()).to.deep.equal({ serving: 'computing' });
        expect(world.reads).to.deep.equal([['pressure'], ['rainfall']]);
      });

      it('closes a congested connection only after it drains when the peer has ended', () => {
        greet();
        world.congested = true;
        receive(read(1, 'pressure'));
        world.answer(value(1000));
        send({ type: 'PEER_ENDED' });
        expect(world.calls).to.not.include('close');
        world.drain();
        expect(world.calls.at(-1)).to.equal('close');
      });

      it('closes with ERR_IDLE_TIMEOUT on IDLE_TIMEOUT while it awaits a request', () => {
        greet();
        send({ type: 'IDLE_TIMEOUT' });
        expect(codesOf(world.replies)).to.deep.equal(['ERR_IDLE_TIMEOUT']);
        expect(state()).to.equal('closing');
      });

      it('takes IDLE_TIMEOUT as news of nothing while it computes: the connection is not idle', () => {
        greet();
        receive(read(1, 'pressure'));
        send({ type: 'IDLE_TIMEOUT' });
        world.answer(value(1000));
        expect(codesOf(world.replies)).to.deep.equal([null]);
        expect(state()).to.deep.equal({ serving: 'awaiting-request' });
      });

      it('pauses reading at the queue depth limit, and resumes once the queue is taken', () => {
        start({ ...LIMITS, maxQueuedRequests: 2 });
        greet();
        receive(read(1, 'pressure'));
        receive(read(2, 'rainfall'), read(3, 'pressure'));
        expect(world.calls).to.deep.equal(['read', 'pauseReading']);
        world.answer(value(1000));
        expect(world.calls).to.deep.equal([
          'read',
          'pauseReading',
          'write',
          'resumeReading',
          'read',
        ]);
      });

      it('does not resume reading for the queue when it is ending', () => {
        start({ ...LIMITS, maxQueuedRequests: 2 });
        greet();
        receive(read(1, 'pressure'));
        receive(read(2, 'rainfall'), read(3, 'pressure'));
        send({ type: 'SHUTDOWN' });
        world.answer(value(1000));
        world.answer(value(0.2), value(999));
        expect(world.calls).to.not.include('resumeReading');
        expect(codesOf(world.replies)).to.deep.equal([null, null, null, 'ERR_SHUTTING_DOWN']);
      });

      it('cuts off a peer when a write leaves more than the output limit unsent, with ERR_SLOW_READER', () => {
        start({ ...LIMITS, maxOutputBytes: 1_000 });
        greet();
        world.congested = true;
        world.unsentBytes = 5_000;
        receive(read(1, 'pressure'));
        world.answer(value(1000));
        expect(codesOf(world.replies)).to.deep.equal([null, 'ERR_SLOW_READER']);
        expect(state()).to.equal('closing');
        expect(context().closeReason).to.equal('ERR_SLOW_READER');
      });

      it('cuts off a peer whose write waits past the write timeout (WRITE_TIMEOUT) with ERR_SLOW_READER', () => {
        greet();
        world.congested = true;
        receive(read(1, 'pressure'));
        world.answer(value(1000));
        send({ type: 'WRITE_TIMEOUT' });
        expect(codesOf(world.replies)).to.deep.equal([null, 'ERR_SLOW_READER']);
        expect(state()).to.equal('closing');
      });

      it('takes WRITE_TIMEOUT as news of nothing when no write waits', () => {
        greet();
        send({ type: 'WRITE_TIMEOUT' });
        expect(world.effects).to.deep.equal([]);
        expect(state()).to.deep.equal({ serving: 'awaiting-request' });
      });
    });

    describe('faults', () => {
      it('fails on an event no state expects, so the supervisor can end this connection alone', () => {
        greet();
        send({ type: 'COMPUTED', results: [] });
        expect(actor.getSnapshot().status).to.equal('error');
        expect(failure).to.have.property('code', 'ERR_INTERNAL');
      });
    });
  });
}
