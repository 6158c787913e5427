import { expect } from 'chai';
import fc from 'fast-check';
import { MeteoError } from '../../../lib/errors.js';
import { READINGS, type Reading } from '../../../lib/protocol.js';
import { READ_OK, READ_UNAVAILABLE, runSensorTask } from '../../../lib/sensors/batch.js';
import {
  type DailyRecord,
  parseReplayCsv,
  type ReplayFile,
  ReplayFileError,
  type ReplayOptions,
  ReplaySource,
} from '../../../lib/sensors/replay.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../../lib/sensors/time.js';

/** What `fn` throws (or undefined): specs look at its code, and at the line for a file error. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function expectCode(fn: () => unknown, code: string): MeteoError {
  const error = thrown(fn);
  expect(error, `expected ${code}`).to.be.instanceOf(MeteoError);
  expect((error as MeteoError).code).to.equal(code);
  return error as MeteoError;
}

/** Three days in the vega-datasets layout, with an extra column the replay ignores. */
const THREE_DAYS = [
  'date,precipitation,temp_max,temp_min,wind,weather',
  '2024-01-01,0.0,12.8,5.0,4.7,drizzle',
  '2024-01-02,10.9,10.6,2.8,4.5,rain',
  '2024-01-03,0.8,11.7,7.2,2.3,rain',
].join('\n');

/** Pacific standard time: each day is observed at its end, 08:00 UTC the next day. */
const PST = -8 * 60;
const END_OF_DAY_1 = Date.UTC(2024, 0, 2, 8);
const SERVER_START = Date.UTC(2026, 10, 26, 13, 5, 30);

function source(options: Partial<ReplayOptions> = {}, text = THREE_DAYS): ReplaySource {
  return new ReplaySource(parseReplayCsv(text), {
    utcOffsetMinutes: PST,
    startMs: SERVER_START,
    ...options,
  });
}

