/**
 * The two programs as a user runs them: child processes, real signals, the
 * exact commands the README shows.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  CLIENT_PROGRAM as CLIENT,
  freedPort,
  SERVER_PROGRAM,
  type ServerProcess,
  startServerProcess,
} from '../helpers/serverProcess.js';
import { until } from '../helpers/wait.js';

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], timeoutMs = 20_000): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+:\d+\)?$/m.test(text);
}

describe('integration: the command-line programs', function () {
  this.timeout(30_000);
  const servers: ServerProcess[] = [];

  async function serverProcess(): Promise<ServerProcess> {
    const server = await startServerProcess('--threads', '1');
    servers.push(server);
    return server;
  }

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.kill()));
  });

  it('`npm run client -- --port P --count 2 --json` prints two JSON lines from a running server and exits 0', async () => {
    const server = await serverProcess();
    // The README's command, less its `preclient` build: tsc would rewrite dist/ while
    // mocha runs from it. npm still runs the named script (npm help config,
    // ignore-scripts), and --silent leaves stdout to the program.
    const result = await run('npm', [
      'run',
      '--silent',
      '--ignore-scripts',
      'client',
      '--',
      '--port',
      String(server.port),
      '--count',
      '2',
      '--json',
      '--interval',
      '100',
    ]);
    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines, result.stdout).to.have.length(2);
    for (const line of lines) {
      const poll = JSON.parse(line);
      expect(Object.keys(poll)).to.deep.equal([
        'connection',
        'station',
        'time',
        'minTemperature',
        'maxTemperature',
        'pressure',
        'rainfall',
        'units',
      ]);
      expect(poll.connection).to.equal(1);
      // A line stands alone: which station, in which units.
      expect(poll.station).to.equal('seattle');
      expect(poll.units).to.deep.equal({ temperature: '°C', pressure: 'hPa', rainfall: 'mm' });
      expect(new Date(poll.time).toISOString()).to.equal(poll.time);
      for (const key of ['minTemperature', 'maxTemperature', 'pressure', 'rainfall'])
        expect(poll[key]).to.be.a('number');
    }
  });

  it('prints one line per connection in the multiple-connection mode', async () => {
    const server = await serverProcess();
    const result = await run(process.execPath, [
      CLIENT,
      '--port',
      String(server.port),
      '--connections',
      '4',
      '--count',
      '1',
    ]);
    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.map((line) => line.slice(0, 3)).sort()).to.deep.equal([
      '[1]',
      '[2]',
      '[3]',
      '[4]',
    ]);
    expect(lines[0]).to.match(
      /min -?\d+\.\d °C {2}max -?\d+\.\d °C {2}pressure \d+\.\d hPa {2}rain \d+\.\d mm$/,
    );
  });

  it('logs each connection and, on SIGTERM, stops and exits 0', async () => {
    const server = await serverProcess();
    await run(process.execPath, [CLIENT, '--port', String(server.port), '--count', '1']);
    server.child.kill('SIGTERM');
    // 'close', not 'exit': the last log lines may still be in the pipe when the process exits.
    await server.closed;
    expect(server.child.exitCode, server.output()).to.equal(0);
    const logs = server.logs();
    const opened = logs.find((line) => line['msg'] === 'connection opened');
    expect(opened).to.include({ connection: 1 });
    expect(opened?.['peer']).to.match(/^127\.0\.0\.1:\d+$/);
    expect(logs.find((line) => line['msg'] === 'connection closed')).to.include({
      connection: 1,
      reason: 'client-ended',
    });
    expect(logs.at(-1)).to.include({ msg: 'stopped' });
  });

  it('refuses a bad flag with one readable line and exit status 2', async () => {
    const result = await run(process.execPath, [SERVER_PROGRAM, '--prot', '80']);
    expect(result.code).to.equal(2);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.match(/^meteo-server: ERR_BAD_FLAG: .*--prot/);
    expect(hasStackTrace(result.stderr)).to.equal(false);
  });

  it('refuses a malformed replay file at start with one line naming the line that is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meteo-'));
    const file = join(dir, 'bad.csv');
    writeFileSync(
      file,
      'date,temp_min,temp_max,precipitation\n2020-01-01,1.0,5.0,0.2\n2020-01-02,warm,4.0,0\n',
    );
    try {
      const result = await run(process.execPath, [SERVER_PROGRAM, '--source', `replay:${file}`]);
      expect(result.code).to.equal(2);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.match(/^meteo-server: ERR_BAD_REPLAY_FILE: .*bad\.csv: line 3: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad value with one line that names the flag', async () => {
    const result = await run(process.execPath, [CLIENT, '--interval', 'soon']);
    expect(result.code).to.equal(2);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.match(/^meteo-client: ERR_BAD_VALUE: --interval/);
  });

  it('says the port is in use with one line and exit status 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const result = await run(process.execPath, [
        SERVER_PROGRAM,
        '--port',
        String(port),
        '--threads',
        '1',
      ]);
      expect(result.code).to.equal(1);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.match(/^meteo-server: ERR_ADDRESS_IN_USE: /);
      expect(hasStackTrace(result.stderr)).to.equal(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('says so with one line and exit status 1 when no server answers', async () => {
    const refused = (port: number): string =>
      `[1] ERR_CONNECT_FAILED: cannot connect to 127.0.0.1:${port}: connection refused (is the server running?)`;
    // A port just freed is the best Node offers for "nothing listens" (it cannot
    // hold a port without listening), and any process on the machine may take it
    // before the client connects. So a port that turns out taken is traded for
    // another; a client that gets it wrong does so on every try, and fails.
    let result: Finished | undefined;
    let port = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      port = await freedPort();
      result = await run(process.execPath, [CLIENT, '--port', String(port), '--count', '1']);
      if (result.stderr.trim() === refused(port)) break;
    }
    expect(result?.code).to.equal(1);
    expect(result?.stderr.trim().split('\n')).to.deep.equal([refused(port)]);
  });

  it('--trace prints the client’s state changes on stderr, plain when not on a terminal', async () => {
    const server = await serverProcess();
    const result = await run(process.execPath, [
      CLIENT,
      '--port',
      String(server.port),
      '--count',
      '1',
      '--trace',
    ]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.match(
      /^\d\d:\d\d:\d\d\.\d{3} client\/connection\.1 LINK_UP online\.connecting → online\.greeting$/m,
    );
    // A state left within one event (deciding) has its line too.
    expect(result.stderr).to.match(/ client\/connection\.1 RECEIVED online\.deciding → /);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for the escape character itself
    expect(result.stderr).to.not.match(/\u001b\[/);
    // Readings stay alone on stdout.
    expect(result.stdout.trim().split('\n')).to.have.length(1);
  });

  it('--trace prints the server’s state changes, as many connections as --inspect-connections', async () => {
    const server = await startServerProcess(
      '--threads',
      '1',
      '--trace',
      '--inspect-connections',
      '1',
    );
    servers.push(server);
    const polled = await run(process.execPath, [
      CLIENT,
      '--port',
      String(server.port),
      '--count',
      '1',
      '--connections',
      '2',
    ]);
    expect(polled.code, polled.stderr).to.equal(0);
    // Lines written before the replies may still be in the pipe.
    await until(
      () => / server\/connection\.1 RECEIVED /.test(server.output()),
      'the first connection’s trace',
    );
    const trace = server.output();
    expect(trace).to.match(/ server\/acceptor LISTENING binding → listening$/m);
    expect(trace).to.match(
      / server\/connection\.1 RECEIVED serving\.awaiting-request → serving\.computing$/m,
    );
    expect(trace).to.not.match(/ server\/connection\.2 /);
  });

  // Issue #16 item 7: it said ERR_FRAME_TOO_LARGE, "HTTP" read as a length.
  it('says a port that answers HTTP is not a meteo-actors server, in one line, and exits 1', async () => {
    const web = createHttpServer((_req, res) => res.end('hello\n'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const { port } = web.address() as { port: number };
    try {
      const result = await run(process.execPath, [CLIENT, '--port', String(port), '--count', '1']);
      expect(result.code).to.equal(1);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.match(/^\[1\] ERR_NOT_METEO_SERVER: /);
    } finally {
      web.closeAllConnections();
      await new Promise((resolve) => web.close(resolve));
    }
  });

  describe('get, a one-shot query', () => {
    it('`get pressure` prints the pressure with its unit and exits 0', async () => {
      const server = await serverProcess();
      const result = await run(process.execPath, [
        CLIENT,
        'get',
        'pressure',
        '--port',
        String(server.port),
      ]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/^pressure \d+\.\d hPa\n$/);
      expect(result.stderr).to.equal('');
    });

    it('`get all --raw` prints the four numbers alone, one a line, for scripts', async () => {
      const server = await serverProcess();
      const result = await run(process.execPath, [
        CLIENT,
        '--port',
        String(server.port),
        'get',
        'all',
        '--raw',
      ]);
      expect(result.code, result.stderr).to.equal(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines).to.have.length(4);
      for (const line of lines) expect(Number.isFinite(Number(line)), line).to.equal(true);
    });

    it('exits 1 with a coded line for a reading the station does not have, but 0 for `get all`', async () => {
      const server = await startServerProcess(
        '--threads',
        '1',
        '--source',
        'replay:seattle',
        '--speed',
        '1440',
      );
      servers.push(server);
      const port = String(server.port);
      const pressure = await run(process.execPath, [CLIENT, 'get', 'pressure', '--port', port]);
      expect(pressure.code).to.equal(1);
      expect(pressure.stderr.trim().split('\n')).to.have.length(1);
      expect(pressure.stderr).to.match(/^meteo-client: ERR_READING_UNAVAILABLE: pressure: /);
      const all = await run(process.execPath, [CLIENT, 'get', 'all', '--port', port]);
      expect(all.code, all.stderr).to.equal(0);
      expect(all.stdout).to.include('pressure — (ERR_READING_UNAVAILABLE)');
    });

    it('exits 1 with one coded line when no server answers, and 2 for a reading it does not know', async () => {
      const refused = await run(process.execPath, [
        CLIENT,
        'get',
        'pressure',
        '--port',
        String(await freedPort()),
      ]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr.trim().split('\n')).to.have.length(1);
      expect(refused.stderr).to.match(/^meteo-client: ERR_CONNECT_FAILED: /);
      const unknown = await run(process.execPath, [CLIENT, 'get', 'humidity']);
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.match(/^meteo-client: ERR_BAD_VALUE: /);
    });
  });

  it('installs as meteo-server and meteo-client: `npx meteo-client --help` runs the built program', async () => {
    const { bin } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(bin).to.deep.equal({ 'meteo-server': SERVER_PROGRAM, 'meteo-client': CLIENT });
    for (const path of Object.values(bin))
      expect(readFileSync(path, 'utf8').split('\n')[0], path).to.equal('#!/usr/bin/env node');
    for (const command of Object.keys(bin)) {
      const result = await run('npx', ['--no-install', command, '--help']);
      expect(result.code, `${command}: ${result.stderr}`).to.equal(0);
      expect(result.stdout).to.match(/^Usage: /);
    }
  });

  it('shows its options with --help and exits 0', async () => {
    const result = await run(process.execPath, [SERVER_PROGRAM, '--help']);
    expect(result.code).to.equal(0);
    for (const flag of ['--host', '--port', '--threads', '--seed'])
      expect(result.stdout).to.include(flag);
  });
});
