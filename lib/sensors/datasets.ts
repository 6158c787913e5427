/**
 * The observations that ship with meteo-actors, for `--source replay:`
 * (docs/SENSORS.md §5.6, lib/sensors/data/README.md). Only their places:
 * the server reads them.
 */
import type { Station } from './station.js';

/**
 * NOAA's daily record for Seattle, 2012–2015 (vega-datasets
 * `seattle-weather.csv`). Resolved from the compiled module,
 * dist/lib/sensors/datasets.js, to the file in the source tree, which the
 * build does not copy: run from dist/, as `npm start` does.
 */
export const SEATTLE_WEATHER_CSV_URL = new URL(
  '../../../lib/sensors/data/seattle-weather.csv',
  import.meta.url,
);

/**
 * The station the Seattle record describes, for the handshake. NOAA's
 * station is not named in the file; the place is Seattle's, the day is
 * Pacific standard time, and the climate is not needed, since nothing is
 * simulated.
 */
export const SEATTLE_RECORD_STATION: Station = Object.freeze({
  id: 'seattle-record',
  name: 'Seattle, Washington (NOAA daily record, 2012–2015)',
  latitude: 47.6062,
  longitude: -122.3321,
  elevation: 56,
  utcOffsetMinutes: -8 * 60,
});
