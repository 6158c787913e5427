/**
 * TLS and credentials as a user meets them (issue #14): the two programs as
 * child processes, their flags, their exit statuses, the warnings at start,
 * and SIGHUP reloading the certificate under load and the auth file.
 */
import { networkInterfaces } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { PROTOCOL_VERSION } from '../../lib/protocol.js';
import { makePki, type TestPki } from '../helpers/certificates.js';
import { type ProgramRun, runScript } from '../helpers/program.js';
import { RawClient } from '../helpers/rawClient.js';
import {
  CLIENT_PROGRAM,
  SERVER_PROGRAM,
  type ServerProcess,
  startServerProcess,
} from '../helpers/serverProcess.js';
import { sleep, until } from '../helpers/wait.js';

function node(
  script: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<ProgramRun> {
  return runScript(script, args, 20_000, env);
}

/** The code the one line of a program's failure starts with ("meteo-server: ERR_X: ..."). */
function codeIn(stderr: string): string | undefined {
  return /\b(ERR_[A-Z_]+):/.exec(stderr)?.[1];
}

const KIOSK_SECRET = 'kiosk-secret-0123456789';
const LAB_SECRET = 'lab-secret-abcdefghijk';

describe('integration: TLS and credentials, from the command line', function () {
  this.timeout(60_000);
  let pki: TestPki;
  const servers: ServerProcess[] = [];
  const raws: RawClient[] = [];

  before(() => {
    pki = makePki();
  });
  after(() => pki.remove());

  afterEach(async () => {
    for (const raw of raws.splice(0)) raw.destroy();
    await Promise.all(servers.splice(0).map((server) => server.kill()));
  });

  async function serverProcess(...args: string[]): Promise<ServerProcess> {
    const server = await startServerProcess('--threads', '1', ...args);
    servers.push(server);
    return server;
  }

  describe('meteo-server', () => {
    for (const [what, args, code] of [
      [
        'a certificate file that cannot be read',
        () => ['--tls-cert', `${pki.dir}/none.pem`, '--tls-key', pki.server.key],
        'ERR_BAD_TLS_FILE',
      ],
      [
        'a key that does not match the certificate',
        () => ['--tls-cert', pki.server.cert, '--tls-key', pki.client.key],
        'ERR_BAD_TLS_FILE',
      ],
      ['--tls-key without --tls-cert', () => ['--tls-key', pki.server.key], 'ERR_BAD_FLAG'],
      ['--tls-ca without a certificate', () => ['--tls-ca', pki.ca.cert], 'ERR_BAD_FLAG'],
      [
        'an auth file with a short secret',
        () => ['--auth-file', pki.file('short.auth', 'kiosk:short\n')],
        'ERR_BAD_AUTH_FILE',
      ],
    ] as const) {
      it(`exits 2 on ${what}, with one line: ${code}`, async () => {
        const result = await node(SERVER_PROGRAM, ['--port', '0', ...args()]);
        expect(result.code).to.equal(2);
        expect(codeIn(result.stderr)).to.equal(code);
        expect(result.stderr.trim().split('\n')).to.have.length(1);
      });
    }

    describe('on an address off loopback', () => {
      const address = Object.values(networkInterfaces())
        .flat()
        .find(
          (found) => found !== undefined && !found.internal && found.family === 'IPv4',
        )?.address;

      beforeEach(function () {
        if (address === undefined) this.skip();
      });

      const warnings = (server: ServerProcess) =>
        server
          .logs()
          .filter((line) => line['level'] === 40)
          .map((line) => String(line['msg']));

      it('warns at start when it serves in clear, and when it lets anyone in', async () => {
        const server = await serverProcess('--host', address as string);
        expect(warnings(server)).to.have.length(2);
      });

      it('says nothing of the kind with TLS and an auth file', async () => {
        const server = await serverProcess(
          '--host',
          address as string,
          '--tls-cert',
          pki.server.cert,
          '--tls-key',
          pki.server.key,
          '--auth-file',
          pki.file('quiet.auth', `kiosk:${KIOSK_SECRET}\n`),
        );
        // The test certificate expires within days: that warning is expected, and the only one.
        expect(warnings(server).filter((message) => !message.includes('expires'))).to.deep.equal(
          [],
        );
      });
    });

    it('reloads its certificate on SIGHUP under load, dropping no connection', async () => {
      const certFile = pki.file('sighup.pem', pki.fileText(pki.server.cert));
      const keyFile = pki.file('sighup.key', pki.fileText(pki.server.key));
      const server = await serverProcess('--tls-cert', certFile, '--tls-key', keyFile);
      const ca = pki.fileText(pki.ca.cert);
      const serial = (raw: RawClient) =>
        (raw.socket as TLSSocket).getPeerCertificate().serialNumber;

      // Twenty connections, each asking, one request after the other, until told to stop.
      const connections = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const raw = await RawClient.connectTls(server.port, { ca });
          raws.push(raw);
          raw.send({ type: 'hello', version: PROTOCOL_VERSION });
          expect((await raw.next()).type).to.equal('welcome');
          return raw;
        }),
      );
      const before = serial(connections[0] as RawClient);
      let loading = true;
      let answered = 0;
      const load = connections.map(async (raw) => {
        for (let id = 0; loading; id++) {
          raw.send({ type: 'read', id, reading: 'pressure' });
          const reply = await raw.next();
          expect(reply).to.deep.include({ type: 'reading', id });
          answered++;
        }
      });

      await sleep(300);
      pki.file('sighup.pem', pki.fileText(pki.renewed.cert));
      pki.file('sighup.key', pki.fileText(pki.renewed.key));
      server.child.kill('SIGHUP');
      await until(
        () => server.logs().some((line) => line['msg'] === 'reloaded'),
        'the reload is logged',
      );
      const atReload = answered;
      await sleep(300);
      loading = false;
      await Promise.all(load);

      expect(answered, 'requests answered after the reload').to.be.above(atReload);
      expect(server.logs().filter((line) => line['msg'] === 'connection closed')).to.deep.equal([]);
      const fresh = await RawClient.connectTls(server.port, { ca });
      raws.push(fresh);
      expect(serial(fresh)).not.to.equal(before);
      expect(server.child.exitCode).to.equal(null);
    });

    it('refuses a client removed from the auth file once SIGHUP has reloaded it', async () => {
      const serverAuth = pki.file('server.auth', `kiosk:${KIOSK_SECRET}\nlab:${LAB_SECRET}\n`);
      const server = await serverProcess(
        '--tls-cert',
        pki.server.cert,
        '--tls-key',
        pki.server.key,
        '--auth-file',
        serverAuth,
      );
      const labAuth = pki.file('lab.auth', `lab:${LAB_SECRET}\n`);
      const get = () =>
        node(CLIENT_PROGRAM, [
          '--port',
          String(server.port),
          '--tls',
          '--ca',
          pki.ca.cert,
          '--auth-file',
          labAuth,
          '--name',
          'lab',
          'get',
          'pressure',
          '--raw',
        ]);
      expect((await get()).code).to.equal(0);

      pki.file('server.auth', `kiosk:${KIOSK_SECRET}\n`);
      server.child.kill('SIGHUP');
      await until(
        () => server.logs().some((line) => line['msg'] === 'reloaded'),
        'the reload is logged',
      );
      const refused = await get();
      expect(refused.code).to.equal(1);
      expect(codeIn(refused.stderr)).to.equal('ERR_AUTH_FAILED');
      const warned = server.logs().find((line) => line['msg'] === 'authentication failed');
      expect(warned).to.deep.include({
        code: 'ERR_AUTH_FAILED',
        client: 'lab',
        reason: 'unknown-client',
      });
      expect(JSON.stringify(server.logs())).not.to.include(LAB_SECRET);
    });

    it('keeps serving, and says why, when SIGHUP finds a broken auth file', async () => {
      const serverAuth = pki.file('broken.auth', `kiosk:${KIOSK_SECRET}\n`);
      const server = await serverProcess('--auth-file', serverAuth);
      pki.file('broken.auth', 'kiosk\n');
      server.child.kill('SIGHUP');
      await until(
        () => server.logs().some((line) => line['msg'] === 'reload failed; serving on as before'),
        'the failed reload is logged',
      );
      const result = await node(
        CLIENT_PROGRAM,
        ['--port', String(server.port), 'get', 'pressure'],
        {
          METEO_SECRET: KIOSK_SECRET,
          METEO_CLIENT_NAME: 'kiosk',
        },
      );
      expect(result.code).to.equal(0);
    });
  });

  describe('meteo-client', () => {
    for (const [what, args, env] of [
      ['--ca without --tls', ['--ca', 'ca.pem'], {}],
      ['--insecure-skip-verify without --tls', ['--insecure-skip-verify'], {}],
      ['--cert without --key', ['--tls', '--cert', 'c.pem'], {}],
      ['--name without a secret', ['--name', 'kiosk'], {}],
      ['a secret without --name', [], { METEO_SECRET: KIOSK_SECRET }],
      [
        'a secret that would cross the network in clear',
        ['--host', '192.0.2.9', '--name', 'kiosk'],
        { METEO_SECRET: KIOSK_SECRET },
      ],
    ] as const) {
      it(`exits 2 on ${what}: ERR_BAD_FLAG`, async () => {
        const result = await node(CLIENT_PROGRAM, [...args, '--count', '1'], env);
        expect(result.code).to.equal(2);
        expect(codeIn(result.stderr)).to.equal('ERR_BAD_FLAG');
      });
    }

    it('exits 2 when its auth file has no line for --name: ERR_BAD_AUTH_FILE', async () => {
      const file = pki.file('other.auth', `kiosk:${KIOSK_SECRET}\n`);
      const result = await node(CLIENT_PROGRAM, [
        '--auth-file',
        file,
        '--name',
        'lab',
        '--count',
        '1',
      ]);
      expect(result.code).to.equal(2);
      expect(codeIn(result.stderr)).to.equal('ERR_BAD_AUTH_FILE');
    });

    /** The client polling once, over TLS, a server whose certificate is from a CA nobody is told of. */
    async function pollUntrusted(...args: string[]): Promise<ProgramRun> {
      const server = await serverProcess(
        '--tls-cert',
        pki.untrusted.cert,
        '--tls-key',
        pki.untrusted.key,
      );
      return node(CLIENT_PROGRAM, [
        '--port',
        String(server.port),
        '--tls',
        '--count',
        '1',
        ...args,
      ]);
    }

    it('polls over TLS with --insecure-skip-verify, and warns that it checks nothing', async () => {
      const result = await pollUntrusted('--insecure-skip-verify', '--json');
      expect(result.code).to.equal(0);
      expect(result.stdout.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.match(/WARNING: --insecure-skip-verify/);
    });

    it('exits 1 naming the reason when it cannot check the certificate: ERR_TLS_UNKNOWN_CA', async () => {
      const result = await pollUntrusted('--ca', pki.ca.cert);
      expect(result.code).to.equal(1);
      expect(codeIn(result.stderr)).to.equal('ERR_TLS_UNKNOWN_CA');
    });
  });
});
