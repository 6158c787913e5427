/**
 * The sun as a station sees it (docs/SENSORS.md §3.1): declination, day
 * length and daily insolation from the day of the year and the latitude.
 * Textbook spherical astronomy, to a degree or so; pure.
 */
import { HOUR_MS, MEAN_YEAR_DAYS } from './time.js';

const DEG = Math.PI / 180;
/** Tilt of the Earth's axis. */
const OBLIQUITY = 23.44 * DEG;
/** Days from 1 January back to the December solstice (about 21 December). */
const DAYS_AFTER_DECEMBER_SOLSTICE = 10;
/** Day of the year of perihelion (about 3 January), when the sun is nearest. */
const PERIHELION_DAY = 2;

/** Solar time at a longitude, hours from 0 up to 24: 12 is noon, when the sun is highest. */
export function solarHour(timeMs: number, longitude: number): number {
  const hours = timeMs / HOUR_MS + longitude / 15;
  return hours - Math.floor(hours / 24) * 24;
}

/** The sun's declination on a day of the year, radians: -23.44° at the December solstice. */
export function declination(day: number): number {
  return (
    -OBLIQUITY * Math.cos((2 * Math.PI * (day + DAYS_AFTER_DECEMBER_SOLSTICE)) / MEAN_YEAR_DAYS)
  );
}

/** What one day of sun is at a latitude. */
export interface SunDay {
  /** Mean insolation over the day at the top of the atmosphere, as a share of the solar constant. */
  readonly insolation: number;
  /** Solar hour of sunrise; 12 in polar night, 0 under the midnight sun. */
  readonly sunrise: number;
  /**
   * How far the sun climbs through the day: the sine of its elevation at noon
   * less that at midnight, each counted from the horizon up (0 to 1). Zero at
   * the poles, where the sun circles at one height all day.
   */
  readonly elevationRange: number;
}

export function sunDay(latitude: number, day: number): SunDay {
  const phi = latitude * DEG;
  const delta = declination(day);
  const distance = 1 + 0.033 * Math.cos((2 * Math.PI * (day - PERIHELION_DAY)) / MEAN_YEAR_DAYS);
  // Hour angle of sunset: 0 in polar night, pi under the midnight sun.
  const cosSunset = Math.min(1, Math.max(-1, -Math.tan(phi) * Math.tan(delta)));
  const sunset = Math.acos(cosSunset);
  const insolation =
    (distance / Math.PI) *
    (sunset * Math.sin(phi) * Math.sin(delta) + Math.cos(phi) * Math.cos(delta) * Math.sin(sunset));
  const noon = Math.cos(phi - delta);
  const midnight = -Math.cos(phi + delta);
  return {
    insolation: Math.max(0, insolation),
    sunrise: 12 - (12 * sunset) / Math.PI,
    elevationRange: Math.max(0, noon) - Math.max(0, midnight),
  };
}
