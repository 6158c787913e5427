/**
 * The live view over real sockets, without a browser: the page and its
 * assets on the HTTP port, the feed's WebSocket as a page would open it,
 * and the doors it keeps shut (a foreign Host, a foreign Origin).
 * spec/integration/liveView.browser.spec.ts drives the page itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import WebSocket from 'ws';
import { serveHttp } from '../../actors/http.js';
import { type RunningServer, type ServerSettings, startServer } from '../../actors/server.js';
import { createLiveView } from '../../actors/view/liveView.js';
import {
  type ConnectionRow,
  type DetailMessage,
  FEED_PATH,
  type FeedMessage,
  type HelloMessage,
  type OpenedRow,
} from '../../actors/view/protocol.js';
import { KIOSK, kioskAuthFile } from '../helpers/authFile.js';
import { RawClient } from '../helpers/rawClient.js';
import { until } from '../helpers/wait.js';

function fetchPath(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** A page's socket, as the page opens it: what it was sent, in order. */
class StandIn {
  readonly messages: FeedMessage[] = [];
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  constructor(port: number, headers: Record<string, string> = {}) {
    this.socket = new WebSocket(`ws://127.0.0.1:${port}${FEED_PATH}`, { headers });
    this.socket.on('message', (data) => this.messages.push(JSON.parse(String(data))));
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.socket.once('close', (code) => resolve(code)));
  }

  of<T extends FeedMessage['type']>(type: T): Extract<FeedMessage, { type: T }>[] {
    return this.messages.filter((message) => message.type === type) as Extract<
      FeedMessage,
      { type: T }
    >[];
  }
}

const SETTINGS: ServerSettings = { host: '127.0.0.1', port: 0, threads: 1, seed: 1, httpPort: 0 };

