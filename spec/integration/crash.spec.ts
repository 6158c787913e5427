/**
 * A crash is a crash (issue #11 item 6): a fault that escapes every handler
 * in the server is logged with its stack, the server drains for at most the
 * drain timeout, and exits 1, for a supervisor to restart; the client says
 * so in one line and exits 1. The fault is the test-only METEO_TEST_FAULT,
 * fired by SIGUSR2 (actors/cli/program.ts, armTestFault).
 */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { Peers } from '../helpers/peers.js';
import {
  CLIENT_PROGRAM,
  type ServerProcess,
  startServerProcess,
  startServerProcessWithEnv,
} from '../helpers/serverProcess.js';

const DRAIN_TIMEOUT_MS = 1_000;

describe('integration: a crash is a crash', function () {
  this.timeout(20_000);
  const servers: ServerProcess[] = [];
  const peers = new Peers();

  afterEach(async () => {
    peers.closeAll();
    await Promise.all(servers.splice(0).map((server) => server.kill()));
  });

  for (const fault of ['uncaught-exception', 'unhandled-rejection'] as const) {
    const what = fault.replace('-', ' ');
    it(`the server logs an ${what} with its stack, tells its clients it is shutting down, and exits 1 within the drain timeout`, async () => {
      const server = await startServerProcessWithEnv(
        { METEO_TEST_FAULT: fault },
        '--threads',
        '1',
        '--drain-timeout',
        String(DRAIN_TIMEOUT_MS),
      );
      servers.push(server);
      const { client } = await peers.greeted(server.port);
      const crashedAt = Date.now();
      server.child.kill('SIGUSR2');
      await server.closed;
      expect(server.child.exitCode, server.output()).to.equal(1);
      expect(Date.now() - crashedAt).to.be.below(DRAIN_TIMEOUT_MS + 3_000);
      const logged = server.logs().find((line) => line['msg'] === what);
      expect(logged, server.output()).to.include({ level: 50, code: 'ERR_INTERNAL' });
      expect(String(logged?.['stack'])).to.match(/METEO_TEST_FAULT[\s\S]*\n\s+at /);
      const last = await client.rest();
      expect(
        last.map((message) => (message.type === 'error' ? message.code : message.type)),
      ).to.include('ERR_SHUTTING_DOWN');
    });
  }

  it('a server without METEO_TEST_FAULT takes no fault from SIGUSR2', async () => {
    const server = await startServerProcess('--threads', '1');
    servers.push(server);
    expect(process.env['METEO_TEST_FAULT']).to.equal(undefined);
    // SIGUSR2 unheard ends a Node process by the signal: no exit status, no log line.
    server.child.kill('SIGUSR2');
    await server.closed;
    expect(server.child.signalCode).to.equal('SIGUSR2');
    expect(server.logs().filter((line) => line['level'] === 50)).to.deep.equal([]);
  });

  it('the client says so in one line and exits 1', async () => {
    const server = await startServerProcess('--threads', '1');
    servers.push(server);
    const client = spawn(
      process.execPath,
      [CLIENT_PROGRAM, '--port', String(server.port), '--interval', '100'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, METEO_TEST_FAULT: 'uncaught-exception' },
      },
    );
    let stderr = '';
    client.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => client.once('exit', resolve));
    // Once it polls, its fault is armed.
    await new Promise((resolve) => client.stdout.once('data', resolve));
    client.kill('SIGUSR2');
    expect(await exited, stderr).to.equal(1);
    const faultLines = stderr.split('\n').filter((line) => line.startsWith('meteo-client:'));
    expect(faultLines).to.have.length(1);
    expect(faultLines[0]).to.match(/^meteo-client: uncaught exception: METEO_TEST_FAULT/);
  });
});