describe('lib/sensors/replay', () => {
  describe('parseReplayCsv', () => {
    it('reads a daily file with the vega-datasets header, leaving other columns alone', () => {
      const file = parseReplayCsv(THREE_DAYS);
      expect(file.kind).to.equal('daily');
      expect(file.readings).to.deep.equal(['minTemperature', 'maxTemperature', 'rainfall']);
      expect(file.records).to.have.length(3);
      expect(file.records[1]).to.deep.equal({
        line: 3,
        date: '2024-01-02',
        minTemperature: 2.8,
        maxTemperature: 10.6,
        rainfall: 10.9,
        pressure: null,
      });
    });

    it('takes other names for the columns, in any case, and a pressure column when there is one', () => {
      const file = parseReplayCsv(
        'Day,TMIN,Max Temperature,PRCP,Sea-Level Pressure\n2024-02-29,-3.5,1.25,0,1013.2\n',
      );
      expect(file.readings).to.deep.equal([...READINGS]);
      expect(file.records[0]).to.deep.include({
        date: '2024-02-29',
        minTemperature: -3.5,
        maxTemperature: 1.25,
        rainfall: 0,
        pressure: 1013.2,
      });
    });

    it('takes CRLF line ends, a byte-order mark, blank lines, spaces and quoted fields', () => {
      const text =
        '\uFEFFdate, "temp_min" ,temp_max,precipitation,weather\r\n\r\n' +
        '2024-01-01, 1.5 ,"2.5",0.2,"rain, then ""sun"""\r\n\r\n';
      const file = parseReplayCsv(text);
      expect(file.records).to.have.length(1);
      expect(file.records[0]).to.deep.include({
        line: 3,
        minTemperature: 1.5,
        maxTemperature: 2.5,
      });
    });

    it('takes an empty cell as a value not measured', () => {
      const file = parseReplayCsv('date,tmin,tmax,prcp\n2024-01-01,,3.0,\n');
      expect(file.records[0]).to.deep.include({
        minTemperature: null,
        maxTemperature: 3,
        rainfall: null,
      });
    });

    it('reads a file of timed records, with the time zone each gives', () => {
      const file = parseReplayCsv(
        [
          'time,minTemperature,maxTemperature,pressure,rainfall',
          '2026-11-26T13:20:00Z,0.2,3.8,1026.9,0.0',
          '2026-11-26T05:25:00-08:00,0.2,3.9,1026.7,0.2',
          '2026-11-26 14:30+0100,0.1,3.9,1026.5,0.4',
        ].join('\n'),
      );
      expect(file.kind).to.equal('timed');
      if (file.kind !== 'timed') return;
      expect(file.records.map((record) => record.timeMs)).to.deep.equal([
        Date.parse('2026-11-26T13:20:00Z'),
        Date.parse('2026-11-26T13:25:00Z'),
        Date.parse('2026-11-26T13:30:00Z'),
      ]);
    });

    describe('a malformed file: ERR_BAD_REPLAY_FILE and the line that is wrong', () => {
      const HEADER = 'date,temp_min,temp_max,precipitation';
      const cases: [string, string, number][] = [
        ['an empty file', '', 1],
        ['a file of blank lines', '\n  \n', 1],
        ['a header without a date or time column', 'when,temp_min,temp_max,precipitation', 1],
        ['a header with both a date and a time column', `time,${HEADER}`, 1],
        ['a header without a minimum temperature', 'date,temp_max,precipitation', 1],
        ['a header without a precipitation column', 'date,temp_min,temp_max', 1],
        ['a header naming one column twice', `${HEADER},tmax`, 1],
        ['a header with an unclosed quote', 'date,"temp_min,temp_max', 1],
        ['a header and no records', `${HEADER}\n\n`, 1],
        ['a row with too few fields', `${HEADER}\n2024-01-01,1,2,0\n2024-01-02,1,2`, 3],
        ['a row with too many fields', `${HEADER}\n2024-01-01,1,2,0,5`, 2],
        ['a date that is not a date', `${HEADER}\n01/02/2024,1,2,0`, 2],
        ['a date that does not exist', `${HEADER}\n2024-01-01,1,2,0\n2023-02-29,1,2,0`, 3],
        ['a time without its zone', 'time,tmin,tmax,prcp\n2026-11-26T13:20:00,1,2,0', 2],
        ['a time past midnight', 'time,tmin,tmax,prcp\n2026-11-26T24:00Z,1,2,0', 2],
        ['a value that is not a number', `${HEADER}\n2024-01-01,1,two,0`, 2],
        ['NaN', `${HEADER}\n2024-01-01,NaN,2,0`, 2],
        ['a number too large for a double', `${HEADER}\n2024-01-01,1,2,1e999`, 2],
        ['a temperature in tenths, as NOAA keeps them', `${HEADER}\n2024-01-01,50,128,0`, 2],
        ['negative precipitation', `${HEADER}\n2024-01-01,1,2,-0.1`, 2],
        ['pressure in inches of mercury', `${HEADER},pressure\n2024-01-01,1,2,0,29.92`, 2],
        ['a minimum above the maximum', `${HEADER}\n2024-01-01,1,2,0\n2024-01-02,5,2,0`, 3],
        ['a date repeated', `${HEADER}\n2024-01-01,1,2,0\n2024-01-01,1,2,0`, 3],
        ['dates out of order', `${HEADER}\n2024-01-02,1,2,0\n2024-01-01,1,2,0`, 3],
        ['a quoted field with text after it', `${HEADER}\n2024-01-01,"1"x,2,0`, 2],
        ['one timed record alone', 'time,tmin,tmax,prcp\n\n2026-11-26T13:20Z,1,2,0\n', 3],
      ];
      for (const [what, text, line] of cases) {
        it(`refuses ${what} (line ${line})`, () => {
          const error = expectCode(() => parseReplayCsv(text), 'ERR_BAD_REPLAY_FILE');
          expect(error).to.be.instanceOf(ReplayFileError);
          expect((error as ReplayFileError).line).to.equal(line);
        });
      }

      it('names the file and the line in its message, for the person who has to fix it', () => {
        const error = thrown(() => parseReplayCsv(`${HEADER}\n2024-01-01,1,x,0`, 'obs.csv'));
        expect((error as Error).message.startsWith('obs.csv: line 2: ')).to.equal(true);
      });

      it('throws only ReplayFileError for any text at all (property)', () => {
        const cell = fc.oneof(
          fc.constantFrom('2024-01-01', '2024-01-02', '1.5', '-3', '', '"x"', 'abc', '1e999'),
          fc.string({ maxLength: 6 }),
        );
        const row = fc.array(cell, { minLength: 0, maxLength: 6 }).map((cells) => cells.join(','));
        fc.assert(
          fc.property(
            fc.constantFrom(HEADER, 'time,tmin,tmax,prcp', 'date,tmin', ''),
            fc.array(row, { maxLength: 6 }),
            (header, rows) => {
              const error = thrown(() => parseReplayCsv([header, ...rows].join('\n')));
              if (error !== undefined) expect(error).to.be.instanceOf(ReplayFileError);
            },
          ),
          { numRuns: 500 },
        );
      });
    });

    it('reads back any file of valid daily records it is given (property)', () => {
      const tenth = (min: number, max: number) =>
        fc.integer({ min: min * 10, max: max * 10 }).map((n) => n / 10);
      const day = fc.record({
        gapDays: fc.integer({ min: 1, max: 3 }),
        low: tenth(-60, 40),
        spread: tenth(0, 25),
        rain: fc.option(tenth(0, 300), { nil: null }),
        pressure: fc.option(tenth(950, 1050), { nil: null }),
      });
      fc.assert(
        fc.property(fc.array(day, { minLength: 1, maxLength: 30 }), (days) => {
          let dayMs = Date.UTC(1990, 0, 1);
          const lines = ['date,tmin,tmax,prcp,slp'];
          const expected: DailyRecord[] = [];
          days.forEach(({ gapDays, low, spread, rain, pressure }, i) => {
            dayMs += gapDays * DAY_MS;
            const date = new Date(dayMs).toISOString().slice(0, 10);
            const high = Math.round((low + spread) * 10) / 10;
            lines.push(`${date},${low},${high},${rain ?? ''},${pressure ?? ''}`);
            expected.push({
              line: i + 2,
              date,
              minTemperature: low,
              maxTemperature: high,
              rainfall: rain,
              pressure,
            });
          });
          expect(parseReplayCsv(lines.join('\n')).records).to.deep.equal(expected);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('ReplaySource', () => {
    it('reports each day at the local midnight that ends it, from the first observation on', () => {
      const replay = source();
      expect(replay.firstMs).to.equal(END_OF_DAY_1);
      expect(replay.observe('maxTemperature', SERVER_START)).to.deep.equal({
        value: 12.8,
        observedAt: END_OF_DAY_1,
      });
    });

    it('runs in real time at speed 1: the next day comes a day later', () => {
      const replay = source();
      const at = (serverMs: number) => replay.observe('rainfall', serverMs);
      expect(at(SERVER_START + DAY_MS - 1)).to.deep.equal({ value: 0, observedAt: END_OF_DAY_1 });
      expect(at(SERVER_START + DAY_MS)).to.deep.equal({
        value: 10.9,
        observedAt: END_OF_DAY_1 + DAY_MS,
      });
    });

    it('runs a day a minute at speed 1440, and loops back to the first day after the last', () => {
      const replay = source({ speed: 1440 });
      const minTemperatures = [0, 1, 2, 3, 4, 5].map(
        (minutes) => replay.observe('minTemperature', SERVER_START + minutes * MINUTE_MS).value,
      );
      expect(minTemperatures).to.deep.equal([5.0, 2.8, 7.2, 5.0, 2.8, 7.2]);
      expect(replay.fileTimeAt(SERVER_START + 30_000)).to.equal(END_OF_DAY_1 + 12 * HOUR_MS);
    });

    it('gives the observation time in the file, not the server, so a client sees the day it replays', () => {
      const replay = source({ speed: 1440 });
      const { observedAt } = replay.observe('rainfall', SERVER_START + 2 * MINUTE_MS + 59_000);
      expect(new Date(observedAt).toISOString()).to.equal('2024-01-04T08:00:00.000Z');
    });

    it('answers ERR_READING_UNAVAILABLE after the end when told to stop, and before the start', () => {
      const replay = source({ speed: 1440, atEnd: 'stop' });
      expect(replay.observe('maxTemperature', SERVER_START + 2 * MINUTE_MS).value).to.equal(11.7);
      expectCode(
        () => replay.observe('maxTemperature', SERVER_START + 3 * MINUTE_MS),
        'ERR_READING_UNAVAILABLE',
      );
      expectCode(
        () => replay.observe('maxTemperature', SERVER_START - 1),
        'ERR_READING_UNAVAILABLE',
      );
    });

    it('starts from the file time it is given', () => {
      const replay = source({ fromMs: END_OF_DAY_1 + DAY_MS + HOUR_MS });
      expect(replay.observe('maxTemperature', SERVER_START)).to.deep.equal({
        value: 10.6,
        observedAt: END_OF_DAY_1 + DAY_MS,
      });
    });

    it('answers ERR_READING_UNAVAILABLE for a reading the file has no column for, every time', () => {
      const replay = source();
      for (const t of [SERVER_START, SERVER_START + DAY_MS]) {
        expectCode(() => replay.observe('pressure', t), 'ERR_READING_UNAVAILABLE');
      }
    });

    it('answers ERR_READING_UNAVAILABLE for a value the file left empty, and the others as usual', () => {
      const replay = source({}, 'date,tmin,tmax,prcp\n2024-01-01,,3.0,0.4\n');
      expectCode(() => replay.observe('minTemperature', SERVER_START), 'ERR_READING_UNAVAILABLE');
      expect(replay.observe('rainfall', SERVER_START).value).to.equal(0.4);
    });

    it('never gives NaN: through a pool task, the missing reading is READ_UNAVAILABLE', () => {
      const replay = source({ speed: 1440 });
      const count = 4 * 10;
      const result = runSensorTask([replay], {
        readings: Uint8Array.from({ length: count }, (_, i) => i % 4),
        stations: new Uint8Array(count),
        times: Float64Array.from({ length: count }, (_, i) => SERVER_START + i * 20_000),
      });
      for (let i = 0; i < count; i++) {
        const reading = READINGS[i % 4] as Reading;
        expect(result.status[i], reading).to.equal(
          reading === 'pressure' ? READ_UNAVAILABLE : READ_OK,
        );
        if (result.status[i] === READ_OK) expect(Number.isFinite(result.values[i])).to.equal(true);
      }
    });

    it('replays timed records at their own times, each holding until the next', () => {
      const text = [
        'time,tmin,tmax,prcp,pressure',
        '2026-11-26T13:20:00.750Z,0.2,3.8,0.0,1026.9',
        '2026-11-26T13:25:00Z,0.2,3.9,0.2,1026.7',
        '2026-11-26T13:35:00Z,0.1,3.9,0.4,1026.5',
      ].join('\n');
      const first = Date.parse('2026-11-26T13:20:00Z');
      const replay = source({ atEnd: 'stop' }, text);
      const at = (minutes: number) =>
        replay.observe('pressure', SERVER_START + minutes * MINUTE_MS);
      // observedAt is whole seconds on the wire: 13:20:00.750 is observed at 13:20:00.
      expect(at(0)).to.deep.equal({ value: 1026.9, observedAt: first });
      expect(at(4.9).value).to.equal(1026.9);
      expect(at(5).value).to.equal(1026.7);
      expect(at(15).value).to.equal(1026.5);
      // The last record holds as long as the one before it did (ten minutes), then the replay ends.
      expect(at(24.9).value).to.equal(1026.5);
      expectCode(() => at(25), 'ERR_READING_UNAVAILABLE');
    });

    it('gives the latest observation at or before the file time, whatever was asked before (property)', () => {
      const file = parseReplayCsv(THREE_DAYS);
      fc.assert(
        fc.property(
          fc.double({ min: 0.5, max: 100_000, noNaN: true }),
          fc.constantFrom<'loop' | 'stop'>('loop', 'stop'),
          fc.array(fc.integer({ min: -DAY_MS, max: 10 * DAY_MS }), { minLength: 1, maxLength: 20 }),
          (speed, atEnd, offsets) => {
            const options = { utcOffsetMinutes: PST, startMs: SERVER_START, speed, atEnd };
            const shared = new ReplaySource(file, options);
            for (const offset of offsets) {
              const t = SERVER_START + offset;
              const fresh = new ReplaySource(file, options);
              const answer = (replay: ReplaySource) => {
                const error = thrown(() => replay.observe('maxTemperature', t));
                return error ? (error as MeteoError).code : replay.observe('maxTemperature', t);
              };
              const mine = answer(shared);
              expect(mine).to.deep.equal(answer(fresh));
              if (typeof mine === 'string') continue;
              const fileMs = shared.fileTimeAt(t);
              expect(mine.observedAt).to.be.at.most(fileMs);
              expect(fileMs - mine.observedAt).to.be.below(DAY_MS);
            }
          },
        ),
        { numRuns: 200 },
      );
    });

    describe('checks its options up front (ERR_BAD_VALUE)', () => {
      const cases: [string, Partial<ReplayOptions>][] = [
        ['a speed of 0', { speed: 0 }],
        ['a negative speed', { speed: -2 }],
        ['a speed that is not a number', { speed: Number.NaN }],
        ['an infinite speed', { speed: Number.POSITIVE_INFINITY }],
        ['an unknown end', { atEnd: 'bounce' as 'loop' }],
        ['a start that is not a time', { startMs: Number.NaN }],
        ['an offset that is not whole minutes', { utcOffsetMinutes: 0.5 }],
        ['a file time before the first observation', { fromMs: END_OF_DAY_1 - 1 }],
        ['a file time after the end', { fromMs: END_OF_DAY_1 + 3 * DAY_MS }],
      ];
      for (const [what, options] of cases) {
        it(`refuses ${what}`, () => {
          expectCode(() => source(options), 'ERR_BAD_VALUE');
        });
      }

      it('refuses a file object with no records', () => {
        const empty: ReplayFile = { kind: 'daily', readings: [], records: [] };
        expectCode(
          () => new ReplaySource(empty, { utcOffsetMinutes: 0, startMs: 0 }),
          'ERR_BAD_VALUE',
        );
      });
    });
  });
});
