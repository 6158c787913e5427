/**
 * The conformance runner judges a server rightly: against scripted fake
 * servers on real sockets, it passes what matches a vector and fails, with
 * the reason, what does not. (spec/integration/conformance.spec.ts plays the
 * real vectors against the real servers.)
 */
import { createServer, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { type Case, casesOf, parseVectors, playCase } from '../../actors/conformance.js';
import { MeteoError } from '../../lib/errors.js';

/** A frame of the given body hex. */
function frame(body: string): Buffer {
  const bytes = Buffer.from(body.replace(/\s+/g, ''), 'hex');
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

/** { type: "error", id: 7, code: "ERR_X", message: "m" } */
const ERROR_7 = frame(
  '84 a474797065 a56572726f72 a26964 07 a4636f6465 a54552525f58 a76d657373616765 a16d',
);
/** { type: "reading", id: 7, value: <value> } */
const readingWith = (value: string) =>
  frame(`83 a474797065 a772656164696e67 a26964 07 a576616c7565 ${value}`);

const EXPECT_ERROR = [{ type: 'error', id: 7, code: 'ERR_X', message: { format: 'str' } }];

describe('actors/conformance', () => {
  let server: Server | undefined;
  const sockets = new Set<Socket>();

  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /**
   * A server that, once the client has half-closed, writes `reply` and then
   * closes (or, with `close: false`, keeps the connection open).
   */
  async function fake(reply: Buffer, close = true): Promise<number> {
    const listening = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.resume();
      socket.once('end', () => (close ? socket.end(reply) : socket.write(reply)));
    });
    server = listening;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    return (listening.address() as { port: number }).port;
  }

  function play(
    port: number,
    expect: readonly unknown[],
    timeoutMs = 2_000,
  ): Promise<string | null> {
    const test: Case = { name: 't', writes: [Buffer.from('00', 'hex')], end: true, expect };
    return playCase(test, { host: '127.0.0.1', port, timeoutMs, pauseMs: 0 });
  }

  describe('playCase', () => {
    it('passes a server that sends the expected frames, then closes', async () => {
      expect(await play(await fake(ERROR_7), EXPECT_ERROR)).to.equal(null);
    });

    it('fails a reply whose field differs, naming the field', async () => {
      const failure = await play(await fake(ERROR_7), [{ type: 'error', id: 8 }]);
      expect(failure).to.equal('reply 1.id: expected 8, got 7');
    });

    it('fails a value of the wrong MessagePack format: an integer is not a float 64', async () => {
      const port = await fake(readingWith('0c'));
      expect(await play(port, [{ value: { format: 'float 64' } }])).to.equal(
        'reply 1.value: expected a float 64, got 12',
      );
    });

    it('passes a float 64 where one is expected, and fails a float 32', async () => {
      expect(
        await play(await fake(readingWith('cb4028000000000000')), [
          { value: { format: 'float 64' } },
        ]),
      ).to.equal(null);
      await new Promise<void>((resolve) => server?.close(() => resolve()));
      expect(
        await play(await fake(readingWith('ca41400000')), [{ value: { format: 'float 64' } }]),
      ).to.match(/float 32/);
    });

    it('fails an integer id where the reply has a float', async () => {
      const port = await fake(frame('81 a26964 cb401c000000000000'));
      expect(await play(port, [{ id: 7 }])).to.match(
        /^reply 1\.id: expected 7, got 7 \(float 64\)$/,
      );
    });

    it('fails a reply more than expected', async () => {
      const port = await fake(Buffer.concat([ERROR_7, ERROR_7]));
      expect(await play(port, EXPECT_ERROR)).to.match(/^reply 2 was not expected/);
    });

    it('fails a server that closes before all the replies', async () => {
      const port = await fake(ERROR_7);
      expect(await play(port, [...EXPECT_ERROR, ...EXPECT_ERROR])).to.match(
        /^the server closed after 1 of 2 replies/,
      );
    });

    it('fails a server that does not close, after the timeout', async () => {
      const port = await fake(ERROR_7, false);
      expect(await play(port, EXPECT_ERROR, 300)).to.equal(
        'timed out after 300 ms, with 1 of 1 replies',
      );
    });

    it('fails a server that closes inside a frame', async () => {
      const port = await fake(ERROR_7.subarray(0, 10));
      expect(await play(port, [])).to.match(/^the server closed inside a frame/);
    });

    it('fails a reply that is not MessagePack', async () => {
      const port = await fake(frame('c1'));
      expect(await play(port, [{}])).to.match(/^reply 1 is not one MessagePack value/);
    });

    it('says so when it cannot connect', async () => {
      const port = await fake(ERROR_7);
      await new Promise<void>((resolve) => server?.close(() => resolve()));
      server = undefined;
      expect(await play(port, [])).to.match(
        /^cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/,
      );
    });
  });

  describe('parseVectors and casesOf', () => {
    const good = { name: 'a', send: ['0001'], expect: [] };

    it('refuses a file that is not one it can play, with ERR_BAD_VECTOR_FILE', () => {
      for (const text of [
        'not json',
        '{}',
        JSON.stringify({ vectors: [{ ...good, name: 3 }] }),
        JSON.stringify({ vectors: [good, good] }),
        JSON.stringify({ vectors: [{ ...good, send: ['0g'] }] }),
        JSON.stringify({ vectors: [{ ...good, send: ['ABCD'] }] }),
        JSON.stringify({ vectors: [{ ...good, send: ['abc'] }] }),
        JSON.stringify({ vectors: [{ ...good, expect: {} }] }),
        JSON.stringify({ vectors: [{ ...good, split: 'halves' }] }),
        JSON.stringify({ vectors: [{ ...good, end: 'no' }] }),
      ]) {
        expect(() => parseVectors(text), text)
          .to.throw(MeteoError)
          .with.property('code', 'ERR_BAD_VECTOR_FILE');
      }
    });

    it('plays a split vector once per split point of its last write', () => {
      const cases = casesOf(
        parseVectors(
          JSON.stringify({ vectors: [{ ...good, send: ['aa', 'bbccdd'], split: 'every-byte' }] }),
        ),
      );
      expect(
        cases.map((test) => [test.name, test.writes.map((w) => w.toString('hex'))]),
      ).to.deep.equal([
        ['a @1', ['aa', 'bb', 'ccdd']],
        ['a @2', ['aa', 'bbcc', 'dd']],
      ]);
    });

    it('half-closes after the last write unless the vector says not to', () => {
      const [plain, open] = casesOf(
        parseVectors(JSON.stringify({ vectors: [good, { ...good, name: 'b', end: false }] })),
      );
      expect([plain?.end, open?.end]).to.deep.equal([true, false]);
    });
  });
});
