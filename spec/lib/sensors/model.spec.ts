import { expect } from 'chai';
import fc from 'fast-check';
import { READINGS, type Reading } from '../../../lib/protocol.js';
import {
  DAY_MS,
  dayStartOf,
  HOUR_MS,
  MINUTE_MS,
  type Observation,
  PRESSURE_BAND_HPA,
  RAIN_GAUGE_STEP_MM,
  SimulatedStation,
  weatherAt,
} from '../../../lib/sensors/model.js';
import { DEFAULT_STATION, type Station } from '../../../lib/sensors/station.js';

type Readings = Record<Reading, Observation>;

function observeAll(sensors: SimulatedStation, timeMs: number): Readings {
  const out = {} as Readings;
  for (const reading of READINGS) out[reading] = sensors.observe(reading, timeMs);
  return out;
}

/** True when `value` is exactly the double a station rounding to 0.1 would print. */
function isTenth(value: number): boolean {
  return Number.isFinite(value) && value === Math.round(value * 10) / 10;
}

function isGaugeMultiple(value: number): boolean {
  const tips = value / RAIN_GAUGE_STEP_MM;
  return Math.abs(tips - Math.round(tips)) < 1e-9;
}

const seedArb = fc.integer({ min: 0, max: 0xffff_ffff });
/** Any instant from 1990 to 2100, to the millisecond. */
const timeArb = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2100, 0, 1) });

/** Stations anywhere: any offset from UTC (not only whole hours), either hemisphere, dry to wet. */
const stationArb: fc.Arbitrary<Station> = fc.oneof(
  fc.constant(DEFAULT_STATION),
  fc
    .record({
      utcOffsetMinutes: fc.integer({ min: -12 * 60, max: 14 * 60 }),
      latitude: fc.double({ min: -90, max: 90, noNaN: true }),
      meanC: fc.double({ min: -20, max: 30, noNaN: true }),
      seasonalAmplitudeC: fc.double({ min: 0, max: 20, noNaN: true }),
      diurnalAmplitudeC: fc.double({ min: 0, max: 10, noNaN: true }),
      meanDailyRainMm: fc.double({ min: 0, max: 15, noNaN: true }),
    })
    .map(({ utcOffsetMinutes, latitude, ...climate }) => ({
      ...DEFAULT_STATION,
      id: 'somewhere',
      latitude,
      utcOffsetMinutes,
      climate,
    })),
);

/**
 * What is wrong with the readings of one instant, or undefined. Plain comparisons rather than
 * chai, since the day walks below check this about a hundred thousand times.
 */
function problemWith(at: Readings, timeMs: number): string | undefined {
  const { minTemperature, maxTemperature, pressure, rainfall } = at;
  for (const reading of READINGS) {
    const { value, observedAt } = at[reading];
    if (!isTenth(value)) return `${reading} ${value} is not finite and rounded to 0.1`;
    if (observedAt % MINUTE_MS !== 0) return `${reading} observed off the minute (${observedAt})`;
    if (observedAt > timeMs) return `${reading} observed after the time asked`;
    if (observedAt <= timeMs - MINUTE_MS) return `${reading} observed before the minute asked`;
  }
  if (!(minTemperature.value <= maxTemperature.value))
    return `min ${minTemperature.value} above max ${maxTemperature.value}`;
  if (!(pressure.value >= PRESSURE_BAND_HPA.min && pressure.value <= PRESSURE_BAND_HPA.max))
    return `pressure ${pressure.value} outside the band`;
  if (!(rainfall.value >= 0)) return `rainfall ${rainfall.value} below zero`;
  if (!isGaugeMultiple(rainfall.value)) return `rainfall ${rainfall.value} is not whole tips`;
  return undefined;
}

/** What breaks the running extremes and the gauge from one minute to the next in one window. */
function problemWithinWindow(previous: Readings, now: Readings): string | undefined {
  if (now.rainfall.value < previous.rainfall.value) return 'rainfall fell back within a day';
  if (now.minTemperature.value > previous.minTemperature.value) return 'min rose within a day';
  if (now.maxTemperature.value < previous.maxTemperature.value) return 'max fell within a day';
  return undefined;
}

