import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { MeteoError } from '../../../lib/errors.js';
import { SEATTLE_RECORD_STATION, SEATTLE_WEATHER_CSV_URL } from '../../../lib/sensors/datasets.js';
import { parseReplayCsv, ReplaySource } from '../../../lib/sensors/replay.js';
import { checkStation } from '../../../lib/sensors/station.js';
import { DAY_MS, MINUTE_MS } from '../../../lib/sensors/time.js';

describe('lib/sensors/datasets', () => {
  it('resolves the Seattle record, from the compiled module, to the file in lib/sensors/data', () => {
    const path = fileURLToPath(SEATTLE_WEATHER_CSV_URL);
    // mocha runs from the repository root.
    expect(path).to.equal(join(process.cwd(), 'lib', 'sensors', 'data', 'seattle-weather.csv'));
    expect(existsSync(path)).to.equal(true);
  });

  it('describes the station the record comes from well enough to serve it', () => {
    checkStation(SEATTLE_RECORD_STATION);
    expect(SEATTLE_RECORD_STATION.utcOffsetMinutes).to.equal(-8 * 60);
  });

  describe('the Seattle record, 2012–2015', () => {
    const file = parseReplayCsv(
      readFileSync(SEATTLE_WEATHER_CSV_URL, 'utf8'),
      'seattle-weather.csv',
    );

    it('parses: 1,461 daily records, one a day with no gaps, and no pressure column', () => {
      expect(file.kind).to.equal('daily');
      expect(file.readings).to.deep.equal(['minTemperature', 'maxTemperature', 'rainfall']);
      expect(file.records).to.have.length(1461);
      if (file.kind !== 'daily') return;
      expect(file.records[0]?.date).to.equal('2012-01-01');
      expect(file.records.at(-1)?.date).to.equal('2015-12-31');
      const days = file.records.map((record) => Date.parse(record.date) / DAY_MS);
      expect(days.every((day, i) => i === 0 || day === (days[i - 1] as number) + 1)).to.equal(true);
    });

    it('gives the values the file holds for known days (lines 2, 1062, 1171, 1462)', () => {
      if (file.kind !== 'daily') expect.fail('the Seattle record is daily');
      const day = (date: string) => file.records.find((record) => record.date === date);
      expect(day('2012-01-01')).to.deep.equal({
        line: 2,
        date: '2012-01-01',
        minTemperature: 5.0,
        maxTemperature: 12.8,
        rainfall: 0.0,
        pressure: null,
      });
      expect(day('2014-11-26')).to.deep.include({
        line: 1062,
        minTemperature: 12.2,
        maxTemperature: 15.0,
        rainfall: 0.3,
      });
      // The wettest day of the four years, and the last.
      expect(day('2015-03-15')).to.deep.include({ line: 1171, rainfall: 55.9 });
      expect(day('2015-12-31')).to.deep.include({ line: 1462, minTemperature: -2.1 });
    });

    it('replays 26 November 2014 through the 27th, observed at Pacific midnight, with no pressure', () => {
      // At 09:00 PST on 27 November 2014, the latest complete day is the 26th.
      const replay = new ReplaySource(file, {
        utcOffsetMinutes: SEATTLE_RECORD_STATION.utcOffsetMinutes,
        startMs: 0,
        fromMs: Date.UTC(2014, 10, 27, 17),
      });
      const observedAt = Date.UTC(2014, 10, 27, 8);
      expect(replay.observe('minTemperature', 0)).to.deep.equal({ value: 12.2, observedAt });
      expect(replay.observe('maxTemperature', 0)).to.deep.equal({ value: 15.0, observedAt });
      expect(replay.observe('rainfall', 0)).to.deep.equal({ value: 0.3, observedAt });
      let error: unknown;
      try {
        replay.observe('pressure', 0);
      } catch (err) {
        error = err;
      }
      expect((error as MeteoError).code).to.equal('ERR_READING_UNAVAILABLE');
    });

    it('runs through the four years in a day at speed 1440, then starts again', () => {
      const replay = new ReplaySource(file, {
        utcOffsetMinutes: -8 * 60,
        startMs: 0,
        speed: 1440,
      });
      expect(replay.endMs - replay.firstMs).to.equal(1461 * DAY_MS);
      const maxAfter = (minutes: number) => replay.observe('maxTemperature', minutes * MINUTE_MS);
      expect(maxAfter(0).value).to.equal(12.8);
      expect(maxAfter(1).value).to.equal(10.6);
      expect(maxAfter(1461).value).to.equal(12.8);
    });
  });
});
