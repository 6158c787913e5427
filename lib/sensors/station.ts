/** A weather station: where it is and the climate its model follows (docs/SENSORS.md §1). */
import type { StationInfo } from '../protocol.js';

export interface Climate {
  /** Mean air temperature over the year, °C. */
  readonly meanC: number;
  /** Half the difference between the warmest and coldest month means, °C. */
  readonly seasonalAmplitudeC: number;
  /** Half the typical difference between the afternoon high and the dawn low, °C. */
  readonly diurnalAmplitudeC: number;
  /** Mean rainfall per day over the year, mm. */
  readonly meanDailyRainMm: number;
}

export interface Station extends StationInfo {
  /**
   * Offset of the station's local standard time from UTC, minutes. The daily
   * window of the extremes and of the rain gauge starts at local standard
   * midnight, as climate stations keep it all year (no daylight saving).
   */
  readonly utcOffsetMinutes: number;
  readonly climate: Climate;
}

/** The station the server serves unless told otherwise: Seattle, whose real records bench/ and issue #5 replay. */
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
  }),
});

/** What the handshake tells a client about a station. */
export function stationInfo(station: Station): StationInfo {
  const { id, name, latitude, longitude, elevation } = station;
  return { id, name, latitude, longitude, elevation };
}
