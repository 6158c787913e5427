/**
 * The simulated station (docs/SENSORS.md): the weather of lib/sensors/weather.ts,
 * a pure function of (seed, station, time), sampled once a minute as an
 * automatic station samples its sensors, and kept over the daily window.
 */
import type { Reading } from '../protocol.js';
import { hashSigned } from './noise.js';
import type { Station } from './station.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from './time.js';
import { STREAM, StationWeather } from './weather.js';

export { DAY_MS, HOUR_MS, MINUTE_MS } from './time.js';
export {
  PRESSURE_BAND_HPA,
  type RainEvent,
  StationWeather,
  type WeatherSample,
  weatherAt,
} from './weather.js';

/** The station samples every sensor once a minute, on the minute. */
export const SAMPLE_INTERVAL_MS = MINUTE_MS;
const SAMPLES_PER_DAY = DAY_MS / SAMPLE_INTERVAL_MS;

/** Resolution of the tipping-bucket rain gauge, mm. */
export const RAIN_GAUGE_STEP_MM = 0.2;

function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** One reading as the station reports it: the value and when it was observed (ms since the epoch). */
export interface Observation {
  readonly value: number;
  readonly observedAt: number;
}

/** Start of the daily window holding `timeMs`: local standard midnight at the station. */
export function dayStartOf(station: Station, timeMs: number): number {
  const offsetMs = station.utcOffsetMinutes * MINUTE_MS;
  return Math.floor((timeMs + offsetMs) / DAY_MS) * DAY_MS - offsetMs;
}

/**
 * One station day, filled sample by sample as far as it has been asked for:
 * the running minimum and maximum temperature and the rain accumulated since
 * local midnight. Each sample is computed once, so a read is O(1) on average.
 */
class StationDay {
  readonly minC = new Float64Array(SAMPLES_PER_DAY);
  readonly maxC = new Float64Array(SAMPLES_PER_DAY);
  readonly rainMm = new Float64Array(SAMPLES_PER_DAY);
  #filled = 0;

  constructor(
    readonly weather: StationWeather,
    readonly startMs: number,
  ) {}

  fillThrough(index: number): void {
    const { weather } = this;
    for (let i = this.#filled; i <= index; i++) {
      const sampleMs = this.startMs + i * SAMPLE_INTERVAL_MS;
      const rainRate = weather.rainRateAt(sampleMs);
      // The thermometer reads to 0.1 °C, with a little sensor noise.
      const t = roundTo(
        weather.temperatureAt(sampleMs, rainRate) +
          0.04 * hashSigned(weather.salt, STREAM.sensor, sampleMs / SAMPLE_INTERVAL_MS),
        1,
      );
      const rain = (rainRate * SAMPLE_INTERVAL_MS) / HOUR_MS;
      if (i === 0) {
        this.minC[0] = t;
        this.maxC[0] = t;
        this.rainMm[0] = rain;
      } else {
        this.minC[i] = Math.min(this.minC[i - 1] as number, t);
        this.maxC[i] = Math.max(this.maxC[i - 1] as number, t);
        this.rainMm[i] = (this.rainMm[i - 1] as number) + rain;
      }
    }
    this.#filled = Math.max(this.#filled, index + 1);
  }
}

/** Days kept per station: today, yesterday (a request near midnight), and one spare. */
const DAYS_KEPT = 3;

/**
 * The simulated sensors of one station. Deterministic given the seed, the
 * station and the clock: two instances with the same seed answer the same at
 * the same instant, whatever either was asked before.
 */
export class SimulatedStation {
  readonly #days = new Map<number, StationDay>();
  readonly #weather: StationWeather;

  /** Throws MeteoError ERR_BAD_VALUE for a station with a field out of range (checkStation). */
  constructor(
    readonly seed: number,
    readonly station: Station,
  ) {
    this.#weather = new StationWeather(seed, station);
  }

  /** The weather the station samples, for a tool that wants it unrounded. */
  get weather(): StationWeather {
    return this.#weather;
  }

  #day(startMs: number): StationDay {
    let day = this.#days.get(startMs);
    if (!day) {
      day = new StationDay(this.#weather, startMs);
      this.#days.set(startMs, day);
      if (this.#days.size > DAYS_KEPT) {
        const oldest = this.#days.keys().next().value as number;
        this.#days.delete(oldest);
      }
    }
    return day;
  }

  /**
   * The reading as of `timeMs`: from the latest sample at or before it.
   * Extremes and rainfall cover the window since local standard midnight.
   */
  observe(reading: Reading, timeMs: number): Observation {
    const observedAt = Math.floor(timeMs / SAMPLE_INTERVAL_MS) * SAMPLE_INTERVAL_MS;
    if (reading === 'pressure') {
      // The barometer reads to 0.1 hPa.
      return { value: roundTo(this.#weather.pressureAt(observedAt), 1), observedAt };
    }
    const startMs = dayStartOf(this.station, observedAt);
    const index = (observedAt - startMs) / SAMPLE_INTERVAL_MS;
    const day = this.#day(startMs);
    day.fillThrough(index);
    switch (reading) {
      case 'minTemperature':
        return { value: day.minC[index] as number, observedAt };
      case 'maxTemperature':
        return { value: day.maxC[index] as number, observedAt };
      case 'rainfall': {
        // The gauge counts whole tips of its bucket.
        const tips = Math.floor((day.rainMm[index] as number) / RAIN_GAUGE_STEP_MM + 1e-9);
        return { value: roundTo(tips * RAIN_GAUGE_STEP_MM, 1), observedAt };
      }
    }
  }
}
