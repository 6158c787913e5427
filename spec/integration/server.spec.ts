/**
 * The server as a client meets it: real sockets on 127.0.0.1, port 0, a real
 * Piscina pool and real actors. The clock is pinned, so every value can be
 * checked against the station model itself.
 */
import { expect } from 'chai';
import { type RunningServer, startServer } from '../../actors/server.js';
import { FRAME_HEADER_BYTES, frame } from '../../lib/framing.js';
import {
  encodeMessage,
  PROTOCOL_VERSION,
  READINGS,
  type ReceivedServerMessage,
  UNITS,
} from '../../lib/protocol.js';
import { SimulatedStation } from '../../lib/sensors/model.js';
import { DEFAULT_STATION } from '../../lib/sensors/station.js';
import { Peers } from '../helpers/peers.js';
import type { RawClient } from '../helpers/rawClient.js';
import { until } from '../helpers/wait.js';

const SEED = 7;
const PINNED_MS = Date.UTC(2026, 10, 26, 21, 30, 15);
const station = new SimulatedStation(SEED, DEFAULT_STATION);
function idOf(message: ReceivedServerMessage): number | null {
  return message.type === 'welcome' ? null : message.id;
}

const expected = Object.fromEntries(
  READINGS.map((reading) => [reading, station.observe(reading, PINNED_MS).value]),
);

