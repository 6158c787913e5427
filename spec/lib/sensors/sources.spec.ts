import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { SEATTLE_RECORD_STATION } from '../../../lib/sensors/datasets.js';
import { SimulatedStation } from '../../../lib/sensors/model.js';
import { ReplaySource } from '../../../lib/sensors/replay.js';
import { createSource, resolveStations, type StationIo } from '../../../lib/sensors/sources.js';
import { STATIONS } from '../../../lib/sensors/station.js';

const START_MS = Date.UTC(2026, 10, 26, 12);

/** The file system of a spec: files by path, anything else missing. */
function io(files: Readonly<Record<string, string>> = {}): StationIo {
  return {
    readFile(path) {
      const key = String(path);
      if (key.startsWith('file:')) return readFileSync(path, 'utf8');
      const text = files[key];
      if (text === undefined) throw Object.assign(new Error(`no ${key}`), { code: 'ENOENT' });
      return text;
    },
    now: () => START_MS,
  };
}

function codeOf(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
  return 'no error';
}

describe('lib/sensors/sources', () => {
  it('serves the listed stations, simulated, the first as the default', () => {
    const setups = resolveStations(
      { stations: 'singapore, south-pole', source: 'sim', speed: 1 },
      io(),
    );
    expect(setups.map((setup) => setup.station)).to.deep.equal([
      STATIONS['singapore'],
      STATIONS['south-pole'],
    ]);
    expect(setups.every((setup) => setup.source.kind === 'simulated')).to.equal(true);
    expect(createSource(1, setups[0] as never)).to.be.instanceOf(SimulatedStation);
  });

  it('refuses an unknown station, an empty list or a station listed twice with ERR_BAD_VALUE', () => {
    expect(
      codeOf(() => resolveStations({ stations: 'atlantis', source: 'sim', speed: 1 }, io())),
    ).to.equal('ERR_BAD_VALUE');
    expect(
      codeOf(() => resolveStations({ stations: ' , ', source: 'sim', speed: 1 }, io())),
    ).to.equal('ERR_BAD_VALUE');
    expect(
      codeOf(() => resolveStations({ stations: 'seattle,seattle', source: 'sim', speed: 1 }, io())),
    ).to.equal('ERR_BAD_VALUE');
  });

  it('refuses a source that is neither sim nor replay:FILE, and a file it cannot read, with ERR_BAD_VALUE', () => {
    expect(
      codeOf(() => resolveStations({ stations: 'seattle', source: 'live', speed: 1 }, io())),
    ).to.equal('ERR_BAD_VALUE');
    expect(
      codeOf(() =>
        resolveStations({ stations: 'seattle', source: 'replay:missing.csv', speed: 1 }, io()),
      ),
    ).to.equal('ERR_BAD_VALUE');
  });

  it('replays the bundled Seattle record as a station of its own, in place of the first', () => {
    const setups = resolveStations(
      { stations: 'seattle,singapore', source: 'replay:seattle', speed: 1440 },
      io(),
    );
    expect(setups.map((setup) => setup.station.id)).to.deep.equal([
      SEATTLE_RECORD_STATION.id,
      'singapore',
    ]);
    const [replay] = setups;
    expect(replay?.source.kind).to.equal('replay');
    if (replay?.source.kind !== 'replay') return;
    expect(replay.source.file.records).to.have.length(1_461);
    expect(replay.source.options).to.include({
      startMs: START_MS,
      speed: 1440,
      utcOffsetMinutes: -480,
    });
    expect(createSource(1, replay)).to.be.instanceOf(ReplaySource);
  });

  it("replays any other file at the first station's place, under a name that says so", () => {
    const csv =
      'date,temp_min,temp_max,precipitation\n2020-01-01,1.0,5.0,0.2\n2020-01-02,0.5,4.0,0\n';
    const [replay] = resolveStations(
      { stations: 'reykjavik', source: 'replay:obs.csv', speed: 1 },
      io({ 'obs.csv': csv }),
    );
    expect(replay?.station).to.include({
      id: 'reykjavik',
      latitude: STATIONS['reykjavik']?.latitude,
    });
    expect(replay?.station.name).to.equal('Reykjavík, Iceland (replay of obs.csv)');
  });

  // Issue #16 item 8: `singapore,seattle` with replay:seattle served the record in singapore's place.
  it('feeds the bundled record to seattle wherever it is listed, and leaves the other stations served', () => {
    const setups = resolveStations(
      { stations: 'singapore,seattle', source: 'replay:seattle', speed: 1 },
      io(),
    );
    expect(setups.map((setup) => setup.station.id)).to.deep.equal([
      'singapore',
      SEATTLE_RECORD_STATION.id,
    ]);
    expect(setups.map((setup) => setup.source.kind)).to.deep.equal(['simulated', 'replay']);
  });

  it('feeds the station --source names, STATION=replay:FILE, in its place, and simulates the others', () => {
    const csv =
      'date,temp_min,temp_max,precipitation\n2020-01-01,1.0,5.0,0.2\n2020-01-02,0.5,4.0,0\n';
    const setups = resolveStations(
      {
        stations: 'seattle,reykjavik,singapore',
        source: 'reykjavik=replay:obs.csv, seattle=replay:seattle, singapore=sim',
        speed: 1,
      },
      io({ 'obs.csv': csv }),
    );
    expect(setups.map((setup) => setup.station.id)).to.deep.equal([
      SEATTLE_RECORD_STATION.id,
      'reykjavik',
      'singapore',
    ]);
    expect(setups.map((setup) => setup.source.kind)).to.deep.equal([
      'replay',
      'replay',
      'simulated',
    ]);
    expect(setups[1]?.station.name).to.equal('Reykjavík, Iceland (replay of obs.csv)');
  });

  const refused: readonly [string, string, string][] = [
    [
      'a replay of a file on a server of several stations, without the station',
      'seattle,singapore',
      'replay:obs.csv',
    ],
    [
      'the bundled record for a station other than seattle',
      'seattle,singapore',
      'singapore=replay:seattle',
    ],
    ['the bundled record on a server without seattle', 'singapore', 'replay:seattle'],
    ['a source for a station not served', 'seattle', 'reykjavik=replay:obs.csv'],
    ['two sources for one station', 'seattle', 'seattle=sim,seattle=replay:seattle'],
    ['a source without its station before =', 'seattle', '=replay:seattle'],
    ['a named source that is neither sim nor replay:FILE', 'seattle', 'seattle=live'],
    ['sim alone in a list', 'seattle,singapore', 'sim,seattle=replay:seattle'],
  ];
  for (const [what, stations, source] of refused) {
    it(`refuses ${what} with ERR_BAD_VALUE (--stations ${stations} --source ${source})`, () => {
      const csv = 'date,temp_min,temp_max,precipitation\n2020-01-01,1.0,5.0,0.2\n';
      expect(
        codeOf(() => resolveStations({ stations, source, speed: 1 }, io({ 'obs.csv': csv }))),
      ).to.equal('ERR_BAD_VALUE');
    });
  }

  it('fails at start with ERR_BAD_REPLAY_FILE and the line for a malformed file', () => {
    const csv =
      'date,temp_min,temp_max,precipitation\n2020-01-01,1.0,5.0,0.2\n2020-01-02,warm,4.0,0\n';
    let failure: unknown;
    try {
      resolveStations(
        { stations: 'seattle', source: 'replay:bad.csv', speed: 1 },
        io({ 'bad.csv': csv }),
      );
    } catch (err) {
      failure = err;
    }
    expect(failure).to.include({ code: 'ERR_BAD_REPLAY_FILE', line: 3 });
  });
});
