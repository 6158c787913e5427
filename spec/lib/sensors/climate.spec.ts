import { expect } from 'chai';
import fc from 'fast-check';
import { MeteoError } from '../../../lib/errors.js';
import { climateOf, zonalClimate } from '../../../lib/sensors/climate.js';
import {
  type Climate,
  checkStation,
  DEFAULT_STATION,
  STATIONS,
  type Station,
} from '../../../lib/sensors/station.js';
import { declination, solarHour, sunDay } from '../../../lib/sensors/sun.js';
import { DAY_MS, dayOfYear, HOUR_MS } from '../../../lib/sensors/time.js';

const DEG = Math.PI / 180;
const SEATTLE_CLIMATE = DEFAULT_STATION.climate as Climate;

describe('lib/sensors/time and sun', () => {
  it('counts the day of the year from 1 January, within a day of the calendar, round the year', () => {
    // Distance round the year, so that 365.1 and 0.1 are near.
    const offBy = (day: number, calendarDay: number): number => {
      const d = Math.abs(day - calendarDay) % 365.2425;
      return Math.min(d, 365.2425 - d);
    };
    const cases: [number, number][] = [
      [Date.UTC(2026, 0, 1, 12), 0.5],
      [Date.UTC(2026, 6, 2), 182],
      [Date.UTC(2026, 11, 31, 23), 364.96],
      [Date.UTC(2024, 11, 31, 12), 365.5],
      [Date.UTC(1969, 6, 2), 182],
    ];
    for (const [timeMs, calendarDay] of cases) {
      const day = dayOfYear(timeMs);
      expect(day).to.be.at.least(0).and.below(365.2425);
      expect(offBy(day, calendarDay), new Date(timeMs).toISOString()).to.be.below(1);
    }
  });

  it('gives solar time from the longitude: noon at Greenwich is 04:00 at 120° W', () => {
    const noonUtc = Date.UTC(2026, 2, 1, 12);
    expect(solarHour(noonUtc, 0)).to.equal(12);
    expect(solarHour(noonUtc, -120)).to.equal(4);
    expect(solarHour(noonUtc, 180)).to.equal(0);
    expect(solarHour(noonUtc + 30 * HOUR_MS, 45)).to.equal(21);
  });

  it('tilts the sun 23.44° south at the December solstice and north at the June one', () => {
    expect(declination(355) / DEG).to.be.closeTo(-23.44, 0.1);
    expect(declination(172) / DEG).to.be.closeTo(23.44, 0.1);
    expect(declination(80) / DEG).to.be.closeTo(0, 1);
  });

  it('gives twelve hours of day at the equinox, polar night and midnight sun at the poles', () => {
    expect(sunDay(40, 80).sunrise).to.be.closeTo(6, 0.1);
    expect(sunDay(80, 355)).to.include({ insolation: 0, sunrise: 12 });
    expect(sunDay(80, 172).sunrise).to.equal(0);
    expect(sunDay(-90, 172).insolation).to.equal(0);
    expect(sunDay(-90, 355).insolation).to.be.above(sunDay(0, 355).insolation);
  });

  it('lets the sun climb through the day at the equator, not at the pole', () => {
    expect(sunDay(0, 80).elevationRange).to.be.closeTo(1, 0.01);
    expect(sunDay(90, 172).elevationRange).to.be.closeTo(0, 1e-9);
    expect(sunDay(47.6, 172).elevationRange).to.be.above(sunDay(47.6, 355).elevationRange);
  });

  it('keeps insolation finite and non-negative at every latitude and day (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -90, max: 90, noNaN: true }),
        fc.double({ min: 0, max: 366, noNaN: true }),
        (latitude, day) => {
          const sun = sunDay(latitude, day);
          expect(sun.insolation).to.be.at.least(0).and.below(0.6);
          expect(sun.sunrise).to.be.within(0, 12);
          expect(sun.elevationRange).to.be.within(0, 1 + 1e-12);
        },
      ),
    );
  });

  it('takes DAY_MS as 86,400,000 ms', () => {
    expect(DAY_MS).to.equal(86_400_000);
  });
});

