import { expect } from 'chai';
import { type Actor, createActor, SimulatedClock, toPromise } from 'xstate';
import type { PollResult, Problem } from '../../lib/poll.js';
import {
  type ClientMessage,
  PROTOCOL_VERSION,
  READING_UNITS,
  READINGS,
  type Reading,
  type ReadingReply,
  type ReceivedServerMessage,
  UNITS,
  type Welcome,
} from '../../lib/protocol.js';
import {
  backoffDelay,
  type ClientEvent,
  type ClientInput,
  clientMachine,
  type LinkCommand,
  type LinkInput,
} from '../../machines/clientMachine.js';
import { type CallbackInstance, type FakeCallback, fakeCallback } from '../helpers/fakes.js';

const INPUT: ClientInput = {
  connection: 1,
  pollIntervalMs: 1_000,
  polls: 0,
  requestTimeoutMs: 300,
  reconnectInitialMs: 200,
  reconnectMaxMs: 5_000,
  jitterSeed: 0x5eed,
  station: null,
};

const WELCOME: Welcome = {
  type: 'welcome',
  version: PROTOCOL_VERSION,
  server: 'meteo-actors/test',
  station: { id: 'test', name: 'Test', latitude: 47.6, longitude: -122.3, elevation: 56 },
  units: UNITS,
  stations: [{ id: 'test', name: 'Test', latitude: 47.6, longitude: -122.3, elevation: 56 }],
};

const OBSERVED_AT = new Date(Date.UTC(2026, 10, 26, 13, 5));

/** The values a poll's four readings get, in READINGS order. */
const VALUES: Readonly<Record<Reading, number>> = {
  minTemperature: 3.2,
  maxTemperature: 9.8,
  pressure: 1013.2,
  rainfall: 0.4,
};

function readingReply(id: number, reading: Reading, value = VALUES[reading]): ReadingReply {
  return {
    type: 'reading',
    id,
    station: 'test',
    reading,
    value,
    unit: READING_UNITS[reading],
    observedAt: OBSERVED_AT,
  };
}

function errorFromServer(id: number | null, code: string): ReceivedServerMessage {
  return { type: 'error', id, code, message: `the server says ${code}` };
}

type ReadMessage = Extract<ClientMessage, { type: 'read' }>;

