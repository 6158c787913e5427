/**
 * Prometheus metrics, scraped over HTTP from a live server after a few polls:
 * the counters move by exactly what the polls did.
 */
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { expect } from 'chai';
import { type RunningClient, runClient } from '../../actors/client.js';
import { CLOSE_REASONS, REJECT_REASONS, WIRE_CODES } from '../../actors/metrics.js';
import { type RunningServer, type ServerSettings, startServer } from '../../actors/server.js';
import { READINGS } from '../../lib/protocol.js';
import { SIMULATED } from '../../lib/sensors/sources.js';
import { STATIONS, type Station } from '../../lib/sensors/station.js';
import { RawClient } from '../helpers/rawClient.js';
import { until } from '../helpers/wait.js';

function scrape(
  port: number,
  path = '/metrics',
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          type: String(response.headers['content-type']),
          body,
        }),
      );
    }).on('error', reject);
  });
}

/** The value of one sample, by its exact name and labels as Prometheus prints them. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('integration: Prometheus metrics', function () {
  this.timeout(20_000);
  let server: RunningServer;
  const clients: RawClient[] = [];
  const pollers: RunningClient[] = [];

  async function greeted(): Promise<RawClient> {
    const { client } = await RawClient.greeted(server.port);
    clients.push(client);
    return client;
  }

  /** The server of every spec here, with its HTTP port; `settings` changes it for one spec. */
  function serve(settings: Partial<ServerSettings> = {}): Promise<RunningServer> {
    return startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      httpPort: 0,
      ...settings,
    });
  }

  /** Stops the server `beforeEach` started, and starts one with `settings` in its place. */
  async function restartWith(settings: Partial<ServerSettings>): Promise<void> {
    await server.stop();
    server = await serve(settings);
  }

  beforeEach(async () => {
    server = await serve();
  });

  afterEach(async () => {
    // A client actor left polling would retry forever once the server is gone.
    for (const poller of pollers.splice(0)) poller.stop();
    for (const client of clients.splice(0)) client.destroy();
    await server.stop();
  });

  it('counts connections, requests, latencies and error replies by the amounts the clients caused', async () => {
    const httpPort = server.httpPort as number;
    const before = (await scrape(httpPort)).body;
    expect(
      sample(before, 'meteo_requests_total{station="seattle",reading="pressure",outcome="ok"}'),
    ).to.equal(0);

    const polls = runClient(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 5,
        connections: 2,
        count: 3,
        json: true,
      },
      { out: () => {}, err: () => {} },
    );
    pollers.push(polls);
    expect(await polls.finished).to.equal(0);
    const client = await greeted();
    client.send({ type: 'read', id: 1, reading: 'humidity' } as never);
    expect(await client.next()).to.deep.include({ code: 'ERR_UNKNOWN_READING' });
    client.destroy();
    await client.closed;
    // The server counts a close once it has seen the socket go (the exporter hears it at the same time).
    await until(() => server.stats().connections.open === 0, 'the server counts the closes');

    const { status, type, body } = await scrape(httpPort);
    expect(status).to.equal(200);
    expect(type).to.match(/^text\/plain; version=0\.0\.4/);
    for (const reading of READINGS) {
      expect(
        sample(body, `meteo_requests_total{station="seattle",reading="${reading}",outcome="ok"}`),
        reading,
      ).to.equal(6);
      expect(
        sample(
          body,
          `meteo_request_duration_seconds_count{station="seattle",reading="${reading}"}`,
        ),
        reading,
      ).to.equal(6);
    }
    expect(sample(body, 'meteo_connections_accepted_total')).to.equal(3);
    // Each client closed its side (a FIN), so each connection ended as client-ended.
    expect(sample(body, 'meteo_connections_closed_total{reason="client-ended"}')).to.equal(3);
    expect(sample(body, 'meteo_connections')).to.equal(0);
    expect(sample(body, 'meteo_error_replies_total{code="ERR_UNKNOWN_READING"}')).to.equal(1);
    expect(sample(body, 'meteo_pool_threads')).to.equal(1);
    expect(sample(body, 'meteo_pool_queue_depth')).to.equal(0);
    expect(sample(body, 'meteo_pool_utilization_ratio')).to.be.within(0, 1);
    // Node's own process metrics come along.
    expect(body).to.match(/^process_cpu_user_seconds_total \d/m);
    expect(body).to.match(/^nodejs_eventloop_lag_seconds \d/m);
  });

  it('counts refused connections by reason', async () => {
    await restartWith({ maxConnections: 1 });
    await greeted();
    const second = await RawClient.connect(server.port);
    clients.push(second);
    expect(await second.next()).to.deep.include({ code: 'ERR_TOO_MANY_CONNECTIONS' });
    const { body } = await scrape(server.httpPort as number);
    expect(
      sample(body, 'meteo_connections_rejected_total{reason="ERR_TOO_MANY_CONNECTIONS"}'),
    ).to.equal(1);
    expect(sample(body, 'meteo_connections')).to.equal(1);
  });

  it('answers a path it does not serve with 404', async () => {
    expect((await scrape(server.httpPort as number, '/nothing-here')).status).to.equal(404);
  });

  // Issue #16, "Prometheus conventions".
  it('says which version of the server and of Node.js runs, in meteo_build_info', async () => {
    const { body } = await scrape(server.httpPort as number);
    expect(sample(body, `meteo_build_info{version="0.1.0",node="${process.version}"}`)).to.equal(1);
  });

  it('has every counter at 0 from the first scrape, so that rate() sees the first event', async () => {
    const { body } = await scrape(server.httpPort as number);
    const zero = (series: string) => expect(sample(body, series), series).to.equal(0);
    zero('meteo_connections_accepted_total');
    for (const reason of REJECT_REASONS)
      zero(`meteo_connections_rejected_total{reason="${reason}"}`);
    for (const reason of CLOSE_REASONS) zero(`meteo_connections_closed_total{reason="${reason}"}`);
    for (const code of WIRE_CODES) zero(`meteo_error_replies_total{code="${code}"}`);
    for (const reading of READINGS) {
      for (const outcome of ['ok', 'ERR_SENSOR_FAILED', 'ERR_READING_UNAVAILABLE']) {
        zero(`meteo_requests_total{station="seattle",reading="${reading}",outcome="${outcome}"}`);
      }
      zero(`meteo_request_duration_seconds_count{station="seattle",reading="${reading}"}`);
    }
  });

  it('labels requests with the station asked, and only with the stations served', async () => {
    await restartWith({
      stations: [
        { station: STATIONS['seattle'] as Station, source: SIMULATED },
        { station: STATIONS['singapore'] as Station, source: SIMULATED },
      ],
    });
    const client = await greeted();
    client.send({ type: 'read', id: 1, reading: 'pressure', station: 'singapore' });
    expect(await client.next()).to.deep.include({ type: 'reading', id: 1 });
    client.send({ type: 'read', id: 2, reading: 'pressure', station: 'nowhere' });
    expect(await client.next()).to.deep.include({ code: 'ERR_UNKNOWN_STATION' });
    const { body } = await scrape(server.httpPort as number);
    expect(
      sample(body, 'meteo_requests_total{station="singapore",reading="pressure",outcome="ok"}'),
    ).to.equal(1);
    expect(
      sample(body, 'meteo_requests_total{station="seattle",reading="pressure",outcome="ok"}'),
    ).to.equal(0);
    const stations = new Set(
      [...body.matchAll(/^meteo_request\S*\{[^}]*station="([^"]*)"/gm)].map((match) => match[1]),
    );
    expect([...stations].sort()).to.deep.equal(['seattle', 'singapore']);
  });

  it('lists every wire code of docs/errors.md as a code label, and every code that closes as a reason', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    const wire = doc.slice(doc.indexOf('## On the wire'), doc.indexOf('## On the command line'));
    const rows = [...wire.matchAll(/^\| `(ERR_[A-Z_]+)` +\| (yes|no) /gm)];
    expect([...WIRE_CODES].sort()).to.deep.equal(rows.map((row) => row[1]).sort());
    const closing = rows.filter((row) => row[2] === 'yes').map((row) => row[1] as string);
    expect(
      [...CLOSE_REASONS, ...REJECT_REASONS].filter((reason) => reason.startsWith('ERR_')),
    ).to.include.members(closing);
  });
});
