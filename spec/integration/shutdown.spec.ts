/**
 * SIGTERM under load: the server process is stopped while 50 connections
 * keep requests in flight. Every request it had read gets exactly one reply,
 * in order; then ERR_SHUTTING_DOWN; then the close; and the process exits 0
 * within the drain deadline.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { expect } from 'chai';
import { READINGS, type ReceivedServerMessage } from '../../lib/protocol.js';
import { RawClient } from '../helpers/rawClient.js';
import { startServerProcess } from '../helpers/serverProcess.js';

const DRAIN_TIMEOUT_MS = 3_000;
const CONNECTIONS = 50;
const IN_FLIGHT = 16;

interface Tally {
  sent: number[];
  received: ReceivedServerMessage[];
}

/** Keeps IN_FLIGHT requests outstanding on `client` until the server closes it. */
async function load(client: RawClient, tally: Tally): Promise<void> {
  let next = 0;
  const sendOne = (): void => {
    const id = next++;
    tally.sent.push(id);
    client.send({ type: 'read', id, reading: READINGS[id % 4] ?? 'pressure' });
  };
  for (let i = 0; i < IN_FLIGHT; i++) sendOne();
  for (;;) {
    let message: ReceivedServerMessage;
    try {
      message = await client.next(10_000);
    } catch {
      return; // the server closed: the tally is complete
    }
    tally.received.push(message);
    if (message.type === 'reading') sendOne();
  }
}

describe('integration: SIGTERM under load', function () {
  this.timeout(30_000);

  it('answers every request it received, says ERR_SHUTTING_DOWN, and exits 0 within the drain deadline', async () => {
    const { child, port } = await startServerProcess(
      '--threads',
      '2',
      '--drain-timeout',
      String(DRAIN_TIMEOUT_MS),
    );
    try {
      const clients = await Promise.all(
        Array.from({ length: CONNECTIONS }, () => RawClient.greeted(port)),
      );
      const tallies: Tally[] = clients.map(() => ({ sent: [], received: [] }));
      const loads = clients.map(({ client }, i) => load(client, tallies[i] as Tally));
      await new Promise((resolve) => setTimeout(resolve, 300));

      const exited = once(child, 'exit');
      const signalledAt = Date.now();
      child.kill('SIGTERM');
      await Promise.all(loads);
      const [code] = await exited;
      const tookMs = Date.now() - signalledAt;

      expect(code).to.equal(0);
      expect(tookMs).to.be.below(DRAIN_TIMEOUT_MS + 1_000);
      let answered = 0;
      for (const { sent, received } of tallies) {
        const last = received.at(-1);
        expect(last).to.deep.include({ type: 'error', id: null, code: 'ERR_SHUTTING_DOWN' });
        const replies = received.slice(0, -1);
        // Exactly one reply per request read, in order: the replies are the first ids sent.
        expect(
          replies.map((reply) => (reply.type === 'reading' ? reply.id : `${reply.type}`)),
        ).to.deep.equal(sent.slice(0, replies.length));
        answered += replies.length;
      }
      expect(answered, 'requests answered under load').to.be.above(CONNECTIONS * IN_FLIGHT);
      for (const { client } of clients) client.destroy();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('exits at once, with status 130, on a second SIGINT while draining', async () => {
    const { child, port } = await startServerProcess('--threads', '1');
    try {
      // A client that never closes its side keeps the drain waiting (the server lingers for it).
      const stubborn = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      stubborn.on('error', () => {});
      await once(stubborn, 'connect');
      await new Promise((resolve) => setTimeout(resolve, 50));

      const exited = once(child, 'exit');
      child.kill('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(child.exitCode, 'still draining after the first SIGINT').to.equal(null);
      const secondAt = Date.now();
      child.kill('SIGINT');
      const [code] = await exited;
      expect(code).to.equal(130);
      expect(Date.now() - secondAt).to.be.below(1_000);
      stubborn.destroy();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
