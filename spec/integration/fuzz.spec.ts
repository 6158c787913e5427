/**
 * Fuzzing the live server: random byte streams, mutated valid frames, cut at
 * random points, each on its own connection. After every case the server
 * must have answered only with well-formed messages and coded errors, closed
 * that connection, and still give a well-behaved client the right reading.
 */
import { connect } from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import { type RunningServer, startServer } from '../../actors/server.js';
import { isErrorCode } from '../../lib/errors.js';
import { FrameDecoder, MAX_REPLY_FRAME_BYTES } from '../../lib/framing.js';
import {
  type ClientMessage,
  decodeServerMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  READINGS,
  type ReceivedServerMessage,
} from '../../lib/protocol.js';
import { SimulatedStation } from '../../lib/sensors/model.js';
import { DEFAULT_STATION } from '../../lib/sensors/station.js';
import { RawClient } from '../helpers/rawClient.js';

const SEED = 5;
const PINNED_MS = Date.UTC(2026, 0, 15, 6, 30);
const EXPECTED_PRESSURE = new SimulatedStation(SEED, DEFAULT_STATION).observe(
  'pressure',
  PINNED_MS,
).value;
/** Live cases per run; each opens, abuses and closes one connection. */
const CASES = 2_500;

/** Sends `chunks` on a fresh connection, half-closes, and returns what came back before the server closed. */
function abuse(port: number, chunks: readonly Uint8Array[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server did not close the connection within 5 s'));
    }, 5_000);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {}); // a reset after a close with unread input is fine
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(received));
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        await new Promise((next) => setImmediate(next));
      }
      socket.end();
    });
  });
}

function cut(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const sorted = [...new Set(points.map((point) => point % (bytes.length + 1)))].sort(
    (a, b) => a - b,
  );
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...sorted, bytes.length]) {
    if (point > start) chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

const validMessage: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc.constant<ClientMessage>({ type: 'hello', version: PROTOCOL_VERSION }),
  fc.record({
    type: fc.constant('read' as const),
    id: fc.nat({ max: 0xffff_ffff }),
    reading: fc.constantFrom(...READINGS),
  }),
);

const validStream = fc
  .array(validMessage, { minLength: 1, maxLength: 12 })
  .map((messages) => new Uint8Array(Buffer.concat(messages.map(encodeMessage))));

/** A valid stream with some bytes flipped, dropped or inserted, or cut short. */
const mutatedStream = fc
  .tuple(
    validStream,
    fc.array(
      fc.record({
        at: fc.nat(),
        kind: fc.constantFrom('flip', 'drop', 'insert', 'truncate'),
        byte: fc.integer({ min: 0, max: 255 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([stream, mutations]) => {
    let bytes = Array.from(stream);
    for (const { at, kind, byte } of mutations) {
      const i = at % Math.max(1, bytes.length);
      if (kind === 'flip') bytes[i] = byte;
      else if (kind === 'drop') bytes.splice(i, 1);
      else if (kind === 'insert') bytes.splice(i, 0, byte);
      else bytes = bytes.slice(0, i);
    }
    return new Uint8Array(bytes);
  });

const anyStream = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 1_500 }) },
  { weight: 3, arbitrary: mutatedStream },
  { weight: 1, arbitrary: validStream },
);

describe('integration: fuzzing the live server', function () {
  this.timeout(120_000);
  let server: RunningServer;
  let bystander: RawClient;

  beforeEach(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 2,
      seed: SEED,
      now: () => PINNED_MS,
    });
    ({ client: bystander } = await RawClient.greeted(server.port));
  });

  afterEach(async () => {
    bystander.destroy();
    await server.stop();
  });

  it(`survives ${CASES} connections of random, mutated and split byte streams, and keeps serving`, async () => {
    let nextId = 0;
    await fc.assert(
      fc.asyncProperty(anyStream, fc.array(fc.nat(), { maxLength: 6 }), async (stream, points) => {
        const answer = await abuse(server.port, cut(stream, points));

        const decoded = new FrameDecoder(MAX_REPLY_FRAME_BYTES).push(answer);
        expect(decoded.error).to.equal(undefined);
        const messages: ReceivedServerMessage[] = decoded.frames.map(decodeServerMessage);
        for (const message of messages) {
          if (message.type === 'error')
            expect(isErrorCode(message.code), message.code).to.equal(true);
        }

        const id = nextId++;
        bystander.send({ type: 'read', id, reading: 'pressure' });
        expect(await bystander.next()).to.deep.include({
          type: 'reading',
          id,
          value: EXPECTED_PRESSURE,
        });
      }),
      { numRuns: CASES },
    );
    const { connections } = server.stats();
    expect(
      connections.closed['ERR_INTERNAL'] ?? 0,
      'no connection failed inside the server',
    ).to.equal(0);
    expect(connections.accepted).to.equal(CASES + 1);
  });
});
