/**
 * SIGTERM under load: the server process is stopped while 50 connections
 * keep requests in flight. Every request it had read gets exactly one reply,
 * in order; then ERR_SHUTTING_DOWN; then the close; and the process exits 0
 * within the drain deadline. The same holds for a --cluster primary and its
 * server processes (issue #15).
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { expect } from 'chai';
import { READINGS, type ReceivedServerMessage } from '../../lib/protocol.js';
import { RawClient } from '../helpers/rawClient.js';
import { type ServerProcess, startServerProcess } from '../helpers/serverProcess.js';
import { until } from '../helpers/wait.js';

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
  const servers: ServerProcess[] = [];
  const clients: RawClient[] = [];
  const sockets: Socket[] = [];

  async function serverProcess(...args: string[]): Promise<ServerProcess> {
    const server = await startServerProcess(...args);
    servers.push(server);
    return server;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((server) => server.kill()));
  });

  /**
   * Loads `server` (started with `--drain-timeout DRAIN_TIMEOUT_MS`) from
   * CONNECTIONS connections, sends it SIGTERM, and checks what every
   * connection got.
   */
  async function drainsUnderLoad(server: ServerProcess): Promise<void> {
    const { child, port } = server;
    const greeted = await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        const hello = await RawClient.greeted(port);
        clients.push(hello.client);
        return hello;
      }),
    );
    const tallies: Tally[] = greeted.map(() => ({ sent: [], received: [] }));
    const loads = greeted.map(({ client }, i) => load(client, tallies[i] as Tally));
    // The load is on once every connection has had more replies than it keeps in flight.
    await until(
      () => tallies.every((tally) => tally.received.length > IN_FLIGHT),
      'every connection under load',
    );

    const signalledAt = Date.now();
    child.kill('SIGTERM');
    await Promise.all(loads);
    await server.closed;
    const tookMs = Date.now() - signalledAt;

    expect(child.exitCode, server.output()).to.equal(0);
    // Only a hang is caught here: the drain deadline plus ten seconds is no
    // measure of speed (the benchmarks are), just a server that ignored its deadline.
    expect(tookMs).to.be.below(DRAIN_TIMEOUT_MS + 10_000);
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
    // Each connection had more than IN_FLIGHT replies before the signal.
    expect(answered, 'requests answered under load').to.be.above(CONNECTIONS * IN_FLIGHT);
  }

  const DRAIN = ['--drain-timeout', String(DRAIN_TIMEOUT_MS)];

  it('answers every request it received, says ERR_SHUTTING_DOWN, and exits 0 within the drain deadline', async () => {
    await drainsUnderLoad(await serverProcess('--threads', '2', ...DRAIN));
  });

  it('does the same under --cluster 2: both processes drain their connections, and the primary exits 0', async () => {
    const server = await serverProcess('--cluster', '2', '--threads', '1', ...DRAIN);
    await until(
      () => server.logs().some((line) => String(line['msg']).endsWith('2 server processes')),
      'both server processes to listen',
    );
    await drainsUnderLoad(server);
    const opened = server.logs().filter((line) => line['msg'] === 'connection opened');
    expect(new Set(opened.map((line) => line['process'])), 'processes that served').to.deep.equal(
      new Set([0, 1]),
    );
    const stopped = server.logs().filter((line) => line['msg'] === 'stopped');
    expect(new Set(stopped.map((line) => line['process'] ?? 'primary'))).to.deep.equal(
      new Set([0, 1, 'primary']),
    );
  });

  it('on SIGTERM with a ready grace, still welcomes a newcomer during the grace, then drains and exits 0', async () => {
    const server = await serverProcess('--threads', '1', '--ready-grace', '1500');
    const { child, port } = server;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await until(
      () => server.logs().some((line) => line['msg'] === 'shutting down'),
      'the server to hear the signal',
    );
    const newcomer = await RawClient.greeted(port);
    clients.push(newcomer.client);
    newcomer.client.send({ type: 'read', id: 1, reading: 'rainfall' });
    expect(await newcomer.client.next()).to.have.property('type', 'reading');
    const last = (await newcomer.client.rest(10_000)).at(-1);
    expect(last).to.deep.include({ type: 'error', code: 'ERR_SHUTTING_DOWN' });
    expect(await exited).to.equal(0);
  });

  it('exits at once, with status 130, on a second SIGINT while draining', async () => {
    const server = await serverProcess('--threads', '1', '--drain-timeout', '20000');
    const { child, port } = server;
    const said = (msg: string) => () => server.logs().some((line) => line['msg'] === msg);
    // A client that never closes its side keeps the drain waiting (the server lingers for it).
    const stubborn = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    sockets.push(stubborn);
    stubborn.on('error', () => {});
    await once(stubborn, 'connect');
    await until(said('connection opened'), 'the server has the connection');

    child.kill('SIGINT');
    // Logged once the handler for a second SIGINT is in place.
    await until(said('shutting down'), 'the server is draining');
    expect(child.exitCode, 'still draining after the first SIGINT').to.equal(null);
    child.kill('SIGINT');
    await server.closed;
    // 130, not the 0 of a drain that ended: the second SIGINT cut it short. No time is
    // measured: the stubborn client holds the drain for seconds, the deadline for 20.
    expect(child.exitCode, server.output()).to.equal(130);
    expect(server.logs().at(-1)).to.include({ msg: 'second interrupt; exiting at once' });
  });
});
