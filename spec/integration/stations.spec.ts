/**
 * Several stations on one server: a replay of the real Seattle record and two
 * simulated stations, one tropical and one polar. The handshake lists them, a
 * request names its station (or gets the default), a reading the record
 * lacks is refused rather than made up, and the client shows US units on
 * request.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { type RunningServer, startServer } from '../../actors/server.js';
import { SEATTLE_RECORD_STATION } from '../../lib/sensors/datasets.js';
import { SimulatedStation } from '../../lib/sensors/model.js';
import { createSource, resolveStations, type StationSetup } from '../../lib/sensors/sources.js';
import { STATIONS } from '../../lib/sensors/station.js';
import { Peers } from '../helpers/peers.js';
import { RawClient } from '../helpers/rawClient.js';
import { startServerProcess } from '../helpers/serverProcess.js';

const SEED = 9;
const START_MS = Date.UTC(2026, 10, 26, 12, 0);
const PINNED_MS = START_MS + 90 * 60_000;

describe('integration: several stations, a replay, and units', function () {
  this.timeout(20_000);
  let server: RunningServer;
  let setups: StationSetup[];
  const peers = new Peers();

  beforeEach(async () => {
    setups = resolveStations(
      { stations: 'seattle,singapore,south-pole', source: 'replay:seattle', speed: 1440 },
      { readFile: (path) => readFileSync(path, 'utf8'), now: () => START_MS },
    );
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 2,
      seed: SEED,
      stations: setups,
      now: () => PINNED_MS,
    });
  });

  afterEach(async () => {
    peers.closeAll();
    await server.stop();
  });

  const greeted = () => peers.greeted(server.port);

  it('lists every station in the welcome, the default first', async () => {
    const { welcome } = await greeted();
    expect(welcome.station.id).to.equal(SEATTLE_RECORD_STATION.id);
    expect(welcome.stations.map((station) => station.id)).to.deep.equal([
      'seattle-record',
      'singapore',
      'south-pole',
    ]);
  });

  it('reads the station a request names, and the default when it names none', async () => {
    const { client } = await greeted();
    client.send(
      { type: 'read', id: 1, reading: 'maxTemperature', station: 'singapore' },
      { type: 'read', id: 2, reading: 'minTemperature', station: 'south-pole' },
      { type: 'read', id: 3, reading: 'maxTemperature' },
    );
    const [tropical, polar, replayed] = await client.take(3);
    const singapore = new SimulatedStation(SEED, STATIONS['singapore'] as never);
    const pole = new SimulatedStation(SEED, STATIONS['south-pole'] as never);
    const record = createSource(SEED, setups[0] as StationSetup);
    expect(tropical).to.deep.include({
      station: 'singapore',
      value: singapore.observe('maxTemperature', PINNED_MS).value,
    });
    expect(polar).to.deep.include({
      station: 'south-pole',
      value: pole.observe('minTemperature', PINNED_MS).value,
    });
    expect(replayed).to.deep.include({
      station: 'seattle-record',
      value: record.observe('maxTemperature', PINNED_MS).value,
    });
    // The replay runs on the record's own clock: the observation is from 2012-2015.
    expect(replayed?.type === 'reading' && replayed.observedAt.getUTCFullYear()).to.be.within(
      2012,
      2016,
    );
  });

  it('refuses a reading the record does not have with ERR_READING_UNAVAILABLE, and an unknown station with ERR_UNKNOWN_STATION', async () => {
    const { client } = await greeted();
    client.send(
      { type: 'read', id: 1, reading: 'pressure' },
      { type: 'read', id: 2, reading: 'pressure', station: 'atlantis' },
      { type: 'read', id: 3, reading: 'pressure', station: 'singapore' },
    );
    const [unavailable, unknown, served] = await client.take(3);
    expect(unavailable).to.include({ type: 'error', id: 1, code: 'ERR_READING_UNAVAILABLE' });
    expect(unknown).to.include({ type: 'error', id: 2, code: 'ERR_UNKNOWN_STATION' });
    expect(served).to.include({ type: 'reading', id: 3, station: 'singapore' });
  });

  it('polls the station --station names, and shows --units us', async () => {
    const lines: string[] = [];
    const news: string[] = [];
    const polling = peers.poll(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 10,
        connections: 1,
        count: 1,
        json: false,
        station: 'south-pole',
        units: 'us',
      },
      { out: (line) => lines.push(line), err: (line) => news.push(line) },
    );
    expect(await polling.finished).to.equal(0);
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(
      /min -?\d+\.\d °F {2}max -?\d+\.\d °F {2}pressure \d+\.\d\d inHg {2}rain \d+\.\d\d in$/,
    );
    expect(news[0]).to.include(
      'station Amundsen–Scott South Pole Station (simulated) (south-pole)',
    );
  });

  // Issue #16 item 9: a reading the source never has is not an incomplete poll.
  it('polls the Seattle replay with the pressure shown missing, says why once, and exits 0 with --count', async () => {
    const lines: string[] = [];
    const news: string[] = [];
    const polling = peers.poll(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 10,
        connections: 1,
        count: 3,
        json: false,
      },
      { out: (line) => lines.push(line), err: (line) => news.push(line) },
    );
    expect(await polling.finished).to.equal(0);
    expect(lines).to.have.length(3);
    for (const line of lines) expect(line).to.include('pressure — (ERR_READING_UNAVAILABLE)');
    expect(news.filter((line) => line.includes('ERR_READING_UNAVAILABLE'))).to.have.length(1);
    expect(news.filter((line) => line.includes('incomplete poll'))).to.deep.equal([]);
  });

  it('takes --stations, --source and --speed on the command line', async () => {
    await server.stop();
    const child = await startServerProcess(
      '--threads',
      '1',
      '--stations',
      'seattle,mcmurdo',
      '--source',
      'replay:seattle',
      '--speed',
      '1440',
    );
    try {
      const { client, welcome } = await RawClient.greeted(child.port);
      client.destroy();
      expect(welcome.stations.map((station) => station.id)).to.deep.equal([
        'seattle-record',
        'mcmurdo',
      ]);
    } finally {
      await child.kill();
    }
    server = await startServer({ host: '127.0.0.1', port: 0, threads: 1, seed: SEED });
  });
});