describe('integration: the server', function () {
  this.timeout(20_000);
  let server: RunningServer;
  const peers = new Peers();

  async function greeted(): Promise<RawClient> {
    return (await peers.greeted(server.port)).client;
  }

  beforeEach(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 2,
      seed: SEED,
      now: () => PINNED_MS,
    });
  });

  afterEach(async () => {
    peers.closeAll();
    await server.stop();
  });

  it('greets with its protocol version, station and units', async () => {
    const client = await peers.connect(server.port);
    client.send({ type: 'hello', version: PROTOCOL_VERSION });
    const welcome = await client.next();
    expect(welcome).to.deep.include({ type: 'welcome', version: PROTOCOL_VERSION, units: UNITS });
    expect(welcome).to.have.nested.property('station.id', DEFAULT_STATION.id);
    expect(welcome).to.have.nested.property('station.name', DEFAULT_STATION.name);
  });

  it('answers each of 50 concurrent connections, every request exactly once with its own id', async () => {
    const connections = await Promise.all(Array.from({ length: 50 }, () => greeted()));
    const perConnection = 40;
    const sent = connections.map((client, c) => {
      // Ids are unique across the run, so a reply that went to the wrong socket would show.
      const ids = Array.from({ length: perConnection }, (_, i) => c * 1_000 + i);
      client.send(
        ...ids.map((id) => ({
          type: 'read' as const,
          id,
          reading: READINGS[id % 4] ?? 'pressure',
        })),
      );
      return ids;
    });
    const replies = await Promise.all(connections.map((client) => client.take(perConnection)));
    for (const [c, received] of replies.entries()) {
      expect(received.map((reply) => (reply.type === 'reading' ? reply.id : reply))).to.deep.equal(
        sent[c],
      );
      for (const reply of received) {
        if (reply.type !== 'reading')
          throw new Error(`expected a reading, got ${JSON.stringify(reply)}`);
        expect(reply.value).to.equal(expected[reply.reading]);
      }
    }
  });

  it('serves 50 client actors polling at once, each poll with all four readings', async () => {
    const lines: string[] = [];
    const problems: string[] = [];
    const client = peers.poll(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 5,
        connections: 50,
        count: 3,
        json: true,
      },
      { out: (line) => lines.push(line), err: (line) => problems.push(line) },
    );
    expect(await client.finished).to.equal(0);
    expect(lines).to.have.length(150);
    const polls = lines.map((line) => JSON.parse(line));
    for (const connection of Array.from({ length: 50 }, (_, i) => i + 1)) {
      expect(polls.filter((poll) => poll.connection === connection)).to.have.length(3);
    }
    for (const poll of polls) {
      expect(poll).to.deep.include(expected);
      expect(poll.minTemperature).to.be.at.most(poll.maxTemperature);
    }
    expect(problems.filter((line) => !line.includes('connected to'))).to.deep.equal([]);
  });

  it('answers pipelined requests in request order', async () => {
    const client = await greeted();
    const ids = Array.from({ length: 300 }, (_, i) => 300 - i);
    client.send(...ids.map((id) => ({ type: 'read' as const, id, reading: 'rainfall' as const })));
    const replies = await client.take(ids.length);
    expect(replies.map((reply) => (reply.type === 'reading' ? reply.id : -1))).to.deep.equal(ids);
  });

  it('answers a request that arrives one byte at a time', async () => {
    const client = await greeted();
    const bytes = encodeMessage({ type: 'read', id: 9, reading: 'maxTemperature' });
    for (const byte of bytes) {
      client.sendBytes(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await client.next()).to.deep.include({
      type: 'reading',
      id: 9,
      value: expected['maxTemperature'],
    });
  });

  it('answers an unknown reading with ERR_UNKNOWN_READING and keeps the connection', async () => {
    const client = await greeted();
    client.sendBytes(
      frame(Buffer.from('83a474797065a472656164a2696405a772656164696e67a468756d69', 'hex')),
    );
    client.send({ type: 'read', id: 6, reading: 'pressure' });
    const [error, reading] = await client.take(2);
    expect(error).to.deep.include({ type: 'error', id: 5, code: 'ERR_UNKNOWN_READING' });
    expect(reading).to.deep.include({ type: 'reading', id: 6, value: expected['pressure'] });
  });

  it('answers an oversized frame with ERR_FRAME_TOO_LARGE and closes, leaving other connections alone', async () => {
    const bystander = await greeted();
    const offender = await greeted();
    offender.send({ type: 'read', id: 1, reading: 'pressure' });
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(50_000_000);
    offender.sendBytes(header);
    const messages = await offender.rest();
    expect(
      messages.map((message) => [
        message.type,
        message.type === 'error' ? message.code : idOf(message),
      ]),
    ).to.deep.equal([
      ['reading', 1],
      ['error', 'ERR_FRAME_TOO_LARGE'],
    ]);
    bystander.send({ type: 'read', id: 2, reading: 'rainfall' });
    expect(await bystander.next()).to.deep.include({ type: 'reading', id: 2 });
  });

  it('refuses a protocol version it does not speak with ERR_UNSUPPORTED_VERSION, then closes', async () => {
    const client = await peers.connect(server.port);
    client.send({ type: 'hello', version: PROTOCOL_VERSION + 1 });
    const messages = await client.rest();
    expect(messages).to.have.length(1);
    expect(messages[0]).to.deep.include({
      type: 'error',
      id: null,
      code: 'ERR_UNSUPPORTED_VERSION',
    });
  });

  it('answers everything a client sent before half-closing, then closes', async () => {
    const client = await greeted();
    client.send(
      ...Array.from({ length: 20 }, (_, id) => ({
        type: 'read' as const,
        id,
        reading: 'minTemperature' as const,
      })),
    );
    client.end();
    const messages = await client.rest();
    expect(messages.map((message) => (message.type === 'reading' ? message.id : -1))).to.deep.equal(
      Array.from({ length: 20 }, (_, id) => id),
    );
  });

  it('on stop, answers requests already received, then says ERR_SHUTTING_DOWN and closes', async () => {
    const client = await greeted();
    const ids = Array.from({ length: 50 }, (_, id) => id);
    const tasksBefore = server.sensors.tasksRun;
    client.send(...ids.map((id) => ({ type: 'read' as const, id, reading: 'pressure' as const })));
    // The server has read requests once it asks the pool for them: those must be answered.
    await until(() => server.sensors.tasksRun > tasksBefore, 'the server reads the requests');
    const stopped = server.stop();
    const messages: ReceivedServerMessage[] = await client.rest();
    await stopped;
    // How many it had read when told to stop is up to the socket (PROTOCOL.md §8.3: unread
    // ones are not answered); what holds is one reply to each of the first ones, in order.
    const replies = messages.slice(0, -1);
    expect(replies.map((message) => (message.type === 'reading' ? message.id : -1))).to.deep.equal(
      ids.slice(0, replies.length),
    );
    expect(replies.length, 'replies to requests read before the stop').to.be.above(0);
    expect(messages.at(-1)).to.deep.include({ type: 'error', id: null, code: 'ERR_SHUTTING_DOWN' });
  });

  it('reports ERR_ADDRESS_IN_USE when the port is taken', async () => {
    let failure: unknown;
    try {
      const second = await startServer({
        host: '127.0.0.1',
        port: server.port,
        threads: 1,
        seed: SEED,
      });
      // Started after all: stopped here, so that its pool does not keep the run alive.
      await second.stop();
    } catch (err) {
      failure = err;
    }
    expect(failure, 'the second server failed to start').to.have.property(
      'code',
      'ERR_ADDRESS_IN_USE',
    );
  });
});
