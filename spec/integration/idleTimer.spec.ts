/**
 * What restarts the idle timer (docs/PROTOCOL.md §7, issue #12): a request
 * does, junk does not. Before, any frame did, so a client that sent an empty
 * or malformed frame now and then held a connection open for ever.
 */
import { expect } from 'chai';
import { type RunningServer, startServer } from '../../actors/server.js';
import { frame } from '../../lib/framing.js';
import type { ReceivedServerMessage } from '../../lib/protocol.js';
import { Peers } from '../helpers/peers.js';
import type { RawClient } from '../helpers/rawClient.js';
import { sleep } from '../helpers/wait.js';

const IDLE_TIMEOUT_MS = 600;

/** Frames that are not requests: empty, not MessagePack, an unknown type, an unknown reading. */
const JUNK = [
  frame(Buffer.alloc(0)),
  frame(Buffer.from('c1', 'hex')),
  frame(Buffer.from('81a474797065a5776f726c64', 'hex')), // { type: "world" }
  frame(Buffer.from('83a474797065a472656164a2696401a772656164696e67a3666f67', 'hex')), // reading "fog"
];

function codeOf(message: ReceivedServerMessage): string {
  return message.type === 'error' ? message.code : message.type;
}

describe('integration: what restarts the idle timer', function () {
  this.timeout(15_000);
  let server: RunningServer | undefined;
  const peers = new Peers();

  beforeEach(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      handshakeTimeoutMs: 5_000,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
    });
  });

  afterEach(async () => {
    peers.closeAll();
    await server?.stop();
    server = undefined;
  });

  /** Sends `frames` in turn, one every `everyMs`, for `forMs` or until the server closes. */
  async function keepSending(
    client: RawClient,
    frames: readonly Buffer[],
    everyMs: number,
    forMs: number,
  ): Promise<void> {
    let ended = false;
    void client.ended.then(() => {
      ended = true;
    });
    const until = Date.now() + forMs;
    for (let i = 0; !ended && Date.now() < until; i++) {
      client.sendBytes(frames[i % frames.length] as Buffer);
      await sleep(everyMs);
    }
  }

  it('closes a connection that sends only junk frames, at the idle timeout, with ERR_IDLE_TIMEOUT', async () => {
    const { client } = await peers.greeted((server as RunningServer).port);
    const opened = Date.now();
    // Junk every 100 ms, for three idle timeouts: under the old rule this held the connection open.
    const sending = keepSending(client, JUNK, 100, 3 * IDLE_TIMEOUT_MS);
    const replies = await client.rest(3 * IDLE_TIMEOUT_MS);
    const closedAfterMs = Date.now() - opened;
    await sending;
    const codes = replies.map(codeOf);
    expect(codes.at(-1)).to.equal('ERR_IDLE_TIMEOUT');
    expect(codes.slice(0, -1)).to.satisfy((earlier: string[]) =>
      earlier.every((code) => code === 'ERR_BAD_MESSAGE' || code === 'ERR_UNKNOWN_READING'),
    );
    expect(closedAfterMs, 'closed at the idle timeout, not pushed back by the junk').to.be.below(
      IDLE_TIMEOUT_MS + 300,
    );
  });

  it('keeps open a connection that sends a request more often than the idle timeout', async () => {
    const { client } = await peers.greeted((server as RunningServer).port);
    const read = frame(
      Buffer.from('83a474797065a472656164a2696401a772656164696e67a87072657373757265', 'hex'),
    );
    // A read every 200 ms for three idle timeouts, then a half-close: every read answered, no timeout.
    await keepSending(client, [read], 200, 3 * IDLE_TIMEOUT_MS);
    client.end();
    const codes = (await client.rest()).map(codeOf);
    expect(codes.length).to.be.at.least(5);
    expect(new Set(codes)).to.deep.equal(new Set(['reading']));
  });
});
