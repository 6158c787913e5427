/**
 * `--cluster 2` (issue #15): a primary and two server processes sharing the
 * port, as real processes on 127.0.0.1. Both serve; the primary's /metrics
 * adds their requests up; a process killed under load is started again while
 * the clients carry on; SIGTERM drains both and exits 0; a crash loop, or a
 * process that cannot start, stops the whole server with status 1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import { type ServerProcess, startServerProcess } from '../helpers/serverProcess.js';
import { exitWithin, sleep, until } from '../helpers/wait.js';

const CLIENT = 'dist/actors/cli/client.js';

/** The pids of a process's children (the primary's server processes). */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter((text) => text !== '')
    .map(Number);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe: Server = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

interface PollLine {
  readonly connection: number;
  readonly minTemperature: number | null;
  readonly maxTemperature: number | null;
  readonly pressure: number | null;
  readonly rainfall: number | null;
}

/** The client program, polling, its JSON lines kept with the time each arrived. */
function poller(port: number, ...args: string[]) {
  const child = spawn(process.execPath, [CLIENT, '--port', String(port), '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const polls: { readonly at: number; readonly poll: PollLine }[] = [];
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('{')) polls.push({ at: Date.now(), poll: JSON.parse(line) as PollLine });
    }
  });
  child.stderr.resume();
  return { child, polls };
}

const complete = (poll: PollLine): boolean =>
  poll.minTemperature !== null &&
  poll.maxTemperature !== null &&
  poll.pressure !== null &&
  poll.rainfall !== null;

describe('integration: --cluster 2', function () {
  this.timeout(60_000);
  let server: ServerProcess | undefined;
  const others: ChildProcess[] = [];
  const blockers: Server[] = [];

  afterEach(async () => {
    for (const child of others.splice(0)) child.kill('SIGKILL');
    for (const blocker of blockers.splice(0)) blocker.close();
    await server?.kill();
    server = undefined;
  });

  async function startCluster(...args: string[]): Promise<{ server: ServerProcess; http: number }> {
    const http = await freePort();
    server = await startServerProcess(
      '--cluster',
      '2',
      '--threads',
      '1',
      '--http-port',
      String(http),
      ...args,
    );
    const started = server;
    await until(
      () => started.logs().some((line) => String(line['msg']).endsWith('2 server processes')),
      'both server processes to listen',
    );
    return { server: started, http };
  }

  it('serves from both processes, and /metrics on the primary adds up their requests, as the clients count them', async () => {
    const { server: running, http } = await startCluster();
    const { child, polls } = poller(
      running.port,
      '--connections',
      '8',
      '--count',
      '3',
      '--interval',
      '50',
    );
    others.push(child);
    expect(await exitWithin(child, 20_000)).to.equal(0);
    expect(polls).to.have.length(24);
    expect(polls.every(({ poll }) => complete(poll))).to.equal(true);

    const opened = running.logs().filter((line) => line['msg'] === 'connection opened');
    expect(new Set(opened.map((line) => line['process']))).to.deep.equal(new Set([0, 1]));

    const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    const served = text
      .split('\n')
      .filter((line) => line.startsWith('meteo_requests_total{') && line.includes('outcome="ok"'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(served, 'the readings the clients printed').to.equal(8 * 3 * 4);
    expect(text).to.match(/^meteo_cluster_processes 2$/m);
    expect((await fetch(`http://127.0.0.1:${http}/readyz`)).status).to.equal(200);
  });

  it('starts another process when one is killed under load, and the clients carry on with every poll complete', async () => {
    const { server: running } = await startCluster();
    const { child, polls } = poller(running.port, '--connections', '6', '--interval', '100');
    others.push(child);
    await until(() => polls.length >= 12, 'the clients to poll');
    const [victim] = childrenOf(running.child.pid as number);
    process.kill(victim as number, 'SIGKILL');
    const killedAt = Date.now();
    await until(
      () =>
        running.logs().some((line) => line['msg'] === 'a server process died; starting another'),
      'the primary to notice',
    );
    await until(
      () =>
        running
          .logs()
          .filter((line) => String(line['msg']).startsWith('listening on 127.0.0.1'))
          .filter((line) => line['process'] !== undefined).length === 3,
      'a new server process to listen',
    );
    const pollsAfterKill = (connection: number): number =>
      polls.filter(({ at, poll }) => poll.connection === connection && at > killedAt + 300).length;
    await until(
      () => [1, 2, 3, 4, 5, 6].every((connection) => pollsAfterKill(connection) >= 3),
      'every connection to poll on after the kill',
      20_000,
    );
    child.kill('SIGINT');
    await exitWithin(child, 5_000);
    expect(
      polls.filter(({ poll }) => !complete(poll)),
      'incomplete polls',
    ).to.deep.equal([]);
  });

  it('drains both processes on SIGTERM and exits 0', async () => {
    const { server: running } = await startCluster('--ready-grace', '200');
    running.child.kill('SIGTERM');
    expect(await exitWithin(running.child, 15_000)).to.equal(0);
    await running.closed;
    const stopped = running.logs().filter((line) => line['msg'] === 'stopped');
    expect(new Set(stopped.map((line) => line['process'] ?? 'primary'))).to.deep.equal(
      new Set([0, 1, 'primary']),
    );
  });

  it('stops with status 1 and ERR_CRASH_LOOP when its processes die in a loop', async () => {
    const { server: running } = await startCluster();
    const pid = running.child.pid as number;
    const killed = new Set<number>();
    const exit = exitWithin(running.child, 45_000);
    let done = false;
    void exit.then(() => {
      done = true;
    });
    // Kill each server process as soon as it is there: five deaths within the window.
    while (!done && killed.size < 12) {
      for (const worker of running.child.exitCode === null ? childrenOf(pid) : []) {
        if (killed.has(worker)) continue;
        killed.add(worker);
        try {
          process.kill(worker, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      await sleep(50);
    }
    expect(await exit).to.equal(1);
    expect(running.logs().some((line) => line['code'] === 'ERR_CRASH_LOOP')).to.equal(true);
  });

  it('stops at once with status 1 when its processes cannot listen (the port is taken)', async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    const child = spawn(
      process.execPath,
      [
        'dist/actors/cli/server.js',
        '--cluster',
        '2',
        '--threads',
        '1',
        '--http-port',
        '0',
        '--port',
        String(port),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    others.push(child);
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += String(chunk);
    });
    expect(await exitWithin(child, 15_000)).to.equal(1);
    expect(output).to.include('ERR_ADDRESS_IN_USE');
  });
});
