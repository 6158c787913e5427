/**
 * The server program's HTTP port, as a user starts it: --http-port, its
 * former name --metrics-port, the start-up line that gives the page's
 * address, and a clear refusal of both names at once.
 */
import { get } from 'node:http';
import { expect } from 'chai';
import { runScript } from '../helpers/program.js';
import {
  freedPort,
  SERVER_PROGRAM,
  type ServerProcess,
  startServerProcess,
} from '../helpers/serverProcess.js';

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('integration: the server program on its HTTP port', function () {
  this.timeout(30_000);
  let server: ServerProcess | undefined;

  afterEach(async () => {
    await server?.kill();
    server = undefined;
  });

  for (const flag of ['--http-port', '--metrics-port']) {
    it(`serves the live view and /metrics on ${flag}, and says where in the start-up line`, async () => {
      const port = await freedPort();
      server = await startServerProcess('--threads', '1', flag, String(port));
      const listening = server.logs().find((line) => String(line['msg']).startsWith('listening'));
      const page = `http://127.0.0.1:${port}/`;
      expect(listening?.['msg']).to.match(new RegExp(`live view at ${page}$`));
      expect(listening).to.include({ view: page, metrics: `${page}metrics` });
      expect(await status(port, '/metrics')).to.equal(200);
      expect(await status(port, '/')).to.equal(200);
      // Loopback: no warning about an open port.
      expect(server.logs().filter((line) => Number(line['level']) >= 40)).to.deep.equal([]);
    });
  }

  it('serves no HTTP port with --http-port 0, and names no page', async () => {
    server = await startServerProcess('--threads', '1', '--http-port', '0');
    const listening = server.logs().find((line) => String(line['msg']).startsWith('listening'));
    expect(listening?.['msg']).to.not.include('live view');
    expect(listening).to.not.have.property('view');
  });

  it('refuses --http-port and --metrics-port naming different ports, with ERR_BAD_FLAG and status 2', async () => {
    const run = await runScript(SERVER_PROGRAM, ['--http-port', '9000', '--metrics-port', '9464']);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.match(/^meteo-server: ERR_BAD_FLAG: --metrics-port/);
  });

  it('shows --http-port and its default in --help', async () => {
    const run = await runScript(SERVER_PROGRAM, ['--help']);
    expect(run.stdout).to.match(
      /--http-port N +serve the live view .*\(default 7211\) \[env METEO_HTTP_PORT\]/,
    );
  });
});
