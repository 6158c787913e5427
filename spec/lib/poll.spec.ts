import { expect } from 'chai';
import fc from 'fast-check';
import {
  formatAnswer,
  formatPollJson,
  formatPollProblems,
  formatPollText,
  formatRawAnswer,
  formatUnavailable,
  formatWelcome,
  isComplete,
  type PollResult,
  type Problem,
  pollTime,
  unavailableReadings,
} from '../../lib/poll.js';
import {
  READING_UNITS,
  READINGS,
  type Reading,
  type ReadingReply,
  UNITS,
} from '../../lib/protocol.js';

const T0 = new Date('2026-11-26T13:05:00Z');

function replyFor(reading: Reading, value: number, observedAt = T0): ReadingReply {
  return {
    type: 'reading',
    id: 1,
    station: 'seattle',
    reading,
    value,
    unit: READING_UNITS[reading],
    observedAt,
  };
}

const FAILED: Problem = { code: 'ERR_SENSOR_FAILED', message: 'the barometer is wet' };

const COMPLETE: PollResult = {
  minTemperature: replyFor('minTemperature', 3.2),
  maxTemperature: replyFor('maxTemperature', 12),
  pressure: replyFor('pressure', 1013.2),
  rainfall: replyFor('rainfall', 0),
};

const JSON_KEYS = [
  'connection',
  'station',
  'time',
  'minTemperature',
  'maxTemperature',
  'pressure',
  'rainfall',
  'units',
] as const;

/** What a JSON line says of its poll besides the values. */
const ABOUT = { station: 'seattle', units: UNITS };

const UNAVAILABLE: Problem = {
  code: 'ERR_READING_UNAVAILABLE',
  message: 'this replay has no pressure: the file has no pressure column',
};

/** ISO 8601 in UTC as Date#toISOString writes it. */
const ISO_8601_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/** Any poll: each reading answered, failed, or missing. */
const pollArb: fc.Arbitrary<PollResult> = fc
  .tuple(
    ...READINGS.map((reading) =>
      fc.oneof(
        fc
          .record({
            value: fc.double({ noNaN: true, noDefaultInfinity: true }),
            seconds: fc.integer({ min: 0, max: 4_000_000_000 }),
          })
          .map(({ value, seconds }) => replyFor(reading, value, new Date(seconds * 1000))),
        fc.constant(FAILED),
        fc.constant(undefined),
      ),
    ),
  )
  .map((answers) => {
    const poll: Partial<Record<Reading, ReadingReply | Problem>> = {};
    READINGS.forEach((reading, i) => {
      const answer = answers[i];
      if (answer !== undefined) poll[reading] = answer;
    });
    return poll;
  });

