/** Units of time the station model counts in, and the day of the year. Pure. */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
/** The mean Gregorian year, days: the model's seasons repeat with it. */
export const MEAN_YEAR_DAYS = 365.2425;

/**
 * Day of the year of an instant, from 0 (1 January, 00:00 UTC) up to 365.2425.
 * Counted in mean years from 1970, so it drifts from the calendar by under a
 * day between leap years: nothing in the model depends on the exact date.
 */
export function dayOfYear(timeMs: number): number {
  const days = timeMs / DAY_MS;
  return days - Math.floor(days / MEAN_YEAR_DAYS) * MEAN_YEAR_DAYS;
}
