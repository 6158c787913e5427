/** A weather station: where it is and the climate its model follows (docs/SENSORS.md §1). */
import { MeteoError } from '../errors.js';
import type { StationInfo } from '../protocol.js';

/**
 * The climate a simulated station follows. A station without one gets the
 * climate of its latitude and elevation (lib/sensors/climate.ts); one with
 * one overrides that, field by field for the optional fields.
 */
export interface Climate {
  /** Mean air temperature over the year, °C. */
  readonly meanC: number;
  /** Half the difference between the warmest and coldest days of the mean year, °C. */
  readonly seasonalAmplitudeC: number;
  /** Half the typical difference between the afternoon high and the dawn low, over the year, °C. */
  readonly diurnalAmplitudeC: number;
  /** Mean rainfall per day over the year, mm (water equivalent where it falls as snow). */
  readonly meanDailyRainMm: number;
  /**
   * How much the rain favours the winter half of the year, from -1 to 1:
   * rain is (1 + r) / (1 - r) times as likely in mid-winter as in mid-summer
   * (0.8, nine times, in Seattle); a negative value favours the summer (a
   * monsoon). 0, rain all year alike, when not given.
   */
  readonly rainSeasonality?: number;
  /**
   * Standard deviation of the temperature about its normal for the day and
   * hour, as air masses come and go, °C; from the latitude when not given.
   */
  readonly airMassSwingC?: number;
}

export interface Station extends StationInfo {
  /**
   * Offset of the station's local standard time from UTC, minutes. The daily
   * window of the extremes and of the rain gauge starts at local standard
   * midnight, as climate stations keep it all year (no daylight saving).
   */
  readonly utcOffsetMinutes: number;
  /** The climate the model follows; without it, the climate of the latitude (docs/SENSORS.md §1.2). */
  readonly climate?: Climate;
}

/**
 * The station the server serves unless told otherwise: Seattle, whose real
 * records lib/sensors/data/ holds. Its climate is the 1991–2020 normals of
 * Seattle–Tacoma airport, rounded: the zonal climate of 47.6° N would be
 * colder and drier in summer than this coast is.
 */
export const DEFAULT_STATION: Station = Object.freeze({
  id: 'seattle',
  name: 'Seattle, Washington (simulated)',
  latitude: 47.6062,
  longitude: -122.3321,
  elevation: 56,
  utcOffsetMinutes: -8 * 60,
  climate: Object.freeze({
    meanC: 11.6,
    seasonalAmplitudeC: 7.2,
    diurnalAmplitudeC: 4.2,
    meanDailyRainMm: 2.6,
    rainSeasonality: 0.8,
    airMassSwingC: 2.6,
  }),
});

/**
 * Simulated stations from the tropics to the poles, by id, for a server that
 * serves several and for the specs. All but Seattle and Reykjavik follow the
 * climate of their latitude (docs/SENSORS.md §1.2); Reykjavik, warmed by the
 * North Atlantic, is some 9 °C milder than its latitude and says so.
 */
export const STATIONS: Readonly<Record<string, Station>> = Object.freeze({
  seattle: DEFAULT_STATION,
  singapore: Object.freeze({
    id: 'singapore',
    name: 'Singapore (simulated)',
    latitude: 1.3521,
    longitude: 103.8198,
    elevation: 15,
    utcOffsetMinutes: 8 * 60,
  }),
  reykjavik: Object.freeze({
    id: 'reykjavik',
    name: 'Reykjavík, Iceland (simulated)',
    latitude: 64.1466,
    longitude: -21.9426,
    elevation: 52,
    utcOffsetMinutes: 0,
    climate: Object.freeze({
      meanC: 5.0,
      seasonalAmplitudeC: 6.0,
      diurnalAmplitudeC: 2.2,
      meanDailyRainMm: 2.4,
      rainSeasonality: 0.3,
      airMassSwingC: 2.8,
    }),
  }),
  melbourne: Object.freeze({
    id: 'melbourne',
    name: 'Melbourne, Australia (simulated)',
    latitude: -37.8136,
    longitude: 144.9631,
    elevation: 31,
    utcOffsetMinutes: 10 * 60,
  }),
  mcmurdo: Object.freeze({
    id: 'mcmurdo',
    name: 'McMurdo Station, Antarctica (simulated)',
    latitude: -77.846,
    longitude: 166.676,
    elevation: 24,
    utcOffsetMinutes: 12 * 60,
  }),
  'south-pole': Object.freeze({
    id: 'south-pole',
    name: 'Amundsen–Scott South Pole Station (simulated)',
    latitude: -90,
    longitude: 0,
    elevation: 2835,
    // The station keeps New Zealand time, as it is supplied from there.
    utcOffsetMinutes: 12 * 60,
  }),
});

function isFiniteIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

/**
 * Checks a station before any model runs on it, as config checks a flag:
 * throws MeteoError ERR_BAD_VALUE naming the station and the field.
 */
export function checkStation(station: Station): void {
  const problem = (field: string, rule: string): MeteoError =>
    new MeteoError(
      'ERR_BAD_VALUE',
      `station ${JSON.stringify(station.id)}: ${field} must be ${rule}`,
    );
  if (typeof station.id !== 'string' || station.id === '')
    throw problem('id', 'a non-empty string');
  if (!isFiniteIn(station.latitude, -90, 90)) throw problem('latitude', 'a number from -90 to 90');
  if (!isFiniteIn(station.longitude, -180, 180))
    throw problem('longitude', 'a number from -180 to 180');
  if (!isFiniteIn(station.elevation, -500, 9000))
    throw problem('elevation', 'a number of metres from -500 to 9000');
  if (
    !Number.isInteger(station.utcOffsetMinutes) ||
    !isFiniteIn(station.utcOffsetMinutes, -720, 840)
  )
    throw problem('utcOffsetMinutes', 'a whole number of minutes from -720 to 840');
  const { climate } = station;
  if (climate === undefined) return;
  if (!isFiniteIn(climate.meanC, -90, 60))
    throw problem('climate.meanC', 'a number from -90 to 60');
  const amounts = [
    ['seasonalAmplitudeC', climate.seasonalAmplitudeC, 40],
    ['diurnalAmplitudeC', climate.diurnalAmplitudeC, 20],
    ['meanDailyRainMm', climate.meanDailyRainMm, 40],
    ['airMassSwingC', climate.airMassSwingC ?? 0, 20],
  ] as const;
  for (const [field, value, max] of amounts) {
    if (!isFiniteIn(value, 0, max)) throw problem(`climate.${field}`, `a number from 0 to ${max}`);
  }
  if (!isFiniteIn(climate.rainSeasonality ?? 0, -1, 1))
    throw problem('climate.rainSeasonality', 'a number from -1 to 1');
}

/** What the handshake tells a client about a station. */
export function stationInfo(station: Station): StationInfo {
  const { id, name, latitude, longitude, elevation } = station;
  return { id, name, latitude, longitude, elevation };
}