describe('lib/sensors/model', () => {
  describe('dayStartOf', () => {
    it("starts Seattle's day at local standard midnight, 08:00 UTC", () => {
      expect(dayStartOf(DEFAULT_STATION, Date.parse('2026-11-26T13:05:00Z'))).to.equal(
        Date.parse('2026-11-26T08:00:00Z'),
      );
      expect(dayStartOf(DEFAULT_STATION, Date.parse('2026-11-26T07:59:59.999Z'))).to.equal(
        Date.parse('2026-11-25T08:00:00Z'),
      );
      expect(dayStartOf(DEFAULT_STATION, Date.parse('2026-11-26T08:00:00Z'))).to.equal(
        Date.parse('2026-11-26T08:00:00Z'),
      );
    });

    it('keeps standard time all year: the window does not move in summer', () => {
      expect(dayStartOf(DEFAULT_STATION, Date.parse('2026-07-01T12:00:00Z'))).to.equal(
        Date.parse('2026-07-01T08:00:00Z'),
      );
    });

    it('gives the local midnight at or before any time, for any offset (property)', () => {
      fc.assert(
        fc.property(stationArb, timeArb, (station, timeMs) => {
          const start = dayStartOf(station, timeMs);
          expect(start).to.be.at.most(timeMs);
          expect(timeMs - start).to.be.below(DAY_MS);
          const localMs = start + station.utcOffsetMinutes * MINUTE_MS;
          expect(((localMs % DAY_MS) + DAY_MS) % DAY_MS).to.equal(0);
        }),
        { numRuns: 1000 },
      );
    });
  });

  describe('SimulatedStation', () => {
    it('gives finite values rounded to 0.1, in range, observed on the minute at or before the time asked (property)', () => {
      fc.assert(
        fc.property(seedArb, stationArb, timeArb, (seed, station, timeMs) => {
          const at = observeAll(new SimulatedStation(seed, station), timeMs);
          expect(problemWith(at, timeMs), JSON.stringify(at)).to.equal(undefined);
        }),
        { numRuns: 300 },
      );
    });

    it('gives the same readings at any time within one minute', () => {
      fc.assert(
        fc.property(seedArb, timeArb, fc.integer({ min: 0, max: MINUTE_MS - 1 }), (seed, t, ms) => {
          const minute = Math.floor(t / MINUTE_MS) * MINUTE_MS;
          const sensors = new SimulatedStation(seed, DEFAULT_STATION);
          expect(observeAll(sensors, minute + ms)).to.deep.equal(observeAll(sensors, minute));
        }),
        { numRuns: 200 },
      );
    });

    describe('through whole days, minute by minute', () => {
      // Across all runs: how many windows began after a day that ended with rain in the gauge.
      let resetsAfterRain = 0;

      it('keeps every daily invariant and resets at local midnight (property)', function () {
        // A hundred station-days, walked minute by minute: well under a second, but not 2 s on a busy machine.
        this.timeout(10_000);
        fc.assert(
          fc.property(seedArb, stationArb, timeArb, (seed, station, timeMs) => {
            const sensors = new SimulatedStation(seed, station);
            const windowStart = dayStartOf(station, timeMs);
            // From an hour before one local midnight to an hour after the next.
            let previous: Readings | undefined;
            for (
              let t = windowStart - HOUR_MS;
              t <= windowStart + DAY_MS + HOUR_MS;
              t += MINUTE_MS
            ) {
              const now = observeAll(sensors, t);
              const at = `at ${new Date(t).toISOString()}`;
              const startsWindow = dayStartOf(station, t) === t;
              const problem =
                problemWith(now, t) ??
                (previous && !startsWindow ? problemWithinWindow(previous, now) : undefined);
              if (problem !== undefined) expect.fail(`${problem} ${at}`);
              if (startsWindow) {
                // A new window holds one sample: its extremes agree, its gauge holds one minute.
                expect(now.minTemperature.value, at).to.equal(now.maxTemperature.value);
                const minuteOfRain = weatherAt(seed, station, t).rainRateMmPerHour / 60;
                expect(now.rainfall.value, at).to.be.at.most(minuteOfRain + 1e-9);
                if (previous && previous.rainfall.value > 0) resetsAfterRain++;
              }
              previous = now;
            }
          }),
          { numRuns: 100 },
        );
        // Otherwise the reset checks above would have passed without rain to reset.
        expect(resetsAfterRain).to.be.above(0);
      });
    });

    it('agrees with another instance of the same seed at the same instant (property)', () => {
      fc.assert(
        fc.property(
          seedArb,
          stationArb,
          fc.array(timeArb, { minLength: 1, maxLength: 5 }),
          (seed, station, times) => {
            const a = new SimulatedStation(seed, station);
            const b = new SimulatedStation(seed, station);
            // b is asked in the opposite order, so its cache fills differently.
            const fromA = times.map((t) => observeAll(a, t));
            const fromB = [...times]
              .reverse()
              .map((t) => observeAll(b, t))
              .reverse();
            expect(fromA).to.deep.equal(fromB);
          },
        ),
        { numRuns: 100 },
      );
    });

    it('answers as a fresh instance would, whatever was asked before (property)', () => {
      // Near times share cached days; far ones evict them. Either way the answer may not change.
      const query = fc.record({
        reading: fc.constantFrom(...READINGS),
        offsetMs: fc.oneof(
          fc.integer({ min: -2 * DAY_MS, max: 2 * DAY_MS }),
          fc.integer({ min: -400 * DAY_MS, max: 400 * DAY_MS }),
        ),
      });
      fc.assert(
        fc.property(
          seedArb,
          timeArb,
          fc.array(query, { minLength: 1, maxLength: 12 }),
          (seed, base, queries) => {
            const shared = new SimulatedStation(seed, DEFAULT_STATION);
            for (const { reading, offsetMs } of queries) {
              const t = base + offsetMs;
              expect(shared.observe(reading, t)).to.deep.equal(
                new SimulatedStation(seed, DEFAULT_STATION).observe(reading, t),
              );
            }
          },
        ),
        { numRuns: 25 },
      );
    });

    it('differs somewhere between two seeds', () => {
      fc.assert(
        fc.property(seedArb, seedArb, timeArb, (seedA, seedB, timeMs) => {
          fc.pre(seedA !== seedB);
          const a = new SimulatedStation(seedA, DEFAULT_STATION);
          const b = new SimulatedStation(seedB, DEFAULT_STATION);
          const times = Array.from({ length: 24 }, (_, hour) => timeMs + hour * HOUR_MS);
          const differs = times.some(
            (t) => a.observe('pressure', t).value !== b.observe('pressure', t).value,
          );
          expect(differs).to.equal(true);
        }),
        { numRuns: 50 },
      );
    });

    it('has the seasons of its hemisphere', () => {
      // Mean of the daily extremes at mid-winter and mid-summer, over a few seeds.
      const south: Station = { ...DEFAULT_STATION, latitude: -DEFAULT_STATION.latitude };
      const meanAt = (station: Station, iso: string): number => {
        let sum = 0;
        for (let seed = 1; seed <= 4; seed++) {
          const sensors = new SimulatedStation(seed, station);
          const t = dayStartOf(station, Date.parse(iso)) + DAY_MS - MINUTE_MS;
          sum +=
            sensors.observe('maxTemperature', t).value + sensors.observe('minTemperature', t).value;
        }
        return sum / 8;
      };
      expect(meanAt(DEFAULT_STATION, '2026-07-20T12:00:00Z')).to.be.above(
        meanAt(DEFAULT_STATION, '2026-01-20T12:00:00Z'),
      );
      expect(meanAt(south, '2026-01-20T12:00:00Z')).to.be.above(
        meanAt(south, '2026-07-20T12:00:00Z'),
      );
    });
  });

  describe('weatherAt', () => {
    it('keeps pressure within the band and rain never negative (property)', () => {
      fc.assert(
        fc.property(seedArb, stationArb, timeArb, (seed, station, timeMs) => {
          const { temperatureC, pressureHpa, rainRateMmPerHour } = weatherAt(seed, station, timeMs);
          expect(Number.isFinite(temperatureC)).to.equal(true);
          expect(pressureHpa).to.be.within(PRESSURE_BAND_HPA.min, PRESSURE_BAND_HPA.max);
          expect(rainRateMmPerHour).to.be.at.least(0);
        }),
        { numRuns: 2000 },
      );
    });

    it('never rains at a station whose climate is dry', () => {
      const desert: Station = {
        ...DEFAULT_STATION,
        climate: { ...DEFAULT_STATION.climate, meanDailyRainMm: 0 },
      };
      const sensors = new SimulatedStation(7, desert);
      const end = dayStartOf(desert, Date.UTC(2026, 0, 1)) + DAY_MS - MINUTE_MS;
      expect(sensors.observe('rainfall', end).value).to.equal(0);
    });
  });

  describe('calibration', () => {
    it('rains on average within 30% of the climate mean per day (measures MEAN_RAIN_EXCESS)', function () {
      // Whole days are costly (1,440 samples each): three seeds, two years each.
      this.timeout(30_000);
      const seeds = [1, 2, 3];
      const days = 2 * 365;
      const firstDay = dayStartOf(DEFAULT_STATION, Date.UTC(2024, 0, 1));
      let totalMm = 0;
      for (const seed of seeds) {
        const sensors = new SimulatedStation(seed, DEFAULT_STATION);
        for (let day = 0; day < days; day++) {
          // The gauge just before local midnight holds the whole day's rain.
          totalMm += sensors.observe('rainfall', firstDay + (day + 1) * DAY_MS - MINUTE_MS).value;
        }
      }
      const meanMm = totalMm / (seeds.length * days);
      const target = DEFAULT_STATION.climate.meanDailyRainMm;
      expect(meanMm, `mean ${meanMm.toFixed(3)} mm/day`).to.be.within(0.7 * target, 1.3 * target);
    });
  });
});