describe('integration: the live view over HTTP and WebSocket', function () {
  this.timeout(20_000);
  let server: RunningServer;
  const clients: RawClient[] = [];
  const pages: StandIn[] = [];

  beforeEach(async () => {
    server = await startServer(SETTINGS);
  });

  afterEach(async () => {
    for (const page of pages.splice(0)) page.socket.terminate();
    for (const client of clients.splice(0)) client.destroy();
    await server.stop();
  });

  function page(headers: Record<string, string> = {}): StandIn {
    const standIn = new StandIn(server.httpPort as number, headers);
    pages.push(standIn);
    return standIn;
  }

  it('serves the page and its script from the server itself, under a policy that allows nothing else', async () => {
    const port = server.httpPort as number;
    const index = await fetchPath(port, '/');
    expect(index.status).to.equal(200);
    expect(index.headers['content-type']).to.match(/^text\/html/);
    expect(index.headers['content-security-policy']).to.include("default-src 'self'");
    expect(index.body).to.include('/assets/main.js');
    const script = await fetchPath(port, '/assets/main.js');
    expect(script.status).to.equal(200);
    expect(script.headers['content-type']).to.match(/^text\/javascript/);
    expect((await fetchPath(port, '/assets/../../server.js')).status).to.equal(404);
  });

  it('answers a request that names the server by a name it does not have with 421 (DNS rebinding)', async () => {
    const port = server.httpPort as number;
    const answer = await fetchPath(port, '/', { host: `attacker.example:${port}` });
    expect(answer.status).to.equal(421);
  });

  it("refuses a WebSocket from another site's page, or under a foreign Host", async () => {
    const port = server.httpPort as number;
    const refusals: Record<string, string>[] = [
      { origin: 'http://attacker.example' },
      { origin: `https://127.0.0.1:${port}` },
      { host: `attacker.example:${port}` },
    ];
    for (const headers of refusals) {
      const refused = page(headers);
      const err = await refused.opened.then(
        () => null,
        (error: Error) => error,
      );
      expect(err?.message, JSON.stringify(headers)).to.match(/403/);
    }
    expect(server.view?.pages).to.equal(0);
  });

  it('gives its own page the hello, the whole picture, then deltas; no page, and it stops', async () => {
    const port = server.httpPort as number;
    const { client } = await RawClient.greeted(server.port);
    clients.push(client);
    expect(server.view?.running).to.equal(false);
    const own = page({ origin: `http://127.0.0.1:${port}` });
    await own.opened;
    await until(() => own.of('delta').length >= 2, 'two deltas');
    const [hello, full] = own.messages as [HelloMessage, FeedMessage];
    expect(hello.type).to.equal('hello');
    expect(hello.port).to.equal(server.port);
    expect(hello.stations.map((station) => station.id)).to.deep.equal(['seattle']);
    if (full.type !== 'full') throw new Error(`expected the full picture, got ${full.type}`);
    expect(full.rows).to.have.length(1);
    expect(hello.states[full.rows[0]?.[1] as number]).to.equal('serving.awaiting-request');
    expect(full.acceptor).to.equal('listening');
    expect(server.view?.running).to.equal(true);
    own.socket.close();
    await own.closed;
    await until(() => server.view?.running === false, 'the feed stops with the last page');
  });

  it('tells the page the client a connection was welcomed as (issue #14)', async () => {
    const authFile = kioskAuthFile();
    try {
      await server.stop();
      server = await startServer({ ...SETTINGS, authFile: authFile.path });
      const own = page();
      await own.opened;
      const { client } = await RawClient.greeted(server.port, KIOSK);
      clients.push(client);
      // In its row when the page first sees it, or in a change of it after.
      const clientOf = (row: OpenedRow | ConnectionRow): string | undefined =>
        row.length >= 6 ? (row as OpenedRow)[6] : row[4];
      await until(
        () =>
          own
            .of('delta')
            .some((delta) =>
              [...delta.opened, ...delta.changed].some(
                (row) => row[0] === 1 && clientOf(row) === 'kiosk',
              ),
            ),
        'the client in a delta',
      );
    } finally {
      authFile.remove();
    }
  });

  it('shows a connection in detail, event by event, while a page watches it', async () => {
    const { client } = await RawClient.greeted(server.port);
    clients.push(client);
    const own = page();
    await own.opened;
    await until(() => own.of('full').length === 1, 'the full picture');
    const states = (own.messages[0] as HelloMessage).states;
    own.socket.send(JSON.stringify({ type: 'watch', n: 1 }));
    await until(() => own.of('detail').length >= 1, 'the detail');
    client.send({ type: 'read', id: 7, reading: 'pressure' });
    expect(await client.next()).to.deep.include({ type: 'reading', id: 7 });
    await until(
      () => own.of('detail').some((detail) => detail.events.some((e) => e.event === 'WRITTEN')),
      'the events of the read',
    );
    const events = own.of('detail').flatMap((detail: DetailMessage) => detail.events);
    const received = events.find((event) => event.event === 'RECEIVED');
    expect(received?.note).to.equal('read #7 pressure');
    expect(received?.states.map((s) => states[s])).to.include('serving.computing');
    expect(server.view?.watched).to.equal(1);
    own.socket.close();
    await until(() => server.view?.watched === 0, 'the watch ends with the page');
  });

  it('closes the pages when the server stops', async () => {
    const own = page();
    await own.opened;
    await server.stop();
    expect(await own.closed).to.be.a('number');
  });

  it('says the page is not built (503) when its assets are missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'meteo-view-'));
    const view = createLiveView(
      {
        server: 'test',
        port: 0,
        stations: [],
        connections: () => [],
        acceptorState: () => 'listening',
        pool: server.sensors,
      },
      { assetsDir: empty },
    );
    const http = await serveHttp({ host: '127.0.0.1', port: 0, routes: view.routes });
    try {
      view.listening('127.0.0.1', http.port);
      expect((await fetchPath(http.port, '/')).status).to.equal(503);
    } finally {
      await http.close();
      view.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