describe('machines/clientMachine', () => {
  let clock: SimulatedClock;
  let link: FakeCallback<LinkCommand, ClientEvent, LinkInput>;
  let actor: Actor<typeof clientMachine>;
  let welcomes: { welcome: Welcome; reconnected: boolean }[];
  let polls: PollResult[];
  let disconnects: { problem: Problem; retryInMs: number }[];
  let failures: Problem[];
  let idleCloses: Problem[];

  function start(input: Partial<ClientInput> = {}): void {
    clock = new SimulatedClock();
    link = fakeCallback<LinkCommand, ClientEvent, LinkInput>();
    welcomes = [];
    polls = [];
    disconnects = [];
    failures = [];
    idleCloses = [];
    const logic = clientMachine.provide({ actors: { serverLink: link.logic } });
    actor = createActor(logic, { clock, input: { ...INPUT, ...input } });
    // What the client shows is emitted (the effects actors/client.ts prints).
    actor.on('welcomed', ({ welcome, reconnected }) => welcomes.push({ welcome, reconnected }));
    actor.on('polled', ({ poll }) => polls.push(poll));
    actor.on('disconnected', ({ problem, retryInMs }) => disconnects.push({ problem, retryInMs }));
    actor.on('failed', ({ problem }) => failures.push(problem));
    actor.on('idleClosed', ({ problem }) => idleCloses.push(problem));
    running.push(actor);
    actor.start();
  }

  const server = (): CallbackInstance<LinkCommand, ClientEvent> => link.current;
  const sent = (instance = server()): ClientMessage[] =>
    instance.received.map((command) => command.message);
  const receive = (message: ReceivedServerMessage): void =>
    server().sendBack({ type: 'RECEIVED', message });
  const linkDown = (code: string): void =>
    server().sendBack({ type: 'LINK_DOWN', code, message: `link down: ${code}` });
  const context = () => actor.getSnapshot().context;
  const value = () => actor.getSnapshot().value;

  /** The read the client is waiting on: the last thing it sent. */
  function lastRead(): ReadMessage {
    const message = sent().at(-1);
    if (message?.type !== 'read') throw new Error(`the last message sent was ${message?.type}`);
    return message;
  }

  function answer(reading?: Reading): ReadMessage {
    const request = lastRead();
    if (reading !== undefined) expect(request.reading).to.equal(reading);
    receive(readingReply(request.id, request.reading));
    return request;
  }

  /** LINK_UP and the handshake. */
  function connect(): void {
    server().sendBack({ type: 'LINK_UP' });
    receive(WELCOME);
  }

  /** Answers the four reads of one poll, in turn. */
  function poll(): void {
    for (const reading of READINGS) answer(reading);
  }

  const running: Actor<typeof clientMachine>[] = [];
  afterEach(() => {
    for (const started of running.splice(0)) started.stop();
  });

  describe('a one-shot query (get): some readings, no reconnect', () => {
    it('asks for the readings it is given, in that order, and is done after one poll', async () => {
      start({ readings: ['pressure', 'minTemperature'], polls: 1, reconnect: false });
      connect();
      answer('pressure');
      answer('minTemperature');
      await toPromise(actor);
      expect(value()).to.equal('done');
      expect(Object.keys(polls[0] ?? {})).to.deep.equal(['pressure', 'minTemperature']);
      expect(context()).to.include({ pollsDone: 1, pollsIncomplete: 0 });
    });

    it('gives up, rather than reconnecting, when the connection is lost after the welcome', () => {
      start({ readings: ['pressure'], polls: 1, reconnect: false });
      connect();
      linkDown('ERR_CONNECTION_LOST');
      expect(value()).to.equal('failed');
      expect(failures.map((problem) => problem.code)).to.deep.equal(['ERR_CONNECTION_LOST']);
      expect(disconnects).to.deep.equal([]);
    });

    it('gives up when the server is full, rather than trying again later', () => {
      start({ readings: ['pressure'], polls: 1, reconnect: false });
      server().sendBack({ type: 'LINK_UP' });
      receive(errorFromServer(null, 'ERR_TOO_MANY_CONNECTIONS'));
      expect(value()).to.equal('failed');
      expect(failures.map((problem) => problem.code)).to.deep.equal(['ERR_TOO_MANY_CONNECTIONS']);
    });
  });

  describe('polling one station of several', () => {
    const OTHER = { ...WELCOME.station, id: 'other', name: 'Other' };

    it('names its station in every read', () => {
      start({ station: 'other' });
      server().sendBack({ type: 'LINK_UP' });
      receive({ ...WELCOME, stations: [WELCOME.station, OTHER] });
      expect(lastRead()).to.include({ reading: 'minTemperature', station: 'other' });
    });

    it('leaves the station out, for the default, when it polls none', () => {
      start();
      connect();
      expect(lastRead()).to.not.have.property('station');
    });

    it('fails with ERR_UNKNOWN_STATION when the welcome does not list its station', () => {
      start({ station: 'atlantis' });
      server().sendBack({ type: 'LINK_UP' });
      receive({ ...WELCOME, stations: [WELCOME.station, OTHER] });
      expect(value()).to.equal('failed');
      expect(failures.map((problem) => problem.code)).to.deep.equal(['ERR_UNKNOWN_STATION']);
      expect(failures[0]?.message).to.include('test, other');
    });
  });

  describe('the handshake', () => {
    beforeEach(() => start());

    it('sends nothing until the link is up, then says hello', () => {
      expect(value()).to.deep.equal({ online: 'connecting' });
      expect(sent()).to.deep.equal([]);
      server().sendBack({ type: 'LINK_UP' });
      expect(sent()).to.deep.equal([{ type: 'hello', version: PROTOCOL_VERSION }]);
      expect(value()).to.deep.equal({ online: 'greeting' });
    });

    it('announces the welcome, then asks for the four readings in order, one at a time, each with a fresh id', () => {
      connect();
      expect(welcomes).to.deep.equal([{ welcome: WELCOME, reconnected: false }]);
      const ids: number[] = [];
      for (const reading of READINGS) {
        const before = sent().length;
        const request = lastRead();
        expect(request.reading).to.equal(reading);
        ids.push(request.id);
        clock.increment(INPUT.requestTimeoutMs - 1);
        expect(sent(), 'the next read waits for this reply').to.have.length(before);
        answer(reading);
      }
      expect(sent().map((message) => message.type)).to.deep.equal([
        'hello',
        'read',
        'read',
        'read',
        'read',
      ]);
      expect(new Set(ids).size).to.equal(4);
    });

    it('fails with the server’s code when the greeting is refused with ERR_UNSUPPORTED_VERSION', () => {
      server().sendBack({ type: 'LINK_UP' });
      receive(errorFromServer(null, 'ERR_UNSUPPORTED_VERSION'));
      expect(value()).to.equal('failed');
      expect(actor.getSnapshot().status).to.equal('done');
      expect(failures.map((problem) => problem.code)).to.deep.equal(['ERR_UNSUPPORTED_VERSION']);
      expect(server().stopped).to.equal(true);
    });

    it('retries when the greeting is refused with ERR_TOO_MANY_CONNECTIONS', () => {
      server().sendBack({ type: 'LINK_UP' });
      receive(errorFromServer(null, 'ERR_TOO_MANY_CONNECTIONS'));
      expect(value()).to.equal('reconnecting');
      expect(failures).to.deep.equal([]);
      expect(disconnects).to.have.length(1);
      expect(disconnects[0]?.problem.code).to.equal('ERR_TOO_MANY_CONNECTIONS');
      expect(link.instances).to.have.length(1);
      clock.increment(disconnects[0]?.retryInMs ?? Number.NaN);
      expect(link.instances).to.have.length(2);
      connect();
      expect(lastRead().reading).to.equal('minTemperature');
    });

    it('fails with ERR_CONNECT_FAILED when the first connect is not made within the request timeout', () => {
      clock.increment(INPUT.requestTimeoutMs - 1);
      expect(value()).to.deep.equal({ online: 'connecting' });
      clock.increment(1);
      expect(value()).to.equal('failed');
      expect(failures.map((problem) => problem.code)).to.deep.equal(['ERR_CONNECT_FAILED']);
      expect(link.current.stopped, 'the connect attempt is dropped').to.equal(true);
    });

    // Issue #16 item 7: an HTTP server's "HTTP" was reported as a frame of 1,213,486,160 bytes.
    for (const code of ['ERR_FRAME_TOO_LARGE', 'ERR_PROTOCOL']) {
      it(`fails with ERR_NOT_METEO_SERVER when the answer to the hello is not the protocol (${code})`, () => {
        server().sendBack({ type: 'LINK_UP' });
        linkDown(code);
        expect(value()).to.equal('failed');
        expect(failures.map((problem) => problem.code)).to.deep.equal(['ERR_NOT_METEO_SERVER']);
        expect(failures[0]?.message).to.include(code);
      });
    }

    it('retries, with ERR_NOT_METEO_SERVER as the reason, when a reconnect is answered with garble', () => {
      connect();
      poll();
      linkDown('ERR_CONNECTION_LOST');
      clock.increment(disconnects[0]?.retryInMs ?? Number.NaN);
      server().sendBack({ type: 'LINK_UP' });
      linkDown('ERR_FRAME_TOO_LARGE');
      expect(value()).to.equal('reconnecting');
      expect(disconnects.map(({ problem }) => problem.code)).to.deep.equal([
        'ERR_CONNECTION_LOST',
        'ERR_NOT_METEO_SERVER',
      ]);
    });

    it('takes garble after the welcome for a broken connection, not for another service', () => {
      connect();
      linkDown('ERR_PROTOCOL');
      expect(value()).to.equal('reconnecting');
      expect(disconnects[0]?.problem.code).to.equal('ERR_PROTOCOL');
    });

    it('fails with ERR_REQUEST_TIMEOUT when no welcome comes in time', () => {
      server().sendBack({ type: 'LINK_UP' });
      clock.increment(INPUT.requestTimeoutMs - 1);
      expect(value()).to.deep.equal({ online: 'greeting' });
      clock.increment(1);
      expect(value()).to.equal('failed');
      expect(failures.map((problem) => problem.code)).to.deep.equal(['ERR_REQUEST_TIMEOUT']);
    });
  });

  describe('polling', () => {
    it('reports the poll with all four readings, then waits pollIntervalMs before the next one', () => {
      start();
      connect();
      poll();
      expect(polls).to.have.length(1);
      expect(polls[0]).to.deep.equal({
        minTemperature: readingReply(1, 'minTemperature'),
        maxTemperature: readingReply(2, 'maxTemperature'),
        pressure: readingReply(3, 'pressure'),
        rainfall: readingReply(4, 'rainfall'),
      });
      expect(value()).to.deep.equal({ online: 'waiting' });
      const count = sent().length;
      clock.increment(INPUT.pollIntervalMs - 1);
      expect(sent(), 'nothing is sent while waiting').to.have.length(count);
      clock.increment(1);
      expect(sent()).to.have.length(count + 1);
      expect(lastRead().reading).to.equal('minTemperature');
      expect(value()).to.deep.equal({ online: 'requesting' });
      expect(context()).to.include({ pollsDone: 1, pollsIncomplete: 0 });
    });

    it('gives the next poll fresh ids', () => {
      start();
      connect();
      poll();
      clock.increment(INPUT.pollIntervalMs);
      poll();
      const ids = sent().flatMap((message) => (message.type === 'read' ? [message.id] : []));
      expect(ids).to.have.length(8);
      expect(new Set(ids).size).to.equal(8);
      expect(polls).to.have.length(2);
    });

    it('ends in done after `polls` polls', async () => {
      start({ polls: 3 });
      const finished = toPromise(actor);
      connect();
      for (let i = 0; i < 3; i++) {
        expect(value()).to.deep.equal({ online: 'requesting' });
        poll();
        if (i < 2) clock.increment(INPUT.pollIntervalMs);
      }
      expect(value()).to.equal('done');
      await finished;
      expect(polls).to.have.length(3);
      expect(context()).to.include({ pollsDone: 3, pollsIncomplete: 0 });
      expect(server().stopped, 'the link is closed').to.equal(true);
      expect(failures).to.deep.equal([]);
    });

    it('reports readings missing after the request timeout as ERR_REQUEST_TIMEOUT, never a number, and counts the poll incomplete', () => {
      start();
      connect();
      // Each request gets the whole timeout: a slow poll is not a timed-out one.
      clock.increment(INPUT.requestTimeoutMs - 1);
      answer('minTemperature');
      clock.increment(INPUT.requestTimeoutMs - 1);
      answer('maxTemperature');
      clock.increment(INPUT.requestTimeoutMs - 1);
      expect(polls).to.deep.equal([]);
      clock.increment(1);
      expect(polls).to.have.length(1);
      const [result] = polls;
      expect(result?.minTemperature).to.deep.equal(readingReply(1, 'minTemperature'));
      expect(result?.maxTemperature).to.deep.equal(readingReply(2, 'maxTemperature'));
      for (const reading of ['pressure', 'rainfall'] as const) {
        expect(result?.[reading]).to.include({ code: 'ERR_REQUEST_TIMEOUT' });
        expect(result?.[reading]).to.not.have.property('value');
      }
      expect(context()).to.include({ pollsDone: 1, pollsIncomplete: 1 });
      expect(value()).to.deep.equal({ online: 'waiting' });
    });

    it('ignores a late reply to a timed-out request', () => {
      start();
      connect();
      const late = lastRead();
      clock.increment(INPUT.requestTimeoutMs);
      expect(polls).to.have.length(1);
      receive(readingReply(late.id, 'minTemperature'));
      expect(value()).to.deep.equal({ online: 'waiting' });
      clock.increment(INPUT.pollIntervalMs);
      const next = lastRead();
      expect(next.id).to.not.equal(late.id);
      receive(readingReply(late.id, 'minTemperature', -99));
      expect(lastRead(), 'the late reply did not answer the new request').to.equal(next);
      poll();
      expect(polls).to.have.length(2);
      expect(polls[1]?.minTemperature).to.deep.equal(readingReply(next.id, 'minTemperature'));
      expect(context()).to.include({ pollsDone: 2, pollsIncomplete: 1 });
    });

    it('keeps an error reply to a read as that reading’s problem', () => {
      start();
      connect();
      answer('minTemperature');
      receive(errorFromServer(lastRead().id, 'ERR_SENSOR_FAILED'));
      answer('pressure');
      answer('rainfall');
      expect(polls).to.have.length(1);
      expect(polls[0]?.maxTemperature).to.include({ code: 'ERR_SENSOR_FAILED' });
      expect(polls[0]?.maxTemperature).to.not.have.property('value');
      expect(context()).to.include({ pollsDone: 1, pollsIncomplete: 1 });
    });

    it('goes to done on STOP', () => {
      start();
      connect();
      poll();
      actor.send({ type: 'STOP' });
      expect(value()).to.equal('done');
      expect(actor.getSnapshot().status).to.equal('done');
      expect(server().stopped).to.equal(true);
      expect(failures).to.deep.equal([]);
    });
  });

  describe('losing the connection', () => {
    it('fails with ERR_CONNECT_FAILED when the link goes down before any welcome', () => {
      start();
      linkDown('ERR_CONNECT_FAILED');
      expect(value()).to.equal('failed');
      expect(actor.getSnapshot().status).to.equal('done');
      expect(failures.map((problem) => problem.code)).to.deep.equal(['ERR_CONNECT_FAILED']);
      expect(disconnects).to.deep.equal([]);
      clock.increment(60_000);
      expect(link.instances, 'no retry').to.have.length(1);
    });

    it('reconnects after the backoff when the link goes down mid-poll, and asks again only what was not answered', () => {
      start();
      connect();
      poll();
      clock.increment(INPUT.pollIntervalMs);
      answer('minTemperature');
      const first = server();
      linkDown('ERR_CONNECTION_LOST');
      expect(value()).to.equal('reconnecting');
      expect(first.stopped).to.equal(true);
      expect(failures).to.deep.equal([]);
      const retryInMs = backoffDelay(INPUT, 0);
      expect(retryInMs).to.be.within(INPUT.reconnectInitialMs / 2, INPUT.reconnectInitialMs);
      expect(disconnects).to.deep.equal([
        {
          problem: { code: 'ERR_CONNECTION_LOST', message: 'link down: ERR_CONNECTION_LOST' },
          retryInMs,
        },
      ]);

      clock.increment(retryInMs - 1);
      expect(link.instances, 'not before the backoff').to.have.length(1);
      clock.increment(1);
      expect(link.instances).to.have.length(2);
      expect(value()).to.deep.equal({ online: 'connecting' });

      connect();
      expect(sent()[0]).to.deep.equal({ type: 'hello', version: PROTOCOL_VERSION });
      expect(welcomes.map((w) => w.reconnected)).to.deep.equal([false, true]);
      expect(lastRead().reading, 'the unanswered request, sent again').to.equal('maxTemperature');
      expect(
        sent().filter((message) => message.type === 'read'),
        'the answered one is not asked again',
      ).to.have.length(1);
      for (const reading of READINGS.slice(1)) answer(reading);
      expect(polls).to.have.length(2);
      expect(Object.keys(polls[1] ?? {})).to.deep.equal([...READINGS]);
      expect(context()).to.include({ pollsDone: 2, pollsIncomplete: 0 });
      expect(sent(first), 'nothing more went to the old link').to.have.length(7);
    });

    it('retries, rather than giving up, when a reconnect is not made within the request timeout', () => {
      start();
      connect();
      linkDown('ERR_CONNECTION_LOST');
      clock.increment(disconnects[0]?.retryInMs ?? Number.NaN);
      expect(value()).to.deep.equal({ online: 'connecting' });
      clock.increment(INPUT.requestTimeoutMs);
      expect(value()).to.equal('reconnecting');
      expect(failures).to.deep.equal([]);
      expect(disconnects.map(({ problem }) => problem.code)).to.deep.equal([
        'ERR_CONNECTION_LOST',
        'ERR_CONNECT_FAILED',
      ]);
    });

    it('retries, rather than giving up, when a reconnect gets no welcome in time', () => {
      start();
      connect();
      linkDown('ERR_CONNECTION_LOST');
      clock.increment(disconnects[0]?.retryInMs ?? Number.NaN);
      server().sendBack({ type: 'LINK_UP' });
      clock.increment(INPUT.requestTimeoutMs);
      expect(value()).to.equal('reconnecting');
      expect(failures).to.deep.equal([]);
      expect(disconnects.map(({ problem }) => problem.code)).to.deep.equal([
        'ERR_CONNECTION_LOST',
        'ERR_REQUEST_TIMEOUT',
      ]);
    });

    it('keeps retrying, each time later, while the server stays away, and starts over once back', () => {
      start();
      connect();
      linkDown('ERR_CONNECTION_LOST');
      for (let attempt = 0; attempt < 4; attempt++) {
        expect(value()).to.equal('reconnecting');
        const retry = disconnects[attempt]?.retryInMs ?? Number.NaN;
        expect(retry, `attempt ${attempt}`).to.equal(backoffDelay(INPUT, attempt));
        clock.increment(retry);
        linkDown('ERR_CONNECT_FAILED');
      }
      expect(failures).to.deep.equal([]);
      expect(link.instances).to.have.length(5);
      expect(disconnects.slice(1).map((d) => d.problem.code)).to.deep.equal([
        'ERR_CONNECT_FAILED',
        'ERR_CONNECT_FAILED',
        'ERR_CONNECT_FAILED',
        'ERR_CONNECT_FAILED',
      ]);
      clock.increment(disconnects.at(-1)?.retryInMs ?? Number.NaN);
      connect();
      linkDown('ERR_CONNECTION_LOST');
      expect(disconnects.at(-1)?.retryInMs).to.equal(backoffDelay(INPUT, 0));
    });

    // Issue #16 item 10: a poll period past the server's idle timeout made the client
    // reconnect and poll at once on every idle close, more often than asked.
    describe('when the server closes the connection for being idle', () => {
      /** The server's idle timeout fires while the client waits: its error, then the close. */
      function idleClose(): void {
        receive(errorFromServer(null, 'ERR_IDLE_TIMEOUT'));
        linkDown('ERR_CONNECTION_LOST');
      }

      it('waits offline, and connects again only when the next poll is due, which it then makes', () => {
        start();
        connect();
        poll();
        clock.increment(INPUT.pollIntervalMs / 4);
        idleClose();
        expect(value()).to.equal('offline');
        expect(link.instances[0]?.stopped).to.equal(true);
        expect(disconnects, 'not a lost connection').to.deep.equal([]);
        expect(idleCloses.map((problem) => problem.code)).to.deep.equal(['ERR_IDLE_TIMEOUT']);
        clock.increment((INPUT.pollIntervalMs * 3) / 4 - 1);
        expect(link.instances, 'no connection before the poll is due').to.have.length(1);
        clock.increment(1);
        expect(link.instances).to.have.length(2);
        connect();
        expect(welcomes, 'nothing new to announce').to.have.length(1);
        expect(lastRead().reading).to.equal('minTemperature');
        poll();
        expect(polls).to.have.length(2);
        expect(context()).to.include({ pollsDone: 2, pollsIncomplete: 0 });
      });

      it('polls once per period over many idle closes, never more often', () => {
        start();
        connect();
        poll();
        const periods = 5;
        for (let period = 0; period < periods; period++) {
          clock.increment(INPUT.pollIntervalMs / 2);
          idleClose();
          clock.increment(INPUT.pollIntervalMs / 2);
          connect();
          poll();
        }
        expect(polls).to.have.length(1 + periods);
        expect(link.instances).to.have.length(1 + periods);
        expect(disconnects).to.deep.equal([]);
      });

      it('goes back to the backoff when the server is gone by the time the poll is due', () => {
        start();
        connect();
        poll();
        idleClose();
        clock.increment(INPUT.pollIntervalMs);
        linkDown('ERR_CONNECT_FAILED');
        expect(value()).to.equal('reconnecting');
        expect(disconnects.map(({ problem }) => problem.code)).to.deep.equal([
          'ERR_CONNECT_FAILED',
        ]);
        clock.increment(disconnects[0]?.retryInMs ?? Number.NaN);
        connect();
        expect(
          welcomes.map((w) => w.reconnected),
          'a reconnect after a failure is announced',
        ).to.deep.equal([false, true]);
      });
    });

    it('drops the poll that was due when a lost connection is reopened, so it does not poll early', () => {
      start();
      connect();
      poll();
      linkDown('ERR_CONNECTION_LOST');
      clock.increment(disconnects[0]?.retryInMs ?? Number.NaN);
      connect();
      poll();
      expect(polls).to.have.length(2);
      const count = sent().length;
      // The first poll's timer would have fired by now, had it been kept.
      clock.increment(INPUT.pollIntervalMs - 1);
      expect(sent(), 'no poll before a whole period after the last one').to.have.length(count);
      clock.increment(1);
      expect(sent()).to.have.length(count + 1);
    });

    it('reports the server’s ERR_SHUTTING_DOWN, sent before the close, as the reason for the disconnect', () => {
      start();
      connect();
      receive(errorFromServer(null, 'ERR_SHUTTING_DOWN'));
      expect(value()).to.deep.equal({ online: 'requesting' });
      linkDown('ERR_CONNECTION_LOST');
      expect(value()).to.equal('reconnecting');
      expect(disconnects).to.have.length(1);
      expect(disconnects[0]?.problem).to.deep.equal({
        code: 'ERR_SHUTTING_DOWN',
        message: 'the server says ERR_SHUTTING_DOWN',
      });
      // The next disconnect, with no word from the server, is the socket's.
      clock.increment(disconnects[0]?.retryInMs ?? Number.NaN);
      connect();
      linkDown('ERR_CONNECTION_LOST');
      expect(disconnects[1]?.problem.code).to.equal('ERR_CONNECTION_LOST');
    });

    it('goes to done on STOP while reconnecting', () => {
      start();
      connect();
      linkDown('ERR_CONNECTION_LOST');
      expect(value()).to.equal('reconnecting');
      actor.send({ type: 'STOP' });
      expect(value()).to.equal('done');
      clock.increment(60_000);
      expect(link.instances).to.have.length(1);
    });
  });

  describe('backoffDelay', () => {
    it('doubles with each attempt: attempt n lies within [½, 1] of initial × 2ⁿ', () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const ceiling = INPUT.reconnectInitialMs * 2 ** attempt;
        const delay = backoffDelay(INPUT, attempt);
        expect(delay, `attempt ${attempt}`).to.be.within(ceiling / 2, ceiling);
      }
    });

    it('never shrinks from one attempt to the next below the cap', () => {
      // Below the cap, the least of attempt n + 1 is the most of attempt n.
      for (let connection = 1; connection <= 20; connection++) {
        const input = { ...INPUT, connection, reconnectMaxMs: INPUT.reconnectInitialMs * 2 ** 12 };
        for (let attempt = 0; attempt < 12; attempt++) {
          expect(backoffDelay(input, attempt + 1)).to.be.at.least(backoffDelay(input, attempt));
        }
      }
    });

    it('is capped at reconnectMaxMs, and stays within [½, 1] of it', () => {
      for (const attempt of [5, 6, 10, 30, 31, 100, 10_000]) {
        const delay = backoffDelay(INPUT, attempt);
        expect(delay, `attempt ${attempt}`).to.be.within(
          INPUT.reconnectMaxMs / 2,
          INPUT.reconnectMaxMs,
        );
      }
    });

    it('differs between connections, so reconnects do not arrive in step', () => {
      const delays = Array.from({ length: 10 }, (_, i) =>
        backoffDelay({ ...INPUT, connection: i + 1 }, 3),
      );
      expect(new Set(delays).size).to.be.above(5);
    });

    it('differs between runs (jitter seeds) and is the same for the same seed', () => {
      const delays = Array.from({ length: 10 }, (_, seed) =>
        backoffDelay({ ...INPUT, jitterSeed: seed }, 3),
      );
      expect(new Set(delays).size).to.be.above(5);
      // A seed's whole schedule, for several connections, comes out the same when
      // computed again in the opposite order, after other seeds' delays: the jitter
      // is a function of seed, connection and attempt, with no Math.random or hidden state.
      const schedule = (jitterSeed: number, order: 'forwards' | 'backwards'): number[][] => {
        const grid = [1, 2, 3].map((connection) =>
          Array.from({ length: 8 }, (_, attempt) => ({ connection, attempt })),
        );
        const cells = grid.flat();
        if (order === 'backwards') cells.reverse();
        const delay = new Map(
          cells.map(({ connection, attempt }) => [
            `${connection}/${attempt}`,
            backoffDelay({ ...INPUT, jitterSeed, connection }, attempt),
          ]),
        );
        return grid.map((row) =>
          row.map(({ connection, attempt }) => delay.get(`${connection}/${attempt}`) ?? -1),
        );
      };
      const first = schedule(INPUT.jitterSeed, 'forwards');
      schedule(INPUT.jitterSeed + 1, 'forwards');
      expect(schedule(INPUT.jitterSeed, 'backwards')).to.deep.equal(first);
      expect(schedule(INPUT.jitterSeed + 1, 'forwards')).to.not.deep.equal(first);
    });
  });
});
