/**
 * The simulated station (docs/SENSORS.md): a weather model that is a pure
 * function of (seed, station, time), sampled once a minute as an automatic
 * station samples its sensors.
 */
import type { Reading } from '../protocol.js';
import { hashSigned, smoothNoise } from './noise.js';
import type { Station } from './station.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
/** The station samples every sensor once a minute, on the minute. */
export const SAMPLE_INTERVAL_MS = MINUTE_MS;
const SAMPLES_PER_DAY = DAY_MS / SAMPLE_INTERVAL_MS;
const MEAN_YEAR_DAYS = 365.2425;

/** Mean sea-level pressure band the model keeps to, hPa (docs/SENSORS.md §3). */
export const PRESSURE_BAND_HPA = Object.freeze({ min: 950, max: 1050 });
/** Resolution of the tipping-bucket rain gauge, mm. */
export const RAIN_GAUGE_STEP_MM = 0.2;

// Independent noise streams, so that changing one feature leaves the others alone.
const STREAM = Object.freeze({
  front: 1,
  wave: 2,
  airMass: 3,
  gust: 4,
  shower: 5,
  sensor: 6,
});

/** Hours ahead the rain looks at the pressure: rain falls as a low approaches, so pressure falls first. */
const FRONT_LEAD_MS = 8 * HOUR_MS;
/** Wetness above which it rains, and the exponent that makes heavy rain rarer than light. */
const RAIN_THRESHOLD = 0.38;
const RAIN_EXPONENT = 1.5;
/**
 * Mean of max(0, wetness - threshold)^exponent per hour over many simulated
 * years (measured by spec/lib/sensors/model.spec.ts), so that rain intensity
 * scales to each station's mean daily rainfall.
 */
const MEAN_RAIN_EXCESS = 0.0342;

export interface WeatherSample {
  /** Air temperature, °C. */
  readonly temperatureC: number;
  /** Mean sea-level pressure, hPa. */
  readonly pressureHpa: number;
  /** Rain rate, mm per hour. */
  readonly rainRateMmPerHour: number;
}

function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** -1 at dawn (06:00 local), +1 mid-afternoon (15:00), the slow fall through the night. */
function diurnalShape(localHour: number): number {
  if (localHour >= 6 && localHour < 15) return -Math.cos((Math.PI * (localHour - 6)) / 9);
  const sinceHigh = localHour >= 15 ? localHour - 15 : localHour + 9;
  return Math.cos((Math.PI * sinceHigh) / 15);
}

/**
 * The weather at one instant. Continuous in time; the station reads it at its
 * sample times and rounds as its instruments do.
 */
export function weatherAt(seed: number, station: Station, timeMs: number): WeatherSample {
  const { climate } = station;
  const front = smoothNoise(seed, STREAM.front, timeMs, 30 * HOUR_MS);
  const pressureHpa =
    1013 +
    18 * front +
    3.5 * smoothNoise(seed, STREAM.wave, timeMs, 7 * HOUR_MS) +
    0.25 * smoothNoise(seed, STREAM.gust, timeMs, 40 * MINUTE_MS);

  const approachingLow = -smoothNoise(seed, STREAM.front, timeMs + FRONT_LEAD_MS, 30 * HOUR_MS);
  const wetness =
    0.75 * approachingLow + 0.5 * smoothNoise(seed, STREAM.shower, timeMs, 150 * MINUTE_MS);
  const excess = Math.max(0, wetness - RAIN_THRESHOLD);
  const rainRateMmPerHour =
    excess === 0 ? 0 : (climate.meanDailyRainMm / 24 / MEAN_RAIN_EXCESS) * excess ** RAIN_EXPONENT;

  const days = timeMs / DAY_MS;
  // Coldest about 20 days after the solstice; the southern hemisphere is half a year out.
  const season =
    -Math.cos((2 * Math.PI * (days - 355 - 20)) / MEAN_YEAR_DAYS) *
    Math.sign(station.latitude || 1);
  const localHour =
    ((((timeMs + station.utcOffsetMinutes * MINUTE_MS) % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  // Cloud ahead of rain flattens the daily cycle; rain itself cools the air.
  const cloud = Math.min(1, Math.max(0, (wetness - RAIN_THRESHOLD + 0.3) / 0.6));
  const temperatureC =
    climate.meanC +
    climate.seasonalAmplitudeC * season +
    climate.diurnalAmplitudeC * (1 - 0.6 * cloud) * diurnalShape(localHour) +
    2.5 * smoothNoise(seed, STREAM.airMass, timeMs, 9 * HOUR_MS) +
    0.5 * smoothNoise(seed, STREAM.gust, timeMs, 50 * MINUTE_MS) -
    1.5 * Math.min(1, rainRateMmPerHour / 2);

  return {
    temperatureC,
    pressureHpa: Math.min(PRESSURE_BAND_HPA.max, Math.max(PRESSURE_BAND_HPA.min, pressureHpa)),
    rainRateMmPerHour,
  };
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
    readonly seed: number,
    readonly station: Station,
    readonly startMs: number,
  ) {}

  fillThrough(index: number): void {
    for (let i = this.#filled; i <= index; i++) {
      const sampleMs = this.startMs + i * SAMPLE_INTERVAL_MS;
      const weather = weatherAt(this.seed, this.station, sampleMs);
      // The thermometer reads to 0.1 °C, with a little sensor noise.
      const t = roundTo(
        weather.temperatureC +
          0.04 * hashSigned(this.seed, STREAM.sensor, sampleMs / SAMPLE_INTERVAL_MS),
        1,
      );
      const rain = (weather.rainRateMmPerHour * SAMPLE_INTERVAL_MS) / HOUR_MS;
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
 * The simulated sensors of one station. Deterministic given the seed and the
 * clock: two instances with the same seed answer the same at the same instant.
 */
export class SimulatedStation {
  readonly #days = new Map<number, StationDay>();

  constructor(
    readonly seed: number,
    readonly station: Station,
  ) {}

  #day(startMs: number): StationDay {
    let day = this.#days.get(startMs);
    if (!day) {
      day = new StationDay(this.seed, this.station, startMs);
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
      return {
        value: roundTo(weatherAt(this.seed, this.station, observedAt).pressureHpa, 1),
        observedAt,
      };
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
