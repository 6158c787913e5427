/**
 * A fault in the acceptor's own wiring (an effect it asked for throws, here a
 * telemetry sink that fails on the second connection). The server stops its
 * listener, closes its connections, stops the acceptor and says so through
 * `failed`: nothing is left accepting connections that nobody serves, and the
 * program exits for a supervisor to restart it. Real sockets on 127.0.0.1, a
 * real pool, real actors.
 */
import { connect } from 'node:net';
import { expect } from 'chai';
import { type RunningServer, startServer } from '../../actors/server.js';
import type { Telemetry } from '../../lib/telemetry.js';
import { Peers } from '../helpers/peers.js';

/** Counts like any sink, and throws on the second connection accepted. */
function failingOnSecondConnection(): Telemetry {
  let accepted = 0;
  return {
    connectionAccepted() {
      accepted++;
      if (accepted === 2) throw new Error('telemetry sink broke');
    },
    connectionRejected() {},
    connectionClosed() {},
    requestServed() {},
    errorSent() {},
  };
}

function refused(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      reject(new Error('the port still accepts connections'));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

describe('integration: a fault in the acceptor', function () {
  this.timeout(20_000);
  let server: RunningServer;
  const peers = new Peers();

  beforeEach(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 3,
      telemetry: failingOnSecondConnection(),
    });
  });

  afterEach(async () => {
    peers.closeAll();
    await server.stop();
  });

  it('stops listening, closes every connection and settles `failed` with the fault', async () => {
    const { client: first } = await peers.greeted(server.port);
    const second = await peers.connect(server.port);

    const fault = await server.failed;
    expect(String(fault)).to.include('telemetry sink broke');
    // The connection that was served is closed, and so is the one that broke the acceptor.
    await Promise.all([first.closed, second.closed]);
    expect(await refused(server.port)).to.equal('ECONNREFUSED');
    expect(server.actor.getSnapshot().status).to.equal('stopped');
  });
});