describe('lib/sensors/climate', () => {
  it('keeps the explicit climate of the default Seattle station', () => {
    const climate = climateOf(DEFAULT_STATION);
    expect(climate).to.include({
      meanC: 11.6,
      seasonalAmplitudeC: 7.2,
      diurnalAmplitudeC: 4.2,
      meanDailyRainMm: 2.6,
      rainSeasonality: 0.8,
      airMassSwingC: 2.6,
    });
  });

  it('derives a climate from the latitude for a station without one: warm and wet at the equator, cold and dry at the poles', () => {
    const equator = zonalClimate(0, 0);
    const north = zonalClimate(90, 0);
    const south = zonalClimate(-90, 0);
    expect(equator.meanC).to.be.above(25);
    expect(equator.seasonalAmplitudeC).to.be.below(2);
    expect(equator.meanDailyRainMm).to.be.above(5);
    expect(north.meanC).to.be.below(-15);
    expect(south.meanC).to.be.below(north.meanC);
    expect(south.meanDailyRainMm).to.be.below(0.5);
    expect(zonalClimate(45, 0).seasonalAmplitudeC).to.be.above(
      zonalClimate(-45, 0).seasonalAmplitudeC,
    );
  });

  it('cools a derived climate by 6.5 °C per kilometre of elevation', () => {
    expect(zonalClimate(-90, 0).meanC - zonalClimate(-90, 2835).meanC).to.be.closeTo(18.4, 0.05);
  });

  it('puts the South Pole near its real annual mean (−49.5 °C) and Singapore near its (27.6 °C)', () => {
    expect(climateOf(STATIONS['south-pole'] as Station).meanC).to.be.closeTo(-49.5, 1.5);
    expect(climateOf(STATIONS['singapore'] as Station).meanC).to.be.closeTo(27.6, 1.5);
  });

  it('takes the optional fields of a climate from the latitude when the climate leaves them out', () => {
    const station: Station = {
      ...DEFAULT_STATION,
      climate: { meanC: 10, seasonalAmplitudeC: 5, diurnalAmplitudeC: 3, meanDailyRainMm: 1 },
    };
    const climate = climateOf(station);
    expect(climate.meanC).to.equal(10);
    expect(climate.rainSeasonality).to.equal(0);
    expect(climate.airMassSwingC).to.equal(zonalClimate(DEFAULT_STATION.latitude, 0).airMassSwingC);
  });

  it('makes the pressure swing with fronts most under the storm tracks, and the tide most in the tropics', () => {
    const at = (latitude: number) =>
      climateOf({ ...DEFAULT_STATION, latitude, climate: undefined });
    expect(at(55).stormAmplitudeHpa).to.be.above(3 * at(5).stormAmplitudeHpa);
    expect(at(0).tideAmplitudeHpa).to.be.closeTo(1.3, 1e-9);
    expect(at(-90).tideAmplitudeHpa).to.be.closeTo(0, 1e-9);
  });
});

describe('lib/sensors/station checkStation', () => {
  it('accepts every station that ships', () => {
    for (const station of Object.values(STATIONS)) checkStation(station);
  });

  const broken: [string, Partial<Station>][] = [
    ['an empty id', { id: '' }],
    ['a latitude past the pole', { latitude: 91 }],
    ['a longitude that is not a number', { longitude: Number.NaN }],
    ['an elevation in space', { elevation: 100_000 }],
    ['an offset that is not whole minutes', { utcOffsetMinutes: 30.5 }],
    ['an offset past UTC+14', { utcOffsetMinutes: 15 * 60 }],
    ['negative rain', { climate: { ...SEATTLE_CLIMATE, meanDailyRainMm: -1 } }],
    ['an infinite mean', { climate: { ...SEATTLE_CLIMATE, meanC: Infinity } }],
    ['a seasonality past 1', { climate: { ...SEATTLE_CLIMATE, rainSeasonality: 2 } }],
  ];
  for (const [what, change] of broken) {
    it(`refuses ${what} with ERR_BAD_VALUE`, () => {
      let error: unknown;
      try {
        checkStation({ ...DEFAULT_STATION, ...change });
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(MeteoError);
      expect((error as MeteoError).code).to.equal('ERR_BAD_VALUE');
    });
  }
});
