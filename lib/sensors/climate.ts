/**
 * The climate a simulated station follows (docs/SENSORS.md §1.2): its own
 * Climate where it gives one, else the zonal climate of its latitude, rough
 * means over all longitudes read off the usual climatologies, with the
 * temperature lowered 6.5 °C per km of elevation. Pure.
 */
import type { Climate, Station } from './station.js';

/** Everything the weather model needs to know about a station's climate. */
export interface ResolvedClimate extends Required<Climate> {
  /** Mean sea-level pressure over the year, hPa. */
  readonly meanPressureHpa: number;
  /** Swing of the pressure as fronts pass, hPa: small in the tropics, large under the storm tracks. */
  readonly stormAmplitudeHpa: number;
  /** The twice-daily atmospheric tide, hPa: over a hectopascal in the tropics, nothing at the poles. */
  readonly tideAmplitudeHpa: number;
  /** Share of the rain that falls in showers rather than in long rain, 0 to 1. */
  readonly showerShare: number;
  /** How strongly showers favour the afternoon, 0 (any hour) to 1 (few at dawn). */
  readonly afternoonShowers: number;
}

/** Temperature lapse rate of the standard atmosphere, °C per metre. */
const LAPSE_RATE_C_PER_M = 0.0065;

/**
 * Zonal climatology, one value every 10° of latitude from the equator (index
 * 0) to the pole (index 9), for each hemisphere. The south is milder in its
 * seasons (mostly ocean) until Antarctica, which is colder than the Arctic.
 */
interface Zone {
  readonly meanC: readonly number[];
  readonly seasonalAmplitudeC: readonly number[];
  readonly diurnalAmplitudeC: readonly number[];
  readonly meanDailyRainMm: readonly number[];
  readonly airMassSwingC: readonly number[];
  readonly meanPressureHpa: readonly number[];
  readonly stormAmplitudeHpa: readonly number[];
}

//                       0°     10°    20°    30°    40°    50°    60°    70°    80°    90°
const NORTH: Zone = {
  meanC: [27.0, 26.8, 25.0, 19.5, 13.5, 6.5, 0.0, -8.5, -17.0, -20.0],
  seasonalAmplitudeC: [1.0, 2.0, 4.5, 8.0, 11.0, 13.5, 15.0, 15.0, 14.0, 13.5],
  diurnalAmplitudeC: [3.5, 4.5, 5.5, 6.0, 5.5, 4.5, 3.5, 2.5, 1.0, 0.3],
  meanDailyRainMm: [6.0, 5.0, 2.6, 2.0, 2.5, 2.3, 1.8, 1.0, 0.5, 0.3],
  airMassSwingC: [0.8, 0.9, 1.2, 2.0, 3.0, 3.5, 4.0, 4.5, 4.5, 4.5],
  meanPressureHpa: [1010, 1011, 1014, 1017, 1016, 1013, 1009, 1012, 1014, 1015],
  stormAmplitudeHpa: [2.0, 2.5, 4.0, 8.0, 14.0, 18.0, 20.0, 16.0, 12.0, 10.0],
};

const SOUTH: Zone = {
  meanC: [27.0, 25.8, 23.0, 18.5, 13.5, 7.0, 0.0, -11.0, -20.0, -31.0],
  seasonalAmplitudeC: [1.0, 2.0, 3.5, 5.0, 5.0, 4.0, 5.0, 9.5, 12.5, 16.0],
  diurnalAmplitudeC: [3.5, 4.0, 4.5, 5.0, 4.5, 3.0, 2.0, 2.0, 1.5, 0.0],
  meanDailyRainMm: [6.0, 4.5, 2.5, 2.0, 2.6, 3.0, 2.2, 0.8, 0.3, 0.05],
  airMassSwingC: [0.8, 0.9, 1.2, 2.0, 2.5, 2.2, 2.5, 4.0, 5.0, 5.5],
  meanPressureHpa: [1010, 1012, 1015, 1018, 1014, 1004, 990, 988, 995, 1005],
  stormAmplitudeHpa: [2.0, 2.5, 4.0, 8.0, 15.0, 20.0, 20.0, 14.0, 11.0, 9.0],
};

/** Both hemispheres: tropical rain is nearly all showers, mostly in the afternoon; polar, fronts. */
const SHOWER_SHARE = [0.9, 0.85, 0.75, 0.5, 0.35, 0.3, 0.25, 0.15, 0.1, 0.1];
const AFTERNOON_SHOWERS = [0.9, 0.85, 0.75, 0.6, 0.5, 0.4, 0.3, 0.15, 0.05, 0];

/** The value of a 10°-step table at a latitude, linearly between its rows. */
function atLatitude(table: readonly number[], latitude: number): number {
  const x = Math.min(9, Math.abs(latitude) / 10);
  const i = Math.min(8, Math.floor(x));
  const low = table[i] as number;
  const high = table[i + 1] as number;
  return low + (high - low) * (x - i);
}

/** The climate of a latitude and elevation, as a station without a Climate of its own gets it. */
export function zonalClimate(latitude: number, elevationM: number): Required<Climate> {
  const zone = latitude < 0 ? SOUTH : NORTH;
  return {
    meanC: atLatitude(zone.meanC, latitude) - LAPSE_RATE_C_PER_M * elevationM,
    seasonalAmplitudeC: atLatitude(zone.seasonalAmplitudeC, latitude),
    diurnalAmplitudeC: atLatitude(zone.diurnalAmplitudeC, latitude),
    meanDailyRainMm: atLatitude(zone.meanDailyRainMm, latitude),
    rainSeasonality: 0,
    airMassSwingC: atLatitude(zone.airMassSwingC, latitude),
  };
}

/** The station's climate: its own Climate over the zonal one, and what only the latitude gives. */
export function climateOf(station: Station): ResolvedClimate {
  const { latitude } = station;
  const zone = latitude < 0 ? SOUTH : NORTH;
  const cosLatitude = Math.cos((latitude * Math.PI) / 180);
  return {
    ...zonalClimate(latitude, station.elevation),
    ...definedFields(station.climate),
    meanPressureHpa: atLatitude(zone.meanPressureHpa, latitude),
    stormAmplitudeHpa: atLatitude(zone.stormAmplitudeHpa, latitude),
    tideAmplitudeHpa: 1.3 * cosLatitude ** 3,
    showerShare: atLatitude(SHOWER_SHARE, latitude),
    afternoonShowers: atLatitude(AFTERNOON_SHOWERS, latitude),
  };
}

/** A climate's fields that are there, so an optional field left out keeps the zonal value. */
function definedFields(climate: Climate | undefined): Partial<Climate> {
  if (!climate) return {};
  return Object.fromEntries(Object.entries(climate).filter(([, value]) => value !== undefined));
}
