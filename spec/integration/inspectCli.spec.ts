/**
 * `--inspect` in the programs as a user runs them (issue #16 items 2 and 3):
 * a program that has finished exits though a page is still open on its
 * relay, and a port where another program listens is refused in one line.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import type { Readable } from 'node:stream';
import { expect } from 'chai';
import WebSocket from 'ws';
import {
  CLIENT_PROGRAM,
  freedPort,
  type ServerProcess,
  startServerProcess,
} from '../helpers/serverProcess.js';
import { exitWithin, sleep } from '../helpers/wait.js';

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** A page on the relay at `port`, once the relay listens. */
async function viewerOn(port: number): Promise<WebSocket> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
    const opened = await new Promise<boolean>((resolve) => {
      socket.once('open', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    if (opened) {
      socket.on('error', () => {});
      return socket;
    }
    if (Date.now() > deadline) throw new Error(`no relay on ${port}`);
    await sleep(50);
  }
}

describe('integration: --inspect in the programs', function () {
  this.timeout(30_000);
  const servers: ServerProcess[] = [];
  const children: Child[] = [];
  const viewers: WebSocket[] = [];
  const listeners: Server[] = [];

  function client(...args: string[]): Child {
    const child = spawn(process.execPath, [CLIENT_PROGRAM, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.resume();
    children.push(child);
    return child;
  }

  function stderrOf(child: Child): () => string {
    let text = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    return () => text;
  }

  afterEach(async () => {
    for (const viewer of viewers.splice(0)) viewer.terminate();
    for (const child of children.splice(0)) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    await Promise.all(servers.splice(0).map((server) => server.kill()));
    for (const listener of listeners.splice(0))
      await new Promise((resolve) => listener.close(resolve));
  });

  it('a client that has finished its --count exits 0 although a page is open on its relay', async () => {
    const server = await startServerProcess('--threads', '1');
    servers.push(server);
    const relayPort = await freedPort();
    const polling = client(
      '--port',
      String(server.port),
      '--count',
      '5',
      '--interval',
      '100',
      '--inspect',
      '--inspect-port',
      String(relayPort),
    );
    const stderr = stderrOf(polling);
    viewers.push(await viewerOn(relayPort));
    expect(await exitWithin(polling, 10_000), stderr()).to.equal(0);
  });

  it('a server with a page and a client on its relay exits 0 on SIGTERM', async () => {
    const relayPort = await freedPort();
    const server = await startServerProcess(
      '--threads',
      '1',
      '--inspect',
      '--inspect-port',
      String(relayPort),
    );
    servers.push(server);
    viewers.push(await viewerOn(relayPort));
    // A client joins the server's relay, and goes on polling.
    const polling = client(
      '--port',
      String(server.port),
      '--interval',
      '100',
      '--inspect',
      '--inspect-port',
      String(relayPort),
    );
    await new Promise((resolve) => polling.stdout.once('data', resolve));
    server.child.kill('SIGTERM');
    await Promise.race([server.closed, sleep(10_000)]);
    expect(server.child.exitCode, server.output()).to.equal(0);
    polling.kill('SIGINT');
    expect(await exitWithin(polling, 10_000)).to.equal(0);
  });

  for (const program of ['client', 'server'] as const) {
    it(`the ${program} refuses an --inspect-port where another program listens, with one line and status 1`, async () => {
      const foreign = createServer((socket) => {
        socket.resume();
        socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      });
      listeners.push(foreign);
      await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
      const { port } = foreign.address() as { port: number };
      const args = ['--inspect', '--inspect-port', String(port)];
      const child =
        program === 'client'
          ? client('--port', String(await freedPort()), '--count', '1', ...args)
          : spawn(
              process.execPath,
              [
                'dist/actors/cli/server.js',
                '--port',
                '0',
                '--http-port',
                '0',
                '--threads',
                '1',
                ...args,
              ],
              { stdio: ['ignore', 'pipe', 'pipe'] },
            );
      if (program === 'server') {
        child.stdout.resume();
        children.push(child);
      }
      const stderr = stderrOf(child);
      expect(await exitWithin(child, 10_000), stderr()).to.equal(1);
      expect(stderr().trim().split('\n')).to.have.length(1);
      expect(stderr()).to.match(new RegExp(`^meteo-${program}: ERR_ADDRESS_IN_USE: `));
    });
  }

  it('does not treat a listener that answers nothing as a relay', async () => {
    // Accepts, reads, never answers: the identity probe gives up, and the port is refused.
    const silent = createServer((socket) => socket.resume());
    listeners.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const polling = client(
      '--port',
      String(await freedPort()),
      '--count',
      '1',
      '--inspect',
      '--inspect-port',
      String(port),
    );
    const stderr = stderrOf(polling);
    expect(await exitWithin(polling, 10_000), stderr()).to.equal(1);
    expect(stderr()).to.match(/^meteo-client: ERR_ADDRESS_IN_USE: /);
    // The silent listener holds no socket of the client's after it has gone.
    const probe = connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => probe.once('connect', resolve));
    probe.destroy();
  });
});
