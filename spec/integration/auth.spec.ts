/**
 * Clients that must say who they are (issue #14), on a real server and real
 * sockets: the three ways a credential is wrong, counted; guessing slowed
 * down while good clients are served; the auth file reloaded, and what it
 * does to open connections; the client's label on the counters.
 */
import { get } from 'node:http';
import { networkInterfaces } from 'node:os';
import { expect } from 'chai';
import type { GuessLimits } from '../../actors/auth.js';
import { queryOnce, runClient } from '../../actors/client.js';
import { type RunningServer, type ServerSettings, startServer } from '../../actors/server.js';
import { loadClientTls } from '../../actors/tls.js';
import { PROTOCOL_VERSION, READINGS, type ReceivedServerMessage } from '../../lib/protocol.js';
import { makePki, type TestPki } from '../helpers/certificates.js';
import { RawClient } from '../helpers/rawClient.js';
import { sleep, until } from '../helpers/wait.js';

const KIOSK = { name: 'kiosk', secret: 'kiosk-secret-0123456789' };
const LAB = { name: 'lab', secret: 'lab-secret-abcdefghijk' };
const AUTH_FILE = `${KIOSK.name}:${KIOSK.secret}\n${LAB.name}:${LAB.secret}\n`;

function codeOf(message: ReceivedServerMessage | undefined): string | undefined {
  return message?.type === 'error' ? message.code : message?.type;
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('integration: clients that say who they are', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let authFile: string;
  const servers: RunningServer[] = [];
  const raws: RawClient[] = [];

  before(() => {
    pki = makePki();
  });
  after(() => pki.remove());

  beforeEach(() => {
    authFile = pki.file('auth', AUTH_FILE);
  });

  afterEach(async () => {
    for (const raw of raws.splice(0)) raw.destroy();
    for (const server of servers.splice(0)) await server.stop();
  });

  async function serve(more: Partial<ServerSettings> = {}): Promise<RunningServer> {
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      authFile,
      tls: { certFile: pki.server.cert, keyFile: pki.server.key },
      ...more,
    });
    servers.push(server);
    return server;
  }

  /** A raw TLS client that has sent a hello with `auth` (none when absent); its first reply. */
  async function hello(
    server: RunningServer,
    auth?: { name: string; secret: string },
  ): Promise<{ client: RawClient; reply: ReceivedServerMessage }> {
    const client = await RawClient.connectTls(server.port, { ca: pki.fileText(pki.ca.cert) });
    raws.push(client);
    client.send({ type: 'hello', version: PROTOCOL_VERSION, id: 3, ...(auth ? { auth } : {}) });
    return { client, reply: await client.next() };
  }

  it('welcomes a client with its own secret, and labels its requests with its name', async () => {
    const server = await serve({ httpPort: 0 });
    const status = await queryOnce(
      {
        host: '127.0.0.1',
        port: server.port,
        readings: READINGS,
        all: true,
        json: false,
        raw: true,
        tls: loadClientTls({ caFile: pki.ca.cert }),
        credential: KIOSK,
      },
      { out: () => {}, err: () => {} },
    );
    expect(status).to.equal(0);
    expect(server.stats().auth.requests).to.deep.equal({ kiosk: READINGS.length });
    const text = await scrape(server.httpPort as number);
    expect(text).to.include(
      `meteo_client_requests_total{client="kiosk",outcome="ok"} ${READINGS.length}`,
    );
    expect(text).to.include('meteo_auth_failures_total{reason="wrong-secret"} 0');
  });

  for (const [what, auth, reason] of [
    ['a wrong secret', { name: KIOSK.name, secret: LAB.secret }, 'wrong-secret'],
    ['an unknown name', { name: 'nobody', secret: KIOSK.secret }, 'unknown-client'],
    ['no credential', undefined, 'missing'],
  ] as const) {
    it(`answers ${what} with ERR_AUTH_FAILED carrying the hello's id, closes, and counts it as ${reason}`, async () => {
      const server = await serve({ httpPort: 0 });
      const { client, reply } = await hello(server, auth);
      expect(reply).to.deep.include({ type: 'error', id: 3, code: 'ERR_AUTH_FAILED' });
      // Nothing more is answered, and the server closes.
      client.send({ type: 'read', id: 4, reading: 'pressure' });
      expect(await client.rest()).to.deep.equal([]);
      expect(server.stats().auth.failures).to.deep.equal({ [reason]: 1 });
      expect(server.stats().errors).to.deep.equal({ ERR_AUTH_FAILED: 1 });
      const text = await scrape(server.httpPort as number);
      expect(text).to.include(`meteo_auth_failures_total{reason="${reason}"} 1`);
    });
  }

  it('says the same to every wrong credential: the reply does not tell which part was wrong', async () => {
    const server = await serve();
    const replies = [];
    for (const auth of [
      { name: KIOSK.name, secret: LAB.secret },
      { name: 'nobody', secret: 'x' },
      undefined,
    ]) {
      const { reply } = await hello(server, auth);
      replies.push(reply);
    }
    expect(new Set(replies.map((reply) => JSON.stringify(reply))).size).to.equal(1);
  });

  it('slows 1,000 wrong guesses from one address down as documented, and serves a good client meanwhile', async () => {
    // The documented rule (README, "Serving beyond localhost"), on a shorter scale.
    const limits: GuessLimits = {
      firstDelayMs: 2,
      maxDelayMs: 10,
      maxBacklogMs: 200,
      forgetAfterMs: 60_000,
      maxAddresses: 100,
    };
    // Loopback is private: a credential sent on it is checked, so plain TCP is enough here.
    const server = await serve({ guessLimits: limits, tls: undefined });
    const guess = async (): Promise<string | undefined> => {
      const client = await RawClient.connect(server.port);
      try {
        client.send({
          type: 'hello',
          version: PROTOCOL_VERSION,
          auth: { name: KIOSK.name, secret: 'a guess, not the secret' },
        });
        return codeOf(await client.next(10_000));
      } finally {
        client.destroy();
      }
    };

    let attacking = true;
    const goodRounds: number[] = [];
    const good = (async () => {
      // Another address of this machine's loopback: 127.0.0.2 is not the guesser.
      while (attacking) {
        const started = performance.now();
        const client = await RawClient.connect(server.port, '127.0.0.1', '127.0.0.2');
        try {
          client.send(
            { type: 'hello', version: PROTOCOL_VERSION, auth: LAB },
            ...READINGS.map((reading, id) => ({ type: 'read' as const, id, reading })),
          );
          const replies = await client.take(1 + READINGS.length);
          expect(replies.map(codeOf)).to.deep.equal(['welcome', ...READINGS.map(() => 'reading')]);
        } finally {
          client.destroy();
        }
        goodRounds.push(performance.now() - started);
        await sleep(20);
      }
    })();

    const started = performance.now();
    const answers: (string | undefined)[] = [];
    const workers = Array.from({ length: 50 }, async () => {
      while (answers.length < 1_000) {
        answers.push(undefined);
        answers[answers.length - 1] = await guess();
      }
    });
    await Promise.all(workers);
    const elapsedMs = performance.now() - started;
    attacking = false;
    await good;

    expect(answers.filter((code) => code === 'ERR_AUTH_FAILED')).to.have.length(answers.length);
    const { failures } = server.stats().auth;
    const checked = failures['wrong-secret'] ?? 0;
    const throttled = failures['throttled'] ?? 0;
    expect(checked + throttled).to.equal(answers.length);
    // The checked guesses of one address go out one after another, each at least its
    // penalty after the last: 2, 4, 8, then 10 ms each. So however many connections guess
    // at once, no more were checked than the time allows (plus what the backlog holds).
    expect(checked).to.be.at.most(
      3 + Math.ceil((elapsedMs + limits.maxBacklogMs) / limits.maxDelayMs),
    );
    expect(throttled, 'guesses refused unchecked').to.be.above(0);
    // Meanwhile the good client, from another address, was served without waiting.
    expect(goodRounds.length).to.be.above(3);
    expect(Math.max(...goodRounds)).to.be.below(1_000);
  });

  it('takes a credential in clear over loopback, which crosses no network (a TLS proxy in front, say)', async () => {
    const server = await serve({ tls: undefined });
    const client = await RawClient.connect(server.port);
    raws.push(client);
    client.send({ type: 'hello', version: PROTOCOL_VERSION, auth: KIOSK });
    expect(codeOf(await client.next())).to.equal('welcome');
  });

  describe('on an address off loopback', () => {
    // An address of this machine that is not loopback: a connection to it is not on lo.
    const address = Object.values(networkInterfaces())
      .flat()
      .find((found) => found !== undefined && !found.internal && found.family === 'IPv4')?.address;

    beforeEach(function () {
      if (address === undefined) this.skip();
    });

    for (const required of [true, false]) {
      it(`refuses any credential sent in clear, ${required ? 'with' : 'without'} an auth file: cleartext`, async () => {
        const server = await serve({
          host: address as string,
          tls: undefined,
          ...(required ? {} : { authFile: undefined }),
        });
        const client = await RawClient.connect(server.port, address);
        raws.push(client);
        client.send({ type: 'hello', version: PROTOCOL_VERSION, auth: KIOSK });
        expect(codeOf(await client.next())).to.equal('ERR_AUTH_FAILED');
        expect(server.stats().auth.failures).to.deep.equal({ cleartext: 1 });
      });
    }

    it('checks the same credential over TLS', async () => {
      const server = await serve({ host: address as string });
      const client = await RawClient.connectTls(server.port, {
        host: address,
        ca: pki.fileText(pki.ca.cert),
        // The certificate names 127.0.0.1 and localhost; the server side is what is tested.
        checkServerIdentity: () => undefined,
      });
      raws.push(client);
      client.send({ type: 'hello', version: PROTOCOL_VERSION, auth: KIOSK });
      expect(codeOf(await client.next())).to.equal('welcome');
    });
  });

  describe('reloading the auth file', () => {
    it('refuses a removed client on its next connect, and ends its open connections with ERR_AUTH_FAILED', async () => {
      const server = await serve();
      const { client: lab, reply: labWelcome } = await hello(server, LAB);
      const { client: kiosk, reply: kioskWelcome } = await hello(server, KIOSK);
      expect([codeOf(labWelcome), codeOf(kioskWelcome)]).to.deep.equal(['welcome', 'welcome']);
      expect([...server.connections()].map((connection) => connection.client).sort()).to.deep.equal(
        ['kiosk', 'lab'],
      );

      pki.file('auth', `${KIOSK.name}:${KIOSK.secret}\n`);
      expect(server.reload()).to.deep.include({ clients: 1, revoked: 1 });

      // Its open connection: what it had asked is answered, then ERR_AUTH_FAILED, id nil, the close.
      const ended = await lab.rest();
      expect(
        ended.map((message) => [codeOf(message), message.type === 'error' ? message.id : 0]),
      ).to.deep.equal([['ERR_AUTH_FAILED', null]]);
      // Its next connect is refused; the other client is untouched.
      expect(codeOf((await hello(server, LAB)).reply)).to.equal('ERR_AUTH_FAILED');
      kiosk.send({ type: 'read', id: 1, reading: 'pressure' });
      expect(codeOf(await kiosk.next())).to.equal('reading');
    });

    it("leaves the removed client's polling program refused: it tries once more, and exits 1", async () => {
      const server = await serve();
      const client = runClient(
        {
          host: '127.0.0.1',
          port: server.port,
          pollIntervalMs: 20,
          connections: 1,
          count: 0,
          json: true,
          reconnectInitialMs: 20,
          tls: loadClientTls({ caFile: pki.ca.cert }),
          credential: LAB,
        },
        { out: () => {}, err: () => {} },
      );
      await until(() => (server.stats().auth.requests['lab'] ?? 0) > 0, 'the client polls');
      pki.file('auth', `${KIOSK.name}:${KIOSK.secret}\n`);
      server.reload();
      expect(await client.finished).to.equal(1);
      const snapshot = client.actors[0]?.getSnapshot();
      expect(snapshot?.matches('failed')).to.equal(true);
      expect(snapshot?.context.problem?.code).to.equal('ERR_AUTH_FAILED');
    });

    it('ends the open connections of a client whose secret changed', async () => {
      const server = await serve();
      const { client: kiosk } = await hello(server, KIOSK);
      pki.file('auth', `${KIOSK.name}:a-new-secret-for-the-kiosk\n${LAB.name}:${LAB.secret}\n`);
      expect(server.reload()).to.deep.include({ clients: 2, revoked: 1 });
      expect((await kiosk.rest()).map(codeOf)).to.deep.equal(['ERR_AUTH_FAILED']);
    });

    it('keeps the clients it had when the new file is broken, and says why: ERR_BAD_AUTH_FILE', async () => {
      const server = await serve();
      pki.file('auth', 'kiosk has no colon\n');
      expect(() => server.reload())
        .to.throw()
        .with.property('code', 'ERR_BAD_AUTH_FILE');
      expect(codeOf((await hello(server, LAB)).reply)).to.equal('welcome');
    });
  });

  it('names the client in its polls: a client with --name polls through the auth file', async () => {
    const server = await serve();
    const out: string[] = [];
    const client = runClient(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 10,
        connections: 2,
        count: 2,
        json: true,
        tls: loadClientTls({ caFile: pki.ca.cert }),
        credential: LAB,
      },
      { out: (line) => out.push(line), err: () => {} },
    );
    expect(await client.finished).to.equal(0);
    expect(out).to.have.length(4);
    await until(
      () => (server.stats().auth.requests['lab'] ?? 0) === 4 * READINGS.length,
      'counted',
    );
  });
});