describe('lib/poll', () => {
  describe('isComplete', () => {
    it('is true when all four readings have a reply', () => {
      expect(isComplete(COMPLETE)).to.equal(true);
    });

    it('is false when one reading failed', () => {
      expect(isComplete({ ...COMPLETE, pressure: FAILED })).to.equal(false);
    });

    it('is false when one reading is missing', () => {
      const { rainfall: _, ...threeOfFour } = COMPLETE;
      expect(isComplete(threeOfFour)).to.equal(false);
    });

    it('is false for an empty poll', () => {
      expect(isComplete({})).to.equal(false);
    });

    // Issue #16 item 9: the Seattle replay, which has no pressure, made every --count run exit 1.
    it('is true when a reading the source does not have (ERR_READING_UNAVAILABLE) is all that is missing', () => {
      expect(isComplete({ ...COMPLETE, pressure: UNAVAILABLE })).to.equal(true);
    });

    it('is false when a reading failed beside one the source does not have', () => {
      expect(isComplete({ ...COMPLETE, pressure: UNAVAILABLE, rainfall: FAILED })).to.equal(false);
    });
  });

  describe('pollTime', () => {
    it('is the latest observation time among the replies', () => {
      const later = new Date(T0.getTime() + 60_000);
      const poll = { ...COMPLETE, pressure: replyFor('pressure', 1000, later) };
      expect(pollTime(poll)).to.deep.equal(later);
    });

    it('ignores the readings that failed', () => {
      expect(pollTime({ rainfall: replyFor('rainfall', 0.2), pressure: FAILED })).to.deep.equal(T0);
    });

    it('is null when no reading has a reply', () => {
      expect(pollTime({ pressure: FAILED })).to.equal(null);
      expect(pollTime({})).to.equal(null);
    });
  });

  describe('formatPollJson', () => {
    const REPORTED_AT = new Date(Date.UTC(2026, 10, 26, 13, 7, 30));

    it('gives the time the poll was reported when it got no reading at all', () => {
      const json = JSON.parse(formatPollJson(1, { pressure: FAILED }, REPORTED_AT, ABOUT));
      expect(json.time).to.equal('2026-11-26T13:07:30.000Z');
      expect(json.pressure).to.equal(null);
    });

    it('has exactly the keys connection, station, time, the four readings and units, in that order', () => {
      expect(
        Object.keys(JSON.parse(formatPollJson(3, COMPLETE, REPORTED_AT, ABOUT))),
      ).to.deep.equal(JSON_KEYS);
    });

    it('stands alone: gives the connection, the station, the time, each value and the units', () => {
      expect(JSON.parse(formatPollJson(3, COMPLETE, REPORTED_AT, ABOUT))).to.deep.equal({
        connection: 3,
        station: 'seattle',
        time: '2026-11-26T13:05:00.000Z',
        minTemperature: 3.2,
        maxTemperature: 12,
        pressure: 1013.2,
        rainfall: 0,
        units: { temperature: '°C', pressure: 'hPa', rainfall: 'mm' },
      });
    });

    it('gives null, never a number, for a reading that failed or is missing', () => {
      const { rainfall: _, ...rest } = COMPLETE;
      const json = JSON.parse(formatPollJson(1, { ...rest, pressure: FAILED }, REPORTED_AT, ABOUT));
      expect(json.pressure).to.equal(null);
      expect(json.rainfall).to.equal(null);
      expect(json.minTemperature).to.equal(3.2);
    });

    it('keeps a rainfall of zero as 0, not null', () => {
      expect(JSON.parse(formatPollJson(1, COMPLETE, REPORTED_AT, ABOUT)).rainfall).to.equal(0);
    });

    it('has the same keys, ISO 8601 time and number-or-null values for any poll (property)', () => {
      fc.assert(
        fc.property(fc.nat(), pollArb, (connection, poll) => {
          const line = formatPollJson(connection, poll, REPORTED_AT, ABOUT);
          expect(line).not.to.include('\n');
          const json = JSON.parse(line);
          expect(Object.keys(json)).to.deep.equal(JSON_KEYS);
          expect(json.connection).to.equal(connection);
          expect(json.time).to.match(ISO_8601_UTC);
          for (const reading of READINGS) {
            const answer = poll[reading];
            const expected = answer && 'value' in answer ? answer.value : null;
            // JSON has no -0; it arrives as 0.
            expect(json[reading], reading).to.equal(expected === 0 ? 0 : expected);
          }
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('formatPollText', () => {
    it('shows the connection, the time to the second and each reading with its unit', () => {
      expect(formatPollText(2, COMPLETE)).to.equal(
        `[2] 2026-11-26T13:05:00Z  min 3.2 ${UNITS.temperature}  max 12.0 ${UNITS.temperature}` +
          `  pressure 1013.2 ${UNITS.pressure}  rain 0.0 ${UNITS.rainfall}`,
      );
    });

    it('shows a dash and the code for a reading that failed', () => {
      const text = formatPollText(1, { ...COMPLETE, pressure: FAILED });
      expect(text).to.include('pressure — (ERR_SENSOR_FAILED)');
      expect(text).not.to.include('hPa');
    });

    it('shows a dash for a reading that is missing', () => {
      const { rainfall: _, ...rest } = COMPLETE;
      expect(formatPollText(1, rest)).to.match(/ rain — \(\w+\)$/);
    });

    it('says there is no observation when no reading has a reply', () => {
      expect(formatPollText(4, {})).to.match(/^\[4\] no observation /);
    });

    it('shows every value with one decimal', () => {
      const text = formatPollText(1, {
        ...COMPLETE,
        maxTemperature: replyFor('maxTemperature', -3),
      });
      expect(text).to.include('max -3.0 °C');
    });
  });

  describe('formatAnswer and formatRawAnswer (get)', () => {
    it('shows one reading with its unit, or a dash and the code; the raw form, the number or -', () => {
      expect(formatAnswer('pressure', COMPLETE.pressure)).to.equal('pressure 1013.2 hPa');
      expect(formatAnswer('pressure', UNAVAILABLE)).to.equal(
        'pressure — (ERR_READING_UNAVAILABLE)',
      );
      expect(formatRawAnswer(COMPLETE.pressure)).to.equal('1013.2');
      expect(formatRawAnswer(COMPLETE.pressure, 'us')).to.equal('29.92');
      expect(formatRawAnswer(FAILED)).to.equal('-');
    });

    it('gives a JSON line only the readings asked for, in the usual order', () => {
      const json = JSON.parse(
        formatPollJson(1, COMPLETE, T0, ABOUT, ['rainfall', 'minTemperature']),
      );
      expect(Object.keys(json)).to.deep.equal([
        'connection',
        'station',
        'time',
        'minTemperature',
        'rainfall',
        'units',
      ]);
    });
  });

  describe('formatPollProblems', () => {
    it('is null for a complete poll', () => {
      expect(formatPollProblems(1, COMPLETE)).to.equal(null);
    });

    it('is null when only readings the source does not have are missing', () => {
      expect(formatPollProblems(1, { ...COMPLETE, pressure: UNAVAILABLE })).to.equal(null);
    });

    it('lists each reading without a reply with its code and message', () => {
      const { rainfall: _, ...rest } = COMPLETE;
      const line = formatPollProblems(5, { ...rest, pressure: FAILED });
      expect(line).to.match(/^\[5\] incomplete poll: /);
      expect(line).to.include('pressure ERR_SENSOR_FAILED (the barometer is wet)');
      expect(line).to.include('rainfall ');
      expect(line).not.to.include('minTemperature');
    });
  });

  describe('unavailableReadings and formatUnavailable', () => {
    it('names the readings the source does not have, and says why in one line', () => {
      const poll = { ...COMPLETE, pressure: UNAVAILABLE, rainfall: FAILED };
      expect(unavailableReadings(poll)).to.deep.equal(['pressure']);
      const line = formatUnavailable(2, 'pressure', poll);
      expect(line).to.match(/^\[2\] no pressure from this station: ERR_READING_UNAVAILABLE /);
      expect(line).to.include(UNAVAILABLE.message);
    });
  });

  describe('formatWelcome', () => {
    const welcome = {
      type: 'welcome',
      version: 1,
      server: 'meteo-actors/0.1.0',
      station: {
        id: 'seattle',
        name: 'Seattle',
        latitude: 47.6062,
        longitude: -122.3321,
        elevation: 56,
      },
      units: UNITS,
      stations: [
        {
          id: 'seattle',
          name: 'Seattle',
          latitude: 47.6062,
          longitude: -122.3321,
          elevation: 56,
        },
      ],
    } as const;

    it('names the server, the protocol version and where the station is', () => {
      expect(formatWelcome(1, welcome, false)).to.equal(
        '[1] connected to meteo-actors/0.1.0 (protocol 1), station Seattle (seattle) at 47.6062, -122.3321, 56 m',
      );
    });

    it('says reconnected after the first connection', () => {
      expect(formatWelcome(1, welcome, true)).to.match(/^\[1\] reconnected to /);
    });
  });
});
