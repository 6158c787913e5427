/**
 * The XState inspector: a server with inspection on sends its actors, through
 * @statelyai/inspect's relay, to any WebSocket client of the relay, which is
 * what the inspector page in a browser is. Here the spec is that client.
 */
import { createServer } from 'node:net';
import { expect } from 'chai';
import WebSocket from 'ws';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import { type RunningClient, runClient } from '../../actors/client.js';
import { type Inspection, startInspection } from '../../actors/inspect.js';
import { type RunningServer, startServer } from '../../actors/server.js';
import { until } from '../helpers/wait.js';

interface Relayed {
  readonly type: string;
  readonly name?: string;
  readonly sessionId: string;
  readonly snapshot?: { readonly value?: unknown; readonly context?: Record<string, unknown> };
}

/**
 * A port for the relay, which cannot listen on port 0 (it puts its port in
 * the page and the inspector's URL) and whose listen error nothing can catch
 * (actors/inspect.ts does not reach its server). So: a port below the
 * ranges systems hand out by themselves (from 32768 on Linux, 49152 on
 * macOS), which no process gets unless it asks for that number, free on
 * every interface, as the relay listens.
 */
async function unusedPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const probe = createServer();
    const free = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(port, () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => probe.close(resolve));
      return port;
    }
  }
  throw new Error('no free port between 20000 and 32000');
}

describe('integration: the XState inspector', function () {
  this.timeout(20_000);
  let inspection: Inspection | undefined;
  let server: RunningServer | undefined;
  let socket: WebSocket | undefined;
  let polling: RunningClient | undefined;

  afterEach(async () => {
    polling?.stop();
    await polling?.finished;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      const closed = new Promise((resolve) => socket?.once('close', resolve));
      socket.terminate();
      await closed;
    }
    await server?.stop();
    // stop() cannot be awaited: the relay (@statelyai/inspect/server) closes
    // its servers without a callback. Its sockets are closed by then.
    inspection?.stop();
    polling = undefined;
    socket = undefined;
    server = undefined;
    inspection = undefined;
  });

  it('relays the acceptor and the first connection actors, with the states of the design, and nothing of the rest', async () => {
    const port = await unusedPort();
    const started = await startInspection(port);
    inspection = started;
    expect(started.startedRelay, 'a relay of its own on a free port').to.equal(true);
    const relayed: Relayed[] = [];
    socket = new WebSocket(`ws://127.0.0.1:${port}`);
    socket.on('message', (data) => relayed.push(JSON.parse(String(data)) as Relayed));
    const opened = new Promise((resolve, reject) =>
      socket?.once('open', resolve).once('error', reject),
    );
    // Heard for good: an error after the open would otherwise be thrown out of the socket.
    socket.on('error', () => {});
    await opened;

    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      inspect: () => started.observer,
      inspectConnections: 1,
    });
    polling = runClient(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 10,
        connections: 2,
        count: 2,
        json: true,
      },
      { out: () => {}, err: () => {} },
    );
    expect(await polling.finished).to.equal(0);

    const actorNamed = (name: string): Relayed | undefined =>
      relayed.find((event) => event.type === '@xstate.actor' && event.name === name);
    const valuesOf = (sessionId: string): Set<unknown> =>
      new Set(
        relayed
          .filter((event) => event.type === '@xstate.snapshot' && event.sessionId === sessionId)
          .map((event) => JSON.stringify(event.snapshot?.value)),
      );
    await until(() => {
      const connection = actorNamed('connection.1');
      return (
        connection !== undefined &&
        valuesOf(connection.sessionId).has(JSON.stringify({ serving: 'replying' }))
      );
    }, 'the first connection actor to be relayed through replying');

    expect(actorNamed('acceptor'), 'the acceptor is relayed').to.not.equal(undefined);
    const connection = actorNamed('connection.1') as Relayed;
    expect([...valuesOf(connection.sessionId)]).to.include.members(
      ['awaiting-request', 'computing', 'replying'].map((state) =>
        JSON.stringify({ serving: state }),
      ),
    );
    expect(
      actorNamed('connection.2'),
      'past --inspect-connections, a connection sends nothing',
    ).to.equal(undefined);
    // The machine holds no socket and no function: its context is data only.
    const withContext = relayed.find(
      (event) => event.sessionId === connection.sessionId && event.snapshot?.context !== undefined,
    );
    expect(withContext?.snapshot?.context).to.have.property('closeReason');
  });

  it('sends the inspector nothing from connections when it inspects none', async () => {
    const seen: InspectionEvent[] = [];
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      inspect: () => ({ next: (event) => seen.push(event) }),
      inspectConnections: 0,
    });
    polling = runClient(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 10,
        connections: 3,
        count: 1,
        json: true,
      },
      { out: () => {}, err: () => {} },
    );
    expect(await polling.finished).to.equal(0);
    const ids = new Set(seen.map((event) => (event.actorRef as AnyActorRef).id));
    expect([...ids].filter((id) => id.startsWith('connection'))).to.deep.equal([]);
    expect(ids.has('acceptor')).to.equal(true);
  });
});
