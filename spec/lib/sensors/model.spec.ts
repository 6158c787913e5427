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
import {
  type Climate,
  DEFAULT_STATION,
  STATIONS,
  type Station,
} from '../../../lib/sensors/station.js';

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

/** A fixed seed per station id, so that each shipped station walks weather of its own. */
function hashSeed(id: string): number {
  return [...id].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
}

const seedArb = fc.integer({ min: 0, max: 0xffff_ffff });
/** Any instant from 1990 to 2100, to the millisecond. */
const timeArb = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2100, 0, 1) });

/**
 * Stations anywhere: any offset from UTC (not only whole hours), any longitude, either hemisphere,
 * with a climate of their own (dry to wet, with or without the optional fields) or that of their
 * latitude and elevation; and the stations that ship, tropics to poles.
 */
const stationArb: fc.Arbitrary<Station> = fc.oneof(
  fc.constantFrom(...Object.values(STATIONS)),
  fc
    .record(
      {
        utcOffsetMinutes: fc.integer({ min: -12 * 60, max: 14 * 60 }),
        latitude: fc.double({ min: -90, max: 90, noNaN: true }),
        longitude: fc.double({ min: -180, max: 180, noNaN: true }),
        elevation: fc.double({ min: 0, max: 4000, noNaN: true }),
        climate: fc.option(
          fc.record(
            {
              meanC: fc.double({ min: -20, max: 30, noNaN: true }),
              seasonalAmplitudeC: fc.double({ min: 0, max: 20, noNaN: true }),
              diurnalAmplitudeC: fc.double({ min: 0, max: 10, noNaN: true }),
              meanDailyRainMm: fc.double({ min: 0, max: 15, noNaN: true }),
              rainSeasonality: fc.double({ min: -1, max: 1, noNaN: true }),
              airMassSwingC: fc.double({ min: 0, max: 8, noNaN: true }),
            },
            {
              requiredKeys: ['meanC', 'seasonalAmplitudeC', 'diurnalAmplitudeC', 'meanDailyRainMm'],
            },
          ),
          { nil: undefined },
        ),
      },
      { requiredKeys: ['utcOffsetMinutes', 'latitude', 'longitude', 'elevation'] },
    )
    .map(
      (place): Station => ({
        ...place,
        id: 'somewhere',
        name: 'Somewhere (simulated)',
      }),
    ),
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
        climate: { ...(DEFAULT_STATION.climate as Climate), meanDailyRainMm: 0 },
      };
      const sensors = new SimulatedStation(7, desert);
      const end = dayStartOf(desert, Date.UTC(2026, 0, 1)) + DAY_MS - MINUTE_MS;
      expect(sensors.observe('rainfall', end).value).to.equal(0);
    });
  });

  describe('stations from the tropics to the poles, over years', () => {
    /**
     * Plausible bounds of each shipped station's temperatures: a little past the records of the
     * real place (Singapore 19.0 to 37.0 °C; Seattle −18 to 42.2; Reykjavík −24.5 to 25.9;
     * Melbourne −2.8 to 46.8; McMurdo −50.2 to 10.6; South Pole −82.8 to −12.3), and past
     * Vostok's −89.2 for the pole, since the model's pole is the plateau's.
     */
    const BOUNDS: Readonly<Record<string, { readonly lowC: number; readonly highC: number }>> = {
      singapore: { lowC: 16, highC: 38 },
      seattle: { lowC: -20, highC: 42 },
      reykjavik: { lowC: -27, highC: 27 },
      melbourne: { lowC: -6, highC: 47 },
      mcmurdo: { lowC: -55, highC: 12 },
      'south-pole': { lowC: -90, highC: -10 },
    };
    const YEARS = 2;
    /** Seattle walks three seeds, for the rain calibration; the others one each. */
    const seedsOf = (id: string): number[] => (id === 'seattle' ? [1, 2, 3] : [hashSeed(id)]);

    interface Walk {
      lowestC: number;
      highestC: number;
      lowestHpa: number;
      highestHpa: number;
      /** Mean of the daily (min + max) / 2 in each month, by the month of the local day. */
      monthMeanC: number[];
      meanDailyRainMm: number;
      /** The first problem met, if any: what broke, and when. */
      problem: string | undefined;
    }
    const walks = new Map<string, Walk>();

    before(function () {
      // Each station-day is 1,440 samples: 16 station-years, a few seconds on a busy machine.
      this.timeout(60_000);
      for (const station of Object.values(STATIONS)) walks.set(station.id, walk(station));
    });

    /**
     * Walks YEARS years from 2024 day by day, reading every hour: each reading in its band, the
     * extremes and the gauge running the right way within each window, min <= max throughout.
     */
    function walk(station: Station): Walk {
      const result: Walk = {
        lowestC: Number.POSITIVE_INFINITY,
        highestC: Number.NEGATIVE_INFINITY,
        lowestHpa: Number.POSITIVE_INFINITY,
        highestHpa: Number.NEGATIVE_INFINITY,
        monthMeanC: [],
        meanDailyRainMm: 0,
        problem: undefined,
      };
      const monthSums = new Array<number>(12).fill(0);
      const monthDays = new Array<number>(12).fill(0);
      const seeds = seedsOf(station.id);
      const firstDay = dayStartOf(station, Date.UTC(2024, 0, 1, 12));
      const days = Math.round(YEARS * 365.25);
      let rainMm = 0;
      for (const seed of seeds) {
        const sensors = new SimulatedStation(seed, station);
        for (let day = 0; day < days && result.problem === undefined; day++) {
          const start = firstDay + day * DAY_MS;
          let previous: Readings | undefined;
          for (let hour = 1; hour <= 24; hour++) {
            // The last read of a window is its last minute, 23:59 local.
            const t = start + hour * HOUR_MS - MINUTE_MS;
            const now = observeAll(sensors, t);
            const problem =
              problemWith(now, t) ?? (previous ? problemWithinWindow(previous, now) : undefined);
            if (problem !== undefined) {
              result.problem = `${problem} at ${new Date(t).toISOString()} (seed ${seed})`;
              break;
            }
            result.lowestHpa = Math.min(result.lowestHpa, now.pressure.value);
            result.highestHpa = Math.max(result.highestHpa, now.pressure.value);
            previous = now;
          }
          if (!previous) break;
          result.lowestC = Math.min(result.lowestC, previous.minTemperature.value);
          result.highestC = Math.max(result.highestC, previous.maxTemperature.value);
          rainMm += previous.rainfall.value;
          const month = new Date(start + station.utcOffsetMinutes * MINUTE_MS).getUTCMonth();
          monthSums[month] =
            (monthSums[month] as number) +
            (previous.minTemperature.value + previous.maxTemperature.value) / 2;
          monthDays[month] = (monthDays[month] as number) + 1;
        }
      }
      result.monthMeanC = monthSums.map((sum, month) => sum / (monthDays[month] as number));
      result.meanDailyRainMm = rainMm / (seeds.length * days);
      return result;
    }

    for (const station of Object.values(STATIONS)) {
      const bounds = BOUNDS[station.id] as { lowC: number; highC: number };
      it(`keeps ${station.id}'s readings in their bands, hour by hour, for ${YEARS} years`, () => {
        const result = walks.get(station.id) as Walk;
        expect(result.problem).to.equal(undefined);
        expect(result.lowestC, 'lowest minimum').to.be.at.least(bounds.lowC);
        expect(result.highestC, 'highest maximum').to.be.at.most(bounds.highC);
        expect(result.lowestHpa).to.be.at.least(PRESSURE_BAND_HPA.min);
        expect(result.highestHpa).to.be.at.most(PRESSURE_BAND_HPA.max);
      });
    }

    it('has the seasons of each hemisphere the right way round, and hardly any on the equator', () => {
      const january = (id: string) => (walks.get(id) as Walk).monthMeanC[0] as number;
      const july = (id: string) => (walks.get(id) as Walk).monthMeanC[6] as number;
      for (const id of ['seattle', 'reykjavik']) expect(july(id) - january(id), id).to.be.above(8);
      for (const id of ['melbourne', 'mcmurdo', 'south-pole'])
        expect(january(id) - july(id), id).to.be.above(8);
      expect(Math.abs(january('singapore') - july('singapore'))).to.be.below(3);
    });

    it('gives the pole a coreless winter: flat from April to September, not a trough', () => {
      const months = (walks.get('south-pole') as Walk).monthMeanC;
      const winter = months.slice(3, 9);
      // Six months of dark within a few degrees of each other, against a 30-degree year.
      expect(Math.max(...winter) - Math.min(...winter)).to.be.below(12);
      expect(Math.max(...months) - Math.min(...months)).to.be.above(25);
    });

    it("rains on average within 15% of each climate's mean per day (the calibration)", () => {
      // Not the poles: a few tips of the gauge a month are too few to measure a mean by.
      for (const id of ['seattle', 'singapore', 'reykjavik', 'melbourne']) {
        const station = STATIONS[id] as Station;
        const target = new SimulatedStation(1, station).weather.climate.meanDailyRainMm;
        const { meanDailyRainMm } = walks.get(id) as Walk;
        expect(meanDailyRainMm, `${id}: mean ${meanDailyRainMm.toFixed(2)} mm a day`).to.be.within(
          0.85 * target,
          1.15 * target,
        );
      }
    });

    it('rains more in winter where the climate says so (Seattle)', () => {
      // Seattle's rainSeasonality of 0.8: the wettest month is December, not July.
      const sensors = new SimulatedStation(5, DEFAULT_STATION);
      const rainIn = (month: number): number => {
        let total = 0;
        for (let year = 2024; year < 2027; year++) {
          const first = dayStartOf(DEFAULT_STATION, Date.UTC(year, month, 1, 12));
          for (let day = 0; day < 28; day++)
            total += sensors.observe('rainfall', first + (day + 1) * DAY_MS - MINUTE_MS).value;
        }
        return total;
      };
      expect(rainIn(11)).to.be.above(3 * rainIn(6));
    });
  });

  describe('rain events and pressure', () => {
    /**
     * A rain event, as a person at the station would count it: rain starting after at least
     * DRY_SPELL without any, seen in the rain rate every STEP. Pressure "falls before" an event
     * when its mean over the FALL_WINDOW before the start is above the pressure at the start.
     */
    const STEP = 10 * MINUTE_MS;
    const DRY_SPELL = 3 * HOUR_MS;
    const FALL_WINDOW = 6 * HOUR_MS;

    function rainEvents(seed: number, station: Station, years: number) {
      const from = Date.UTC(2025, 0, 1);
      const steps = Math.round((years * 365 * DAY_MS) / STEP);
      const window = FALL_WINDOW / STEP;
      const pressures: number[] = [];
      let dry = 0;
      let pressureSum = 0;
      const starts: { pressure: number; meanBefore: number }[] = [];
      for (let i = 0; i < steps; i++) {
        const { pressureHpa, rainRateMmPerHour } = weatherAt(seed, station, from + i * STEP);
        pressureSum += pressureHpa;
        if (rainRateMmPerHour > 0) {
          if (dry * STEP >= DRY_SPELL && pressures.length >= window) {
            const before = pressures.slice(-window);
            starts.push({
              pressure: pressureHpa,
              meanBefore: before.reduce((sum, p) => sum + p, 0) / window,
            });
          }
          dry = 0;
        } else {
          dry++;
        }
        pressures.push(pressureHpa);
        if (pressures.length > window) pressures.shift();
      }
      return { starts, meanPressure: pressureSum / steps };
    }

    for (const station of Object.values(STATIONS)) {
      it(`lets the pressure fall before most of ${station.id}'s rain events, and rains at low pressure`, () => {
        const { starts, meanPressure } = rainEvents(hashSeed(station.id), station, 2);
        // Even the South Pole's dusting of snow comes in a dozen events a year.
        expect(starts.length).to.be.at.least(10);
        const falling = starts.filter(({ pressure, meanBefore }) => meanBefore > pressure).length;
        expect(falling / starts.length, `${falling} of ${starts.length}`).to.be.at.least(0.6);
        const atStart = starts.reduce((sum, { pressure }) => sum + pressure, 0) / starts.length;
        expect(atStart).to.be.below(meanPressure);
      });
    }

    it('rains in showers and in long rain, each as long as it should be', () => {
      const weather = new SimulatedStation(3, DEFAULT_STATION).weather;
      const events = weather.rainEventsBetween(Date.UTC(2025, 0, 1), Date.UTC(2026, 0, 1));
      const hours = (kind: string) =>
        events
          .filter((event) => event.kind === kind)
          .map((event) => (event.endMs - event.startMs) / HOUR_MS);
      const showers = hours('shower');
      const longRain = hours('long rain');
      expect(showers.length).to.be.above(30);
      expect(longRain.length).to.be.above(30);
      expect(Math.max(...showers)).to.be.at.most(100 / 60);
      expect(Math.min(...longRain)).to.be.at.least(3);
      for (const event of events) expect(event.peakMmPerHour).to.be.above(0);
    });

    it('gives two stations of one seed weather of their own', () => {
      const elsewhere: Station = { ...DEFAULT_STATION, id: 'seattle-2' };
      const t = Date.UTC(2026, 2, 1);
      const series = (station: Station) =>
        Array.from(
          { length: 48 },
          (_, hour) => weatherAt(9, station, t + hour * HOUR_MS).pressureHpa,
        );
      expect(series(elsewhere)).not.to.deep.equal(series(DEFAULT_STATION));
    });
  });
});
