/**
 * The programs when their output goes away (issue #16 item 1): the reader of
 * a pipe exits (`| head`), or the disk the log is on is full. The client then
 * spun at 100 % CPU for ever, reporting its EPIPE on the broken stream; the
 * server stopped working as a program (no signal handling) at its first log
 * line that could not be written.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { expect } from 'chai';
import {
  CLIENT_PROGRAM as CLIENT,
  freedPort,
  SERVER_PROGRAM,
  type ServerProcess,
  startServerProcess,
} from '../helpers/serverProcess.js';
import { exitWithin, sleep } from '../helpers/wait.js';

/** Resolves once something accepts connections on the loopback port. */
async function listening(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

/** The client polling once, as a user would check the server: its exit status. */
function pollOnce(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLIENT, '--port', String(port), '--count', '1'],
      { timeout: 10_000 },
      (error) => resolve(error ? (typeof error.code === 'number' ? error.code : null) : 0),
    );
  });
}

describe('integration: output that goes away', function () {
  this.timeout(20_000);
  const servers: ServerProcess[] = [];
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await gone;
      }
      // A pipeline runs in a process group of its own: a client left spinning in it goes too.
      if (child.spawnargs[0] === 'bash' && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group has gone already.
        }
      }
    }
    await Promise.all(servers.splice(0).map((server) => server.kill()));
  });

  async function serverProcess(): Promise<ServerProcess> {
    const server = await startServerProcess('--threads', '1');
    servers.push(server);
    return server;
  }

  it('the client exits 0 within 2 s, quietly, once the reader of its stdout has closed its end', async () => {
    const server = await serverProcess();
    const client = spawn(
      process.execPath,
      [CLIENT, '--port', String(server.port), '--interval', '100', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(client);
    let stderr = '';
    client.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // Read one line, then go away, as `| head -1` does.
    await new Promise((resolve) => client.stdout.once('data', resolve));
    client.stdout.destroy();
    expect(await exitWithin(client, 2_000), `still running; stderr: ${stderr}`).to.equal(0);
    expect(stderr).to.not.match(/EPIPE|uncaught/);
  });

  it('the client exits 0 within 2 s when its stdout and stderr both go to `| head -3`', async () => {
    const server = await serverProcess();
    // pipefail: the status of the pipeline is the client's, not head's.
    const pipeline = spawn(
      'bash',
      [
        '-c',
        `set -o pipefail; "${process.execPath}" ${CLIENT} --port ${server.port} --interval 100 2>&1 | head -3`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    children.push(pipeline);
    let stdout = '';
    pipeline.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    await new Promise((resolve) => pipeline.stdout.once('data', resolve));
    expect(await exitWithin(pipeline, 2_000), `still running; output: ${stdout}`).to.equal(0);
    expect(stdout.trimEnd().split('\n')).to.have.length(3);
  });

  it('the server whose log reader has gone serves on and exits 0 on SIGTERM', async () => {
    const server = await serverProcess();
    server.child.stdout.destroy();
    expect(await pollOnce(server.port)).to.equal(0);
    expect(await pollOnce(server.port)).to.equal(0);
    server.child.kill('SIGTERM');
    expect(await exitWithin(server.child, 5_000), server.output()).to.equal(0);
  });

  it('the server whose stdout and stderr both have no reader serves on and exits 0 on SIGTERM', async () => {
    const server = await serverProcess();
    // Where it would report a log it cannot write is gone too: nothing may recurse or spin.
    server.child.stdout.destroy();
    server.child.stderr.destroy();
    expect(await pollOnce(server.port)).to.equal(0);
    expect(await pollOnce(server.port)).to.equal(0);
    server.child.kill('SIGTERM');
    expect(await exitWithin(server.child, 5_000)).to.equal(0);
  });

  it('the server whose log cannot be written (a full disk) says so once, serves on, and exits 0 on SIGTERM', async function () {
    if (!existsSync('/dev/full')) this.skip();
    const port = await freedPort();
    const full = openSync('/dev/full', 'w');
    const child = spawn(
      process.execPath,
      [SERVER_PROGRAM, '--port', String(port), '--http-port', '0', '--threads', '1'],
      { stdio: ['ignore', full, 'pipe'] },
    );
    closeSync(full);
    children.push(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    await listening(port);
    expect(await pollOnce(port)).to.equal(0);
    expect(await pollOnce(port)).to.equal(0);
    child.kill('SIGTERM');
    expect(await exitWithin(child, 5_000), stderr).to.equal(0);
    const lines = stderr.trimEnd().split('\n');
    expect(lines, stderr).to.have.length(1);
    expect(lines[0]).to.match(/^meteo-server: cannot write the log: ENOSPC\b/);
  });
});
