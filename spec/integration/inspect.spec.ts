/**
 * The XState inspector: a program with inspection on sends its actors,
 * through the relay (actors/inspect.ts), to any WebSocket client of the
 * relay, which is what the inspector page in a browser is. Here the spec is
 * that client.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import WebSocket from 'ws';
import { type RunningClient, runClient } from '../../actors/client.js';
import { type Inspection, RELAY_IDENTITY_PATH, startInspection } from '../../actors/inspect.js';
import type { AnyInspectionEvent, NamedActor } from '../../actors/observe.js';
import { type RunningServer, startServer } from '../../actors/server.js';
import { MeteoError } from '../../lib/errors.js';
import { until } from '../helpers/wait.js';

interface Relayed {
  readonly type: string;
  readonly name?: string;
  readonly sessionId: string;
  readonly parentId?: string;
  readonly rootId?: string;
  readonly snapshot?: { readonly value?: unknown; readonly context?: Record<string, unknown> };
}

/** A page's socket on the relay: every message it gets, parsed. */
interface Viewer {
  readonly socket: WebSocket;
  readonly relayed: Relayed[];
}

function openViewer(port: number, origin?: string): Promise<Viewer> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`, origin ? { origin } : {});
  const relayed: Relayed[] = [];
  // Each message is a batch, a JSON array: one turn of a program's events.
  socket.on('message', (data) => relayed.push(...(JSON.parse(String(data)) as Relayed[])));
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      // Heard for good: an error after the open would otherwise be thrown out of the socket.
      socket.on('error', () => {});
      resolve({ socket, relayed });
    });
    socket.once('error', reject);
  });
}

/** Local addresses on which something listens on `port`, as /proc/net/tcp{,6} shows them (Linux). */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const addresses: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local?.endsWith(`:${hexPort}`)) continue;
      const hex = local.slice(0, local.indexOf(':'));
      addresses.push(
        hex.length === 8
          ? (hex.match(/../g) ?? [])
              .reverse()
              .map((byte) => Number.parseInt(byte, 16))
              .join('.')
          : hex,
      );
    }
  }
  return addresses;
}

function get(port: number, path: string, host = `127.0.0.1:${port}`): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('integration: the XState inspector', function () {
  this.timeout(20_000);
  const inspections: Inspection[] = [];
  const viewers: Viewer[] = [];
  const listeners: Server[] = [];
  let server: RunningServer | undefined;
  let polling: RunningClient | undefined;

  async function inspection(port = 0, program: 'server' | 'client' = 'server') {
    const started = await startInspection({ port, host: '127.0.0.1', program });
    inspections.push(started);
    return started;
  }

  async function viewer(port: number): Promise<Viewer> {
    const opened = await openViewer(port);
    viewers.push(opened);
    return opened;
  }

  const portOf = (inspected: Inspection): number => Number(new URL(inspected.url).port);

  afterEach(async () => {
    polling?.stop();
    await polling?.finished;
    for (const { socket } of viewers.splice(0)) {
      if (socket.readyState === WebSocket.CLOSED) continue;
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.terminate();
      await closed;
    }
    await server?.stop();
    for (const inspected of inspections.splice(0).reverse()) await inspected.stop();
    for (const listener of listeners.splice(0))
      await new Promise((resolve) => listener.close(resolve));
    polling = undefined;
    server = undefined;
  });

  it('relays the acceptor and the first connection actors, with the states of the design, and nothing of the rest', async () => {
    const inspected = await inspection();
    expect(inspected.startedRelay, 'a relay of its own on a free port').to.equal(true);
    const { relayed } = await viewer(portOf(inspected));

    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      inspect: (name) => inspected.observer(name),
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

    // Each inspected connection is a root of its own, named server/connection.N.
    const connectionNamed = (n: number): Relayed | undefined =>
      relayed.find(
        (event) => event.type === '@xstate.actor' && event.name === `server/connection.${n}`,
      );
    const valuesOf = (sessionId: string): Set<unknown> =>
      new Set(
        relayed
          .filter((event) => event.type === '@xstate.snapshot' && event.sessionId === sessionId)
          .map((event) => JSON.stringify(event.snapshot?.value)),
      );
    const serving = (state: string): string => JSON.stringify({ serving: state });
    await until(() => {
      const connection = connectionNamed(1);
      return connection !== undefined && valuesOf(connection.sessionId).has(serving('replying'));
    }, 'the first connection actor to be relayed through replying');

    expect(
      relayed.find((event) => event.type === '@xstate.actor' && event.name === 'server/acceptor'),
      'the acceptor is relayed',
    ).to.not.equal(undefined);
    const connection = connectionNamed(1) as Relayed;
    expect([...valuesOf(connection.sessionId)]).to.include.members(
      ['awaiting-request', 'computing', 'replying'].map(serving),
    );
    expect(connectionNamed(2), 'past --inspect-connections, a connection sends nothing').to.equal(
      undefined,
    );
    // The machine holds no socket and no function: its context is data only.
    const withContext = relayed.find(
      (event) => event.sessionId === connection.sessionId && event.snapshot?.context !== undefined,
    );
    expect(withContext?.snapshot?.context).to.have.property('closeReason');
  });

  it('sends the inspector nothing from connections when it inspects none', async () => {
    const seen: AnyInspectionEvent[] = [];
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
    const ids = new Set(seen.map((event) => (event.actorRef as NamedActor).id));
    expect([...ids].filter((id) => id.startsWith('connection'))).to.deep.equal([]);
    expect(ids.has('acceptor')).to.equal(true);
  });

  // Issue #16 item 4: both roots were sessionId "x:0", and so were both client actors.
  it('names the server’s and the client’s actors apart, readably, and no two share a sessionId', async () => {
    const serverSide = await inspection(0, 'server');
    const clientSide = await inspection(portOf(serverSide), 'client');
    expect(clientSide.startedRelay, 'the client joins the server’s relay').to.equal(false);
    const { relayed } = await viewer(portOf(serverSide));

    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      inspect: (name) => serverSide.observer(name),
      inspectConnections: 2,
    });
    polling = runClient(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 10,
        connections: 2,
        count: 1,
        json: true,
        inspect: (name) => clientSide.observer(name),
        inspectConnections: 2,
      },
      { out: () => {}, err: () => {} },
    );
    expect(await polling.finished).to.equal(0);
    const actorNames = (): string[] =>
      relayed.filter((event) => event.type === '@xstate.actor').map((event) => event.name ?? '');
    await until(
      () => actorNames().includes('client/connection.2/link'),
      'the second client actor’s link to be relayed',
    );

    expect(actorNames()).to.include.members([
      'server/acceptor',
      'client/connection.1',
      'client/connection.1/link',
      'client/connection.2',
      'client/connection.2/link',
    ]);
    const actors = relayed.filter((event) => event.type === '@xstate.actor');
    const sessionsByName = new Map<string, Set<string>>();
    for (const actor of actors) {
      const sessions = sessionsByName.get(actor.name ?? '') ?? new Set();
      sessions.add(actor.sessionId);
      sessionsByName.set(actor.name ?? '', sessions);
    }
    const owners = new Map<string, string>();
    for (const [name, sessions] of sessionsByName) {
      for (const sessionId of sessions) {
        expect(owners.get(sessionId), `${sessionId} is ${name}'s alone`).to.be.oneOf([
          undefined,
          name,
        ]);
        owners.set(sessionId, name);
      }
    }
    const link = actors.find((actor) => actor.name === 'client/connection.1/link') as Relayed;
    const root = actors.find((actor) => actor.name === 'client/connection.1') as Relayed;
    expect(link.parentId).to.equal(root.sessionId);
    expect(link.rootId).to.equal(root.sessionId);
  });

  // Issue #16 item 5.
  it('listens on the address it is given, loopback, and on no other', async function () {
    const inspected = await inspection();
    const addresses = listeningAddresses(portOf(inspected));
    if (addresses.length === 0) this.skip(); // no /proc/net/tcp here
    expect(addresses).to.deep.equal(['127.0.0.1']);
  });

  it('refuses a WebSocket from another site’s page, and takes its own page’s and a program’s', async () => {
    const inspected = await inspection();
    const port = portOf(inspected);
    const refused = await openViewer(port, 'http://evil.example').then(
      (opened) => {
        viewers.push(opened);
        return false;
      },
      (err: Error) => err.message,
    );
    expect(refused).to.match(/403/);
    await viewer(port);
    const ownPage = await openViewer(port, `http://localhost:${port}`);
    viewers.push(ownPage);
    expect(ownPage.socket.readyState).to.equal(WebSocket.OPEN);
  });

  it('relays what a program sends to every page, and nothing a page sends', async () => {
    const inspected = await inspection();
    const port = portOf(inspected);
    const { relayed } = await viewer(port);
    const page = await openViewer(port, `http://localhost:${port}`);
    viewers.push(page);
    // A page that tries the programs' path is still a page: it only listens.
    const posing = new WebSocket(`ws://127.0.0.1:${port}/programs`, {
      origin: `http://localhost:${port}`,
    });
    viewers.push({ socket: posing, relayed: [] });
    await new Promise((resolve, reject) => posing.once('open', resolve).once('error', reject));
    posing.on('error', () => {});
    page.socket.send(JSON.stringify({ type: '@xstate.actor', sessionId: 'from-a-page' }));
    posing.send(JSON.stringify({ type: '@xstate.actor', sessionId: 'posing-as-a-program' }));

    const program = new WebSocket(`ws://127.0.0.1:${port}/programs`);
    viewers.push({ socket: program, relayed: [] });
    await new Promise((resolve, reject) => program.once('open', resolve).once('error', reject));
    program.send(
      [
        { type: '@xstate.actor', sessionId: 'one' },
        { type: '@xstate.event', sessionId: 'two' },
      ]
        .map((event) => JSON.stringify(event))
        .join('\n'),
    );
    await until(() => relayed.length >= 2, 'the program’s two events to be relayed');
    await until(() => page.relayed.length >= 2, 'the page to get them too');
    expect(relayed.map((event) => event.sessionId)).to.deep.equal(['one', 'two']);
    expect(page.relayed.map((event) => event.sessionId)).to.deep.equal(['one', 'two']);
  });

  it('serves its page only under its own name (no DNS rebinding), and says what it is', async () => {
    const inspected = await inspection();
    const port = portOf(inspected);
    expect(await get(port, '/')).to.equal(200);
    expect(await get(port, '/', `localhost:${port}`)).to.equal(200);
    expect(await get(port, '/', `evil.example:${port}`)).to.equal(421);
    expect(await get(port, RELAY_IDENTITY_PATH)).to.equal(200);
  });

  // Issue #16 item 3: a foreign listener was "joined", and nothing worked.
  it('refuses, with ERR_ADDRESS_IN_USE, a port where another program listens', async () => {
    // A web server of someone else's: it answers every path, as @statelyai/inspect's relay does too.
    const foreign = createServer((socket) => {
      socket.resume();
      socket.end('HTTP/1.1 200 OK\r\n\r\nhello\n');
    });
    listeners.push(foreign);
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    const { port } = foreign.address() as { port: number };
    const err = await inspection(port).then(
      () => expect.fail('joined a listener that is not a relay'),
      (refusal: unknown) => refusal,
    );
    expect(err).to.be.instanceOf(MeteoError);
    expect((err as MeteoError).code).to.equal('ERR_ADDRESS_IN_USE');
  });

  // Issue #16 item 2: stop() left the browser's and the programs' sockets open.
  it('closes every socket on the relay and frees its port on stop', async () => {
    const inspected = await inspection();
    const port = portOf(inspected);
    const joined = await inspection(port, 'client');
    const { socket } = await viewer(port);
    const pageClosed = new Promise((resolve) => socket.once('close', resolve));
    await joined.stop();
    await inspected.stop();
    await pageClosed;
    const again = createServer();
    listeners.push(again);
    await new Promise<void>((resolve, reject) =>
      again.once('error', reject).listen(port, '127.0.0.1', resolve),
    );
  });
});
