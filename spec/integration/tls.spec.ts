/**
 * Real TLS on real sockets, on 127.0.0.1 (issue #14): a server with a
 * certificate made for this spec by openssl, and clients that check it.
 * Each case of the list that is about TLS is here; the credentials
 * are in auth.spec.ts, the programs and SIGHUP in tlsCli.spec.ts.
 */
import type { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { type RunningClient, runClient, type ServerTarget } from '../../actors/client.js';
import { type RunningServer, type ServerSettings, startServer } from '../../actors/server.js';
import { type ClientTlsFiles, loadClientTls } from '../../actors/tls.js';
import { PROTOCOL_VERSION } from '../../lib/protocol.js';
import { makePki, type Pair, type TestPki } from '../helpers/certificates.js';
import { RawClient } from '../helpers/rawClient.js';
import { until } from '../helpers/wait.js';

describe('integration: TLS', function () {
  this.timeout(30_000);
  let pki: TestPki;
  const servers: RunningServer[] = [];
  const clients: RunningClient[] = [];
  const raws: RawClient[] = [];

  before(() => {
    pki = makePki();
  });
  after(() => pki.remove());

  afterEach(async () => {
    for (const client of clients.splice(0)) {
      client.stop();
      await client.finished;
    }
    for (const raw of raws.splice(0)) raw.destroy();
    for (const server of servers.splice(0)) await server.stop();
  });

  async function serve(pair?: Pair, more: Partial<ServerSettings> = {}): Promise<RunningServer> {
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      ...(pair ? { tls: { certFile: pair.cert, keyFile: pair.key } } : {}),
      ...more,
    });
    servers.push(server);
    return server;
  }

  /** Polls `count` times (every 20 ms) with these TLS options; the status, the lines and the code it failed with. */
  async function poll(
    port: number,
    files: ClientTlsFiles,
    count = 2,
    target: Partial<ServerTarget> = {},
  ): Promise<{ status: number; out: string[]; err: string[]; failure: string | null }> {
    const out: string[] = [];
    const err: string[] = [];
    const client = runClient(
      {
        host: '127.0.0.1',
        port,
        pollIntervalMs: 20,
        connections: 1,
        count,
        json: true,
        tls: loadClientTls(files),
        ...target,
      },
      { out: (line) => out.push(line), err: (line) => err.push(line) },
    );
    clients.push(client);
    const status = await client.finished;
    const [actor] = client.actors;
    const snapshot = actor?.getSnapshot();
    const failure = snapshot?.matches('failed') ? (snapshot.context.problem?.code ?? null) : null;
    return { status, out, err, failure };
  }

  it('serves a client that checks its certificate: it polls over TLS', async () => {
    const server = await serve(pki.server);
    expect(server.secure).to.equal(true);
    const { status, out, failure } = await poll(server.port, { caFile: pki.ca.cert });
    expect({ status, failure }).to.deep.equal({ status: 0, failure: null });
    expect(out.map((line) => JSON.parse(line).pressure)).to.have.length(2);
    expect(out.every((line) => typeof JSON.parse(line).pressure === 'number')).to.equal(true);
  });

  it('closes plain TCP to the TLS port without a frame, and serves on', async () => {
    const server = await serve(pki.server);
    const plain = await RawClient.connect(server.port);
    raws.push(plain);
    plain.send({ type: 'hello', version: PROTOCOL_VERSION });
    expect(await plain.rest()).to.deep.equal([]);
    const tls = await RawClient.connectTls(server.port, { ca: pki.fileText(pki.ca.cert) });
    raws.push(tls);
    tls.send({ type: 'hello', version: PROTOCOL_VERSION });
    expect((await tls.next()).type).to.equal('welcome');
  });

  it('gives a TLS client of a plain server a clear error: ERR_TLS_HANDSHAKE_FAILED', async () => {
    const server = await serve();
    const { status, failure } = await poll(server.port, { caFile: pki.ca.cert });
    expect({ status, failure }).to.deep.equal({ status: 1, failure: 'ERR_TLS_HANDSHAKE_FAILED' });
  });

  for (const [what, pair, code] of [
    ['an expired certificate', 'expired', 'ERR_TLS_CERT_EXPIRED'],
    ['a certificate for another host', 'wrongHost', 'ERR_TLS_WRONG_HOST'],
    ['a certificate from a CA it does not trust', 'untrusted', 'ERR_TLS_UNKNOWN_CA'],
  ] as const) {
    it(`refuses ${what} with ${code}, and sends nothing`, async () => {
      const server = await serve(pki[pair]);
      const { status, out, failure } = await poll(server.port, { caFile: pki.ca.cert });
      expect({ status, failure, out }).to.deep.equal({ status: 1, failure: code, out: [] });
      // The handshake failed before the hello: the server never had a connection to count.
      expect(server.stats().connections.accepted).to.equal(0);
    });
  }

  it('takes a certificate for another name when told the name it carries (--servername)', async () => {
    const server = await serve(pki.wrongHost);
    const { status } = await poll(server.port, {
      caFile: pki.ca.cert,
      servername: 'other.example',
    });
    expect(status).to.equal(0);
  });

  it('with --insecure-skip-verify, connects to any certificate and warns at every connect', async () => {
    const server = await serve(pki.untrusted);
    const err: string[] = [];
    const client = runClient(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 20,
        connections: 1,
        count: 0,
        json: true,
        reconnectInitialMs: 20,
        reconnectMaxMs: 40,
        tls: loadClientTls({ insecureSkipVerify: true }),
      },
      { out: () => {}, err: (line) => err.push(line) },
    );
    clients.push(client);
    const warnings = () => err.filter((line) => line.includes('--insecure-skip-verify')).length;
    await until(() => warnings() === 1, 'the first connect');
    await until(() => [...server.connections()].length === 1, 'the connection');
    // The connection drops; the client connects again, and says it again.
    for (const connection of server.connections()) connection.abort();
    await until(() => warnings() === 2, 'the second connect');
  });

  describe('mutual TLS', () => {
    /** A client's files with its certificate (from the CA, unless `pair` says otherwise). */
    const withCertificate = (pair: Pair = pki.client): ClientTlsFiles => ({
      caFile: pki.ca.cert,
      certFile: pair.cert,
      keyFile: pair.key,
    });
    const mutual = (): Promise<RunningServer> =>
      serve(undefined, {
        tls: { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca.cert },
      });

    it('serves a client with a certificate from its CA', async () => {
      const server = await mutual();
      const { status } = await poll(server.port, withCertificate());
      expect(status).to.equal(0);
    });

    it('refuses a client without a certificate: ERR_TLS_HANDSHAKE_FAILED, and serves on', async () => {
      const server = await mutual();
      const { status, failure } = await poll(server.port, { caFile: pki.ca.cert });
      expect({ status, failure }).to.deep.equal({ status: 1, failure: 'ERR_TLS_HANDSHAKE_FAILED' });
      expect(server.stats().connections.accepted).to.equal(0);
      const { status: again } = await poll(server.port, withCertificate());
      expect(again).to.equal(0);
    });

    it('refuses a client whose certificate is from another CA', async () => {
      const server = await mutual();
      const { status, failure } = await poll(server.port, withCertificate(pki.untrusted));
      expect({ status, failure }).to.deep.equal({ status: 1, failure: 'ERR_TLS_HANDSHAKE_FAILED' });
    });
  });

  it('half-closes over TLS as over TCP: a client that ends after its reads gets every reply (§8.1)', async () => {
    const server = await serve(pki.server);
    const tls = await RawClient.connectTls(server.port, { ca: pki.fileText(pki.ca.cert) });
    raws.push(tls);
    tls.send(
      { type: 'hello', version: PROTOCOL_VERSION },
      { type: 'read', id: 1, reading: 'pressure' },
      { type: 'read', id: 2, reading: 'rainfall' },
    );
    tls.end();
    const replies = await tls.rest();
    expect(replies.map((reply) => reply.type)).to.deep.equal(['welcome', 'reading', 'reading']);
  });

  it('swaps its certificate on reload for the handshakes to come, leaving open connections alone', async () => {
    const certFile = pki.file('live.pem', pki.fileText(pki.server.cert));
    const keyFile = pki.file('live.key', pki.fileText(pki.server.key));
    const server = await serve(undefined, { tls: { certFile, keyFile } });
    const before = await RawClient.connectTls(server.port, { ca: pki.fileText(pki.ca.cert) });
    raws.push(before);
    before.send({ type: 'hello', version: PROTOCOL_VERSION });
    await before.next();
    pki.file('live.pem', pki.fileText(pki.renewed.cert));
    pki.file('live.key', pki.fileText(pki.renewed.key));
    const reloaded = server.reload();
    expect(reloaded.certificate?.subject).to.include('127.0.0.1');
    const after = await RawClient.connectTls(server.port, { ca: pki.fileText(pki.ca.cert) });
    raws.push(after);
    const serial = (raw: RawClient) => (raw.socket as TLSSocket).getPeerCertificate().serialNumber;
    expect(serial(after)).not.to.equal(serial(before));
    before.send({ type: 'read', id: 1, reading: 'pressure' });
    expect((await before.next()).type).to.equal('reading');
  });

  it('keeps its certificate when a reload finds a broken one, and says why: ERR_BAD_TLS_FILE', async () => {
    const certFile = pki.file('kept.pem', pki.fileText(pki.server.cert));
    const server = await serve(undefined, { tls: { certFile, keyFile: pki.server.key } });
    pki.file('kept.pem', pki.fileText(pki.client.cert));
    expect(() => server.reload())
      .to.throw()
      .with.property('code', 'ERR_BAD_TLS_FILE');
    const { status } = await poll(server.port, { caFile: pki.ca.cert });
    expect(status).to.equal(0);
  });
});
