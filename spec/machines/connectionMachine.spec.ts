import { expect } from 'chai';
import fc from 'fast-check';
import { type Actor, createActor, SimulatedClock, type StateValue } from 'xstate';
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
import {
  type ConnectionEvent,
  type ConnectionLimits,
  connectionMachine,
} from '../../machines/connectionMachine.js';
import { FakeLink } from '../helpers/fakes.js';

const WELCOME: Welcome = {
  type: 'welcome',
  version: PROTOCOL_VERSION,
  server: 'meteo-actors/test',
  station: { id: 'test', name: 'Test', latitude: 47.6, longitude: -122.3, elevation: 56 },
  units: UNITS,
  stations: [{ id: 'test', name: 'Test', latitude: 47.6, longitude: -122.3, elevation: 56 }],
};

/** 2026-11-26T13:05:00Z, on the minute as the station samples. */
const OBSERVED_AT = Date.UTC(2026, 10, 26, 13, 5);

const hello = (version = PROTOCOL_VERSION): ClientMessage => ({ type: 'hello', version });
const read = (id: number, reading: Reading): ClientMessage => ({ type: 'read', id, reading });
const value = (v: number): SensorResult => ({ value: v, observedAt: OBSERVED_AT });

function readingReply(id: number, reading: Reading, v: number): ReadingReply {
  return {
    type: 'reading',
    id,
    station: 'test',
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

/** Limits far enough away that only the specs of the limits reach them. */
const LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 60_000,
  idleTimeoutMs: 600_000,
  maxQueuedRequests: 10_000,
  maxOutputBytes: 1 << 30,
  writeTimeoutMs: 60_000,
};

describe('machines/connectionMachine', () => {
  let link: FakeLink;
  let actor: Actor<typeof connectionMachine>;
  let states: StateValue[];

  function start(): void {
    link = new FakeLink();
    actor = createActor(connectionMachine, {
      input: { connectionId: '#1', welcome: WELCOME, link, limits: LIMITS },
    });
    states = [];
    actor.subscribe((snapshot) => states.push(snapshot.value));
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
    expect(link.sent).to.deep.equal([[WELCOME]]);
    link.clearRecords();
    states.length = 0;
  }

  const state = (): StateValue => actor.getSnapshot().value;

  beforeEach(start);
  afterEach(() => actor.stop());

  describe('the request loop', () => {
    it('goes awaiting-request → computing → replying → awaiting-request for each batch', () => {
      // A congested link holds the machine in `replying` until the write is taken, where a
      // subscriber, which sees one snapshot per event, can see it.
      link.congested = true;
      receive(hello(), read(1, 'pressure'));
      link.answer(value(1013.2));
      link.drain();
      link.congested = true;
      receive(read(2, 'rainfall'));
      link.answer(value(0.2));
      link.drain();
      expect(states).to.deep.equal([
        'awaiting-request',
        'computing',
        'replying',
        'awaiting-request',
        'computing',
        'replying',
        'awaiting-request',
      ]);
      expect(link.sent).to.deep.equal([
        [WELCOME, readingReply(1, 'pressure', 1013.2)],
        [readingReply(2, 'rainfall', 0.2)],
      ]);
    });

    it('rests in replying until the link has taken the write', () => {
      link.congested = true;
      receive(hello(), read(1, 'pressure'));
      link.answer(value(1013.2));
      expect(state()).to.equal('replying');
      link.drain();
      expect(state()).to.equal('awaiting-request');
    });

    it('answers a hello with the welcome from its input', () => {
      receive(hello());
      expect(link.sent).to.have.length(1);
      expect(link.sent[0]).to.have.length(1);
      expect(link.sent[0]?.[0]).to.equal(WELCOME);
      expect(state()).to.equal('awaiting-request');
    });

    it('answers reads in request order, with their ids, units and observation times', () => {
      greet();
      receive(read(7, 'rainfall'), read(3, 'minTemperature'), read(9, 'pressure'));
      expect(link.reads.map((r) => r.readings)).to.deep.equal([
        ['rainfall', 'minTemperature', 'pressure'],
      ]);
      link.answer(value(0.4), value(3.2), value(1013.2));
      expect(link.sent).to.deep.equal([
        [
          readingReply(7, 'rainfall', 0.4),
          readingReply(3, 'minTemperature', 3.2),
          readingReply(9, 'pressure', 1013.2),
        ],
      ]);
      for (const reply of link.replies) {
        expect(reply.type).to.equal('reading');
        if (reply.type !== 'reading') continue;
        expect(reply.unit).to.equal(READING_UNITS[reply.reading]);
        expect(reply.observedAt).to.be.instanceOf(Date);
        expect(reply.observedAt.getTime()).to.equal(OBSERVED_AT);
      }
    });

    it('gives each reading its unit: °C for temperatures, hPa for pressure, mm for rain', () => {
      greet();
      receive(...READINGS.map((reading, i) => read(i, reading)));
      link.answer(value(1), value(2), value(3), value(4));
      expect(
        link.replies.map((reply) => (reply.type === 'reading' ? reply.unit : null)),
      ).to.deep.equal(['°C', '°C', 'hPa', 'mm']);
    });

    it('queues requests that arrive while computing and sends them as the next batch, in order', () => {
      greet();
      receive(read(1, 'pressure'));
      expect(state()).to.equal('computing');
      receive(read(2, 'rainfall'));
      receive(read(3, 'minTemperature'), read(4, 'maxTemperature'));
      expect(state()).to.equal('computing');
      expect(link.reads, 'no second read while one is in flight').to.have.length(1);
      expect(link.sent).to.deep.equal([]);

      link.answer(value(1000));
      expect(link.sent).to.deep.equal([[readingReply(1, 'pressure', 1000)]]);
      expect(link.reads.map((r) => r.readings)).to.deep.equal([
        ['pressure'],
        ['rainfall', 'minTemperature', 'maxTemperature'],
      ]);
      expect(state()).to.equal('computing');

      link.answer(value(0.2), value(-1.5), value(8));
      expect(link.sent).to.deep.equal([
        [readingReply(1, 'pressure', 1000)],
        [
          readingReply(2, 'rainfall', 0.2),
          readingReply(3, 'minTemperature', -1.5),
          readingReply(4, 'maxTemperature', 8),
        ],
      ]);
      expect(
        link.calls.filter((call) => call === 'send'),
        'one send per batch',
      ).to.have.length(2);
      expect(state()).to.equal('awaiting-request');
    });

    it('answers a hello and the reads behind it, received together, in order in one batch', () => {
      receive(hello(), read(1, 'minTemperature'), read(2, 'maxTemperature'));
      expect(link.reads.map((r) => r.readings)).to.deep.equal([
        ['minTemperature', 'maxTemperature'],
      ]);
      link.answer(value(3.2), value(9.8));
      expect(link.sent).to.deep.equal([
        [WELCOME, readingReply(1, 'minTemperature', 3.2), readingReply(2, 'maxTemperature', 9.8)],
      ]);
    });

    it('gives every request exactly one reply, in request order, however requests and results interleave (property)', () => {
      // A message to send: a read, a rejected frame, or a second hello (all answered in place).
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
            const pending = link.pending[0];
            if (!pending) return;
            link.answer(
              ...pending.readings.map((_, i) =>
                fail && i === 0
                  ? { code: 'ERR_SENSOR_FAILED' as const, message: 'test' }
                  : value(i),
              ),
            );
          };
          const drain = (): void => link.drain();
          for (const { messages, answerFirst, fail, congested } of steps) {
            if (!congested && link.congested) drain();
            link.congested = congested;
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
          drain();
          while (link.pending.length > 0) answerOldest(false);
          expect(idsOf(link.replies)).to.deep.equal(expected);
          expect(link.closeCalls).to.equal(0);
          expect(state()).to.equal('awaiting-request');
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('the handshake', () => {
    it('refuses a read before the hello with ERR_HANDSHAKE_REQUIRED and the read’s id', () => {
      receive(read(5, 'pressure'));
      expect(link.sent).to.deep.equal([
        [errorReply(5, 'ERR_HANDSHAKE_REQUIRED', 'send hello before any request')],
      ]);
      expect(link.pending, 'no sensor is read for it').to.deep.equal([]);
      receive(hello());
      expect(link.replies.map((reply) => reply.type)).to.deep.equal(['error', 'welcome']);
      expect(link.closeCalls).to.equal(0);
    });

    it('refuses a second hello with ERR_ALREADY_GREETED and stays open', () => {
      greet();
      receive(hello(), read(1, 'rainfall'));
      link.answer(value(0.2));
      expect(link.sent).to.have.length(1);
      const [refusal, reading] = link.sent[0] ?? [];
      expect(refusal).to.include({ type: 'error', id: null, code: 'ERR_ALREADY_GREETED' });
      expect(reading).to.deep.equal(readingReply(1, 'rainfall', 0.2));
      expect(link.closeCalls).to.equal(0);
      expect(state()).to.equal('awaiting-request');
    });

    it('answers a hello of another version with ERR_UNSUPPORTED_VERSION, then closes after the reply', () => {
      receive(hello(PROTOCOL_VERSION + 1));
      expect(link.replies).to.have.length(1);
      expect(link.replies[0]).to.include({
        type: 'error',
        id: null,
        code: 'ERR_UNSUPPORTED_VERSION',
      });
      expect(state()).to.equal('closing');
      expect(link.closeCalls).to.equal(1);
      expect(link.calls.at(-1)).to.equal('close');
      expect(link.calls.indexOf('send')).to.be.below(link.calls.indexOf('close'));
    });

    it('takes nothing more once the version is refused', () => {
      receive(hello(PROTOCOL_VERSION + 1), hello(), read(1, 'pressure'));
      receive(hello());
      expect(idsOf(link.replies)).to.deep.equal([null]);
      expect(link.replies[0]).to.include({ code: 'ERR_UNSUPPORTED_VERSION' });
      expect(link.pending).to.deep.equal([]);
      expect(link.closeCalls).to.equal(1);
    });
  });

  describe('stations', () => {
    const OTHER = { id: 'other', name: 'Other', latitude: -60, longitude: 10, elevation: 0 };

    function startWithStations(): void {
      actor.stop();
      link = new FakeLink();
      actor = createActor(connectionMachine, {
        input: {
          connectionId: '#1',
          welcome: { ...WELCOME, stations: [WELCOME.station, OTHER] },
          link,
          limits: LIMITS,
        },
      });
      actor.start();
      receive(hello());
      link.clearRecords();
    }

    it('reads the station a request names, and says which in the reply', () => {
      startWithStations();
      receive({ type: 'read', id: 1, reading: 'pressure', station: 'other' }, read(2, 'rainfall'));
      expect(link.reads[0]?.reads).to.deep.equal([
        { kind: 'read', id: 1, reading: 'pressure', station: 1, receivedAt: 0 },
        { kind: 'read', id: 2, reading: 'rainfall', station: 0, receivedAt: 0 },
      ]);
      link.answer(value(990.5), value(0.4));
      expect(
        link.replies.map((reply) => (reply.type === 'reading' ? reply.station : reply.type)),
      ).to.deep.equal(['other', 'test']);
    });

    it('answers a station it does not serve with ERR_UNKNOWN_STATION, in its place', () => {
      startWithStations();
      receive(read(1, 'pressure'), {
        type: 'read',
        id: 2,
        reading: 'pressure',
        station: 'atlantis',
      });
      link.answer(value(1000));
      expect(link.replies).to.have.length(2);
      expect(link.replies[1]).to.include({ type: 'error', id: 2, code: 'ERR_UNKNOWN_STATION' });
      expect(link.reads[0]?.reads).to.have.length(1);
    });
  });

  describe('bad requests and failed reads', () => {
    it('answers a rejected frame with its error reply in its place and stays usable', () => {
      greet();
      receive(
        read(1, 'pressure'),
        {
          type: 'rejected',
          id: 2,
          code: 'ERR_UNKNOWN_READING',
          message: 'no reading named "wind"',
        },
        read(3, 'rainfall'),
      );
      expect(link.reads.map((r) => r.readings)).to.deep.equal([['pressure', 'rainfall']]);
      link.answer(value(1001), value(0));
      expect(link.sent).to.deep.equal([
        [
          readingReply(1, 'pressure', 1001),
          errorReply(2, 'ERR_UNKNOWN_READING', 'no reading named "wind"'),
          readingReply(3, 'rainfall', 0),
        ],
      ]);
      receive(read(4, 'maxTemperature'));
      link.answer(value(12));
      expect(link.sent.at(-1)).to.deep.equal([readingReply(4, 'maxTemperature', 12)]);
      expect(link.closeCalls).to.equal(0);
    });

    it('answers a failed sensor read with an error reply of its code, never a number', () => {
      greet();
      receive(read(1, 'pressure'), read(2, 'rainfall'));
      link.answer({ code: 'ERR_SENSOR_FAILED', message: 'the sensor worker failed' }, value(0.6));
      expect(link.sent).to.deep.equal([
        [
          errorReply(1, 'ERR_SENSOR_FAILED', 'the sensor worker failed'),
          readingReply(2, 'rainfall', 0.6),
        ],
      ]);
      expect(link.replies[0]).to.not.have.property('value');
      expect(link.closeCalls).to.equal(0);
    });

    it('answers ERR_SENSOR_FAILED for a read the sensors gave no result for', () => {
      greet();
      receive(read(1, 'pressure'), read(2, 'rainfall'));
      link.answer(value(1002));
      expect(link.replies).to.have.length(2);
      expect(link.replies[1]).to.include({ type: 'error', id: 2, code: 'ERR_SENSOR_FAILED' });
      expect(link.replies[1]).to.not.have.property('value');
    });
  });

  describe('closing', () => {
    it('on BAD_STREAM while computing, pauses reading, sends the replies in flight, then the error, then closes', () => {
      greet();
      receive(read(1, 'pressure'), read(2, 'rainfall'));
      send({ type: 'BAD_STREAM', code: 'ERR_FRAME_TOO_LARGE', message: 'frame of 2 GB' });
      expect(link.pauseReadingCalls).to.equal(1);
      expect(link.closeCalls, 'not before the replies').to.equal(0);
      receive(read(3, 'minTemperature')); // bytes after a broken frame are not trusted
      link.answer(value(1003), value(0.8));
      expect(link.sent).to.deep.equal([
        [readingReply(1, 'pressure', 1003), readingReply(2, 'rainfall', 0.8)],
        [errorReply(null, 'ERR_FRAME_TOO_LARGE', 'frame of 2 GB')],
      ]);
      expect(link.closeCalls).to.equal(1);
      expect(link.calls.filter((call) => call !== 'read')).to.deep.equal([
        'pauseReading',
        'send',
        'send',
        'close',
      ]);
      expect(state()).to.equal('closing');
    });

    it('on PEER_ENDED answers everything queued, then closes without an error', () => {
      greet();
      receive(read(1, 'pressure'));
      receive(read(2, 'rainfall'));
      send({ type: 'PEER_ENDED' });
      expect(link.closeCalls).to.equal(0);
      link.answer(value(1004));
      expect(link.closeCalls).to.equal(0);
      link.answer(value(1.2));
      expect(link.sent).to.deep.equal([
        [readingReply(1, 'pressure', 1004)],
        [readingReply(2, 'rainfall', 1.2)],
      ]);
      expect(link.closeCalls).to.equal(1);
      expect(link.calls.at(-1)).to.equal('close');
      expect(state()).to.equal('closing');
    });

    it('on PEER_ENDED with nothing queued closes at once', () => {
      greet();
      send({ type: 'PEER_ENDED' });
      expect(link.sent).to.deep.equal([]);
      expect(link.closeCalls).to.equal(1);
      expect(state()).to.equal('closing');
    });

    it('on SHUTDOWN answers what was received, then sends ERR_SHUTTING_DOWN with no id, then closes', () => {
      greet();
      receive(read(1, 'pressure'));
      receive(read(2, 'rainfall'));
      send({ type: 'SHUTDOWN' });
      expect(link.pauseReadingCalls).to.equal(1);
      receive(read(3, 'maxTemperature'), hello());
      link.answer(value(1005));
      expect(link.reads.map((r) => r.readings)).to.deep.equal([['pressure'], ['rainfall']]);
      link.answer(value(2.4));
      expect(link.sent).to.deep.equal([
        [readingReply(1, 'pressure', 1005)],
        [
          readingReply(2, 'rainfall', 2.4),
          errorReply(null, 'ERR_SHUTTING_DOWN', 'the server is shutting down'),
        ],
      ]);
      expect(link.closeCalls).to.equal(1);
      expect(link.calls.at(-1)).to.equal('close');
      expect(state()).to.equal('closing');
    });

    it('on SHUTDOWN when idle sends ERR_SHUTTING_DOWN and closes', () => {
      greet();
      send({ type: 'SHUTDOWN' });
      expect(link.sent).to.deep.equal([
        [errorReply(null, 'ERR_SHUTTING_DOWN', 'the server is shutting down')],
      ]);
      expect(link.closeCalls).to.equal(1);
    });

    it('ignores messages received after SHUTDOWN', () => {
      greet();
      send({ type: 'SHUTDOWN' });
      receive(read(1, 'pressure'));
      expect(link.replies).to.have.length(1);
      expect(link.replies[0]).to.include({ code: 'ERR_SHUTTING_DOWN' });
      expect(link.reads.every((r) => r.readings.length === 0)).to.equal(true);
    });

    it('sends one ERR_SHUTTING_DOWN however many times SHUTDOWN comes', () => {
      greet();
      receive(read(1, 'pressure'));
      send({ type: 'SHUTDOWN' });
      send({ type: 'SHUTDOWN' });
      link.answer(value(1006));
      expect(idsOf(link.replies)).to.deep.equal([1, null]);
      expect(link.closeCalls).to.equal(1);
    });

    it('ends in closed on PEER_CLOSED while computing, and a late COMPUTED sends nothing', () => {
      greet();
      receive(read(1, 'pressure'));
      send({ type: 'PEER_CLOSED' });
      const snapshot = actor.getSnapshot();
      expect(snapshot.value).to.equal('closed');
      expect(snapshot.status).to.equal('done');
      link.answer(value(1007));
      expect(link.sent).to.deep.equal([]);
      expect(link.closeCalls).to.equal(0);
      expect(actor.getSnapshot().value).to.equal('closed');
    });

    it('once closing, takes SHUTDOWN as news of nothing: reading stays on, for the peer’s FIN', () => {
      greet();
      send({ type: 'PEER_ENDED' });
      expect(state()).to.equal('closing');
      const calls = link.calls.length;
      send({ type: 'SHUTDOWN' });
      expect(link.calls.slice(calls)).to.deep.equal([]);
      expect(link.pauseReadingCalls).to.equal(0);
      expect(state()).to.equal('closing');
      expect(actor.getSnapshot().context.closeReason).to.equal('client-ended');
    });

    it('ends in closed on PEER_CLOSED after closing', () => {
      send({ type: 'SHUTDOWN' });
      expect(state()).to.equal('closing');
      send({ type: 'PEER_CLOSED' });
      expect(actor.getSnapshot().status).to.equal('done');
    });
  });

  describe('back-pressure', () => {
    it('stays in replying while the link is congested and takes the queued work once it drains', () => {
      greet();
      link.congested = true;
      receive(read(1, 'pressure'));
      link.answer(value(1008));
      expect(state()).to.equal('replying');
      receive(read(2, 'rainfall'), read(3, 'minTemperature'));
      expect(state()).to.equal('replying');
      expect(link.reads, 'no read while the peer is slow to read').to.have.length(1);

      link.drain();
      expect(state()).to.equal('computing');
      expect(link.reads.map((r) => r.readings)).to.deep.equal([
        ['pressure'],
        ['rainfall', 'minTemperature'],
      ]);
      link.answer(value(0), value(-3));
      expect(link.sent).to.deep.equal([
        [readingReply(1, 'pressure', 1008)],
        [readingReply(2, 'rainfall', 0), readingReply(3, 'minTemperature', -3)],
      ]);
      expect(state()).to.equal('awaiting-request');
    });

    it('closes a congested connection only after it drains when the peer has ended', () => {
      greet();
      link.congested = true;
      receive(read(1, 'pressure'));
      send({ type: 'PEER_ENDED' });
      link.answer(value(1009));
      expect(state()).to.equal('replying');
      expect(link.closeCalls).to.equal(0);
      link.drain();
      expect(link.closeCalls).to.equal(1);
    });
  });

  describe('limits', () => {
    let clock: SimulatedClock;
    const TIGHT: ConnectionLimits = {
      handshakeTimeoutMs: 5_000,
      idleTimeoutMs: 30_000,
      maxQueuedRequests: 4,
      maxOutputBytes: 10_000,
      writeTimeoutMs: 2_000,
    };

    function startTight(): void {
      actor.stop();
      clock = new SimulatedClock();
      link = new FakeLink();
      actor = createActor(connectionMachine, {
        clock,
        input: { connectionId: '#1', welcome: WELCOME, link, limits: TIGHT },
      });
      actor.start();
    }

    const codes = (): (string | null)[] =>
      link.replies.map((reply) => (reply.type === 'error' ? reply.code : reply.type));

    beforeEach(startTight);

    it('closes with ERR_HANDSHAKE_TIMEOUT when the handshake timeout comes before the hello', () => {
      expect(link.closeCalls).to.equal(0);
      send({ type: 'HANDSHAKE_TIMEOUT' });
      expect(codes()).to.deep.equal(['ERR_HANDSHAKE_TIMEOUT']);
      expect(link.closeCalls).to.equal(1);
      expect(actor.getSnapshot().context.closeReason).to.equal('ERR_HANDSHAKE_TIMEOUT');
    });

    it('does nothing at the handshake timeout once the hello has come', () => {
      receive(hello());
      send({ type: 'HANDSHAKE_TIMEOUT' });
      expect(codes()).to.deep.equal(['welcome']);
      expect(link.closeCalls).to.equal(0);
    });

    it('closes with ERR_IDLE_TIMEOUT on IDLE_TIMEOUT while it awaits a request', () => {
      receive(hello(), read(1, 'pressure'));
      link.answer(value(1012));
      send({ type: 'IDLE_TIMEOUT' });
      expect(codes()).to.deep.equal(['welcome', 'reading', 'ERR_IDLE_TIMEOUT']);
      expect(link.closeCalls).to.equal(1);
      expect(actor.getSnapshot().context.closeReason).to.equal('ERR_IDLE_TIMEOUT');
    });

    it('takes IDLE_TIMEOUT as news of nothing while it computes: the connection is not idle', () => {
      receive(hello(), read(1, 'pressure'));
      send({ type: 'IDLE_TIMEOUT' });
      link.answer(value(1012));
      expect(codes()).to.deep.equal(['welcome', 'reading']);
      expect(link.closeCalls).to.equal(0);
    });

    it('does not time out while a read is being computed', () => {
      receive(hello(), read(1, 'pressure'));
      clock.increment(TIGHT.idleTimeoutMs * 2);
      expect(actor.getSnapshot().value).to.equal('computing');
      link.answer(value(1012));
      expect(codes()).to.deep.equal(['welcome', 'reading']);
    });

    it('pauses reading at the queue depth limit, and resumes once the queue is taken', () => {
      receive(hello(), read(1, 'pressure'));
      receive(read(2, 'pressure'), read(3, 'pressure'), read(4, 'pressure'));
      expect(link.pauseReadingCalls).to.equal(0);
      receive(read(5, 'pressure'));
      expect(link.pauseReadingCalls).to.equal(1);
      expect(actor.getSnapshot().context.queue).to.have.length(4);
      link.answer(value(1));
      expect(link.resumeReadingCalls).to.equal(1);
      expect(actor.getSnapshot().context.queue).to.have.length(0);
      link.answer(value(2), value(3), value(4), value(5));
      expect(idsOf(link.replies)).to.deep.equal(['welcome', 1, 2, 3, 4, 5]);
    });

    it('does not resume reading for the queue when it is closing', () => {
      receive(hello(), read(1, 'pressure'));
      receive(read(2, 'pressure'), read(3, 'pressure'), read(4, 'pressure'), read(5, 'pressure'));
      send({ type: 'SHUTDOWN' });
      link.answer(value(1));
      expect(link.resumeReadingCalls).to.equal(0);
    });

    it('cuts off a peer when a batch leaves more than the output limit in the socket buffer, with ERR_SLOW_READER', () => {
      receive(hello(), read(1, 'pressure'));
      link.congested = true;
      link.bufferedBytes = TIGHT.maxOutputBytes + 1;
      link.answer(value(1));
      expect(codes()).to.deep.equal(['welcome', 'reading', 'ERR_SLOW_READER']);
      expect(link.closeCalls).to.equal(1);
      expect(actor.getSnapshot().context.closeReason).to.equal('ERR_SLOW_READER');
    });

    it('cuts off a peer whose write waits past the write timeout (WRITE_TIMEOUT) with ERR_SLOW_READER', () => {
      receive(hello(), read(1, 'pressure'));
      link.congested = true;
      link.answer(value(1));
      receive(read(2, 'rainfall'));
      expect(link.closeCalls).to.equal(0);
      send({ type: 'WRITE_TIMEOUT' });
      expect(codes()).to.deep.equal(['welcome', 'reading', 'ERR_SLOW_READER']);
      expect(link.closeCalls).to.equal(1);
      expect(actor.getSnapshot().context.closeReason).to.equal('ERR_SLOW_READER');
    });

    it('takes WRITE_TIMEOUT as news of nothing when no write waits', () => {
      receive(hello());
      send({ type: 'WRITE_TIMEOUT' });
      expect(link.closeCalls).to.equal(0);
      expect(actor.getSnapshot().value).to.equal('awaiting-request');
    });
  });

  describe('faults', () => {
    it('fails on an event no state expects, so the supervisor can end this connection alone', () => {
      actor.stop();
      link = new FakeLink();
      actor = createActor(connectionMachine, {
        input: { connectionId: '#1', welcome: WELCOME, link, limits: LIMITS },
      });
      const errors: unknown[] = [];
      actor.subscribe({ error: (err) => errors.push(err) });
      actor.start();
      receive(hello());
      send({ type: 'COMPUTED', results: [] });
      expect(actor.getSnapshot().status).to.equal('error');
      expect(errors).to.have.length(1);
      expect(errors[0]).to.have.property('code', 'ERR_INTERNAL');
    });

    it('records why it closed: the peer, or the error it closed with', () => {
      receive(hello());
      send({ type: 'PEER_ENDED' });
      send({ type: 'PEER_CLOSED' });
      expect(actor.getSnapshot().context.closeReason).to.equal('client-ended');
    });
  });
});
