/**
 * The weather at a simulated station (docs/SENSORS.md §3): temperature,
 * pressure and rain as continuous functions of (seed, station, time). The
 * station (lib/sensors/model.ts) samples them once a minute and rounds them
 * as its instruments do. Pure: the objects here keep caches, never state.
 */
import { climateOf, type ResolvedClimate } from './climate.js';
import { hashString, hashUnit, NoiseTrack, smoothNoise } from './noise.js';
import { checkStation, type Station } from './station.js';
import { solarHour, sunDay } from './sun.js';
import { DAY_MS, dayOfYear, HOUR_MS, MEAN_YEAR_DAYS, MINUTE_MS } from './time.js';

/** Mean sea-level pressure band the model keeps to, hPa (docs/SENSORS.md §3.3). */
export const PRESSURE_BAND_HPA = Object.freeze({ min: 950, max: 1050 });

/**
 * Independent noise streams, so that changing one feature leaves the others
 * alone. `sensor` is the thermometer's own noise, added by the station.
 */
export const STREAM = Object.freeze({
  front: 1,
  wave: 2,
  airMass: 3,
  gust: 4,
  pressureGust: 5,
  sensor: 6,
  rainOccurs: 7,
  rainStart: 8,
  rainLength: 9,
  rainAmount: 10,
  rainBurst: 11,
  spell: 12,
});

// ---------------------------------------------------------------- fronts

/** Fronts: knots of the front noise this far apart, so a low passes every two or three days. */
const FRONT_PERIOD_MS = 30 * HOUR_MS;
/** Cloud thickens this far ahead of a low. */
const CLOUD_LEAD_MS = 6 * HOUR_MS;
/** Rain answers to how far the pressure has fallen over this long before it starts. */
const FALL_WINDOW_MS = 6 * HOUR_MS;
/**
 * Air masses: a day-to-day swing, and slower spells (heat waves, cold snaps)
 * whose noise is cubed, so that most days sit near the normal and a few
 * stray far from it, as they do.
 */
const AIR_MASS_PERIOD_MS = 20 * HOUR_MS;
const SPELL_PERIOD_MS = 4 * DAY_MS;

/** The air-mass anomaly in units of its own size, before NOISE_STATISTICS scales it to a standard deviation of 1. */
function airMassAnomaly(airMass: number, spell: number, front: number, frontAhead: number): number {
  // Warm ahead of a low (the warm sector), cold behind it.
  return 0.5 * airMass + spell * spell * spell + 0.5 * (front - frontAhead);
}

/** A faster wave rides on the fronts, this share of their swing. */
const WAVE_PERIOD_MS = 7 * HOUR_MS;
const WAVE_SHARE = 0.2;

// ---------------------------------------------------------------- rain

/** Rain events are drawn per slot of this length: at most one of each kind starts in a slot. */
const SLOT_MS = 3 * HOUR_MS;

/**
 * The two kinds of rain (docs/SENSORS.md §3.4). Each kind has its length,
 * its mean amount at a temperate station, and how strongly it answers to low
 * pressure and to pressure falling: the chance of an event starting is
 * proportional to exp(lowWeight × how low + fallWeight × how far it fell in
 * the last FALL_WINDOW_MS), both in units of the station's front swing, so
 * rain comes as a low arrives.
 */
interface RainKind {
  readonly name: RainEvent['kind'];
  readonly minMs: number;
  readonly maxMs: number;
  readonly meanAmountMm: number;
  readonly lowWeight: number;
  readonly fallWeight: number;
  /** Mean of the event's shape over its length, so amount = peak × length × shapeMean. */
  readonly shapeMean: number;
}

/** Long rain: hours of steady rain as a front goes over, with a ramp at each end. */
const LONG_RAIN_RAMP = 0.15;
const LONG_RAIN: RainKind = {
  name: 'long rain',
  minMs: 3 * HOUR_MS,
  maxMs: 14 * HOUR_MS,
  meanAmountMm: 6,
  lowWeight: 1.5,
  fallWeight: 4,
  shapeMean: 1 - LONG_RAIN_RAMP,
};

/** Showers: a burst of a quarter of an hour to a hour and a half, swelling and dying away (sin²). */
const SHOWER: RainKind = {
  name: 'shower',
  minMs: 15 * MINUTE_MS,
  maxMs: 100 * MINUTE_MS,
  meanAmountMm: 2.5,
  lowWeight: 1,
  fallWeight: 2,
  shapeMean: 0.5,
};

const RAIN_KINDS = [LONG_RAIN, SHOWER] as const;
const LONGEST_RAIN_MS = Math.max(...RAIN_KINDS.map((kind) => kind.maxMs));

/** An event's amount is exponential about its mean, cut at this many means (a 1-in-3,000 storm). */
const MAX_AMOUNT_MEANS = 8;
/** Mean of min(X, MAX_AMOUNT_MEANS) for X exponential of mean 1. */
const CUT_EXPONENTIAL_MEAN = 1 - Math.exp(-MAX_AMOUNT_MEANS);

/** One rain event: when it falls and how hard at its peak. */
export interface RainEvent {
  readonly kind: 'long rain' | 'shower';
  readonly startMs: number;
  readonly endMs: number;
  /** Rain rate at the top of the event's shape, mm per hour. */
  readonly peakMmPerHour: number;
}

// ---------------------------------------------------------------- calibration

/**
 * Means over time of what the noise drives, measured once when the module
 * loads (a few milliseconds), so that a change to a weight keeps rain
 * calibrated to the climate without a constant to update: for each rain
 * kind, the mean of its front factor and of its wave factor (independent
 * streams, so the mean of the product is the product of the means), and the
 * mean cloud cover.
 */
const NOISE_STATISTICS = (() => {
  const samples = 20_000;
  // Any seed: the statistics are those of the noise, not of one seed. A step
  // that is no simple fraction of the knot periods samples every phase.
  const seed = 0x5eed_f00d;
  const stepMs = 7.77 * HOUR_MS;
  const front = RAIN_KINDS.map(() => 0);
  const wave = RAIN_KINDS.map(() => 0);
  let cloud = 0;
  let airMassSquares = 0;
  for (let i = 0; i < samples; i++) {
    const t = i * stepMs;
    const now = smoothNoise(seed, STREAM.front, t, FRONT_PERIOD_MS);
    const before = smoothNoise(seed, STREAM.front, t - FALL_WINDOW_MS, FRONT_PERIOD_MS);
    const ahead = smoothNoise(seed, STREAM.front, t + CLOUD_LEAD_MS, FRONT_PERIOD_MS);
    const waveFall =
      WAVE_SHARE *
      (smoothNoise(seed, STREAM.wave, t - FALL_WINDOW_MS, WAVE_PERIOD_MS) -
        smoothNoise(seed, STREAM.wave, t, WAVE_PERIOD_MS));
    RAIN_KINDS.forEach((kind, k) => {
      front[k] =
        (front[k] as number) + Math.exp(kind.lowWeight * -now + kind.fallWeight * (before - now));
      wave[k] = (wave[k] as number) + Math.exp(kind.fallWeight * waveFall);
    });
    cloud += cloudCover(ahead, 0);
    airMassSquares +=
      airMassAnomaly(
        smoothNoise(seed, STREAM.airMass, t, AIR_MASS_PERIOD_MS),
        smoothNoise(seed, STREAM.spell, t, SPELL_PERIOD_MS),
        now,
        ahead,
      ) ** 2;
  }
  return {
    meanFrontFactor: front.map((sum) => sum / samples),
    meanWaveFactor: wave.map((sum) => sum / samples),
    meanCloud: cloud / samples,
    airMassScale: 1 / Math.sqrt(airMassSquares / samples),
  };
})();

/** Cloud cover, 0 to 1: thick as a low approaches, full in rain. */
function cloudCover(frontAhead: number, rainRateMmPerHour: number): number {
  const cover = Math.min(1, Math.max(0, 0.45 - 0.6 * frontAhead));
  return rainRateMmPerHour > 0 ? Math.max(cover, 0.9) : cover;
}

// ---------------------------------------------------------------- seasons

/** The year as a table of this many days, read between rows. */
const TABLE_DAYS = 365;
/** How slowly the air follows the sun, days: it makes the coldest day a month after the solstice. */
const SEASON_LAG_DAYS = 30;
/** Dawn and afternoon warmth from the sun alone, on top of which the weather's share of the daily range rides. */
const DIURNAL_BASE = 0.15;
/** Hour (solar) of the afternoon high. */
const AFTERNOON_HIGH = 15;

interface SeasonTables {
  /** Seasonal temperature, as a share of the seasonal amplitude: mean 0, half-range 1. */
  readonly season: Float64Array;
  /** Daily range of the day, as a share of the year's mean daily range. */
  readonly diurnalScale: Float64Array;
  /** Solar hour of the dawn low. */
  readonly dawn: Float64Array;
}

/**
 * The sun's year at a latitude, turned into the shapes temperature follows.
 * The seasonal curve is the daily insolation, lagged by a first-order
 * response (SEASON_LAG_DAYS): sinusoidal at mid-latitudes, flat-bottomed in
 * the polar night (the "coreless winter" of Antarctica), twice-yearly and
 * faint at the equator.
 */
function seasonTables(latitude: number): SeasonTables {
  const stepDays = MEAN_YEAR_DAYS / TABLE_DAYS;
  const insolation = new Float64Array(TABLE_DAYS);
  const diurnalScale = new Float64Array(TABLE_DAYS);
  const dawn = new Float64Array(TABLE_DAYS);
  for (let i = 0; i < TABLE_DAYS; i++) {
    const sun = sunDay(latitude, i * stepDays);
    insolation[i] = sun.insolation;
    diurnalScale[i] = DIURNAL_BASE + sun.elevationRange;
    // Polar day and night have no sunrise; keep the daily shape between 03:30 and 08:30.
    dawn[i] = Math.min(8.5, Math.max(3.5, sun.sunrise));
  }
  const meanScale = diurnalScale.reduce((sum, value) => sum + value, 0) / TABLE_DAYS;
  for (let i = 0; i < TABLE_DAYS; i++) diurnalScale[i] = (diurnalScale[i] as number) / meanScale;

  // Three years of the lagged response, from the annual mean, forget where they started.
  const season = new Float64Array(TABLE_DAYS);
  let response = insolation.reduce((sum, value) => sum + value, 0) / TABLE_DAYS;
  for (let year = 0; year < 3; year++) {
    for (let i = 0; i < TABLE_DAYS; i++) {
      response += (((insolation[i] as number) - response) * stepDays) / SEASON_LAG_DAYS;
      season[i] = response;
    }
  }
  const mean = season.reduce((sum, value) => sum + value, 0) / TABLE_DAYS;
  const halfRange = (Math.max(...season) - Math.min(...season)) / 2;
  for (let i = 0; i < TABLE_DAYS; i++) {
    season[i] = halfRange > 0 ? ((season[i] as number) - mean) / halfRange : 0;
  }
  return { season, diurnalScale, dawn };
}

/** A table's value on a day of the year, linearly between its rows, round the end of the year. */
function tableAt(table: Float64Array, day: number): number {
  const x = (day * TABLE_DAYS) / MEAN_YEAR_DAYS;
  const i = Math.floor(x) % TABLE_DAYS;
  const low = table[i] as number;
  const high = table[(i + 1) % TABLE_DAYS] as number;
  return low + (high - low) * (x - Math.floor(x));
}

/** -1 at the dawn low, +1 at the afternoon high, the slow fall through the night between. */
function diurnalShape(hour: number, dawn: number): number {
  if (hour >= dawn && hour < AFTERNOON_HIGH)
    return -Math.cos((Math.PI * (hour - dawn)) / (AFTERNOON_HIGH - dawn));
  const sinceHigh = hour >= AFTERNOON_HIGH ? hour - AFTERNOON_HIGH : hour + 24 - AFTERNOON_HIGH;
  return Math.cos((Math.PI * sinceHigh) / (24 - AFTERNOON_HIGH + dawn));
}

// ---------------------------------------------------------------- pressure and the hour

/** The atmospheric tide at a solar hour, hPa: highest at 10:00 and 22:00, lowest at 04:00 and 16:00. */
function tideAt(climate: ResolvedClimate, hour: number): number {
  return climate.tideAmplitudeHpa * Math.cos((2 * Math.PI * (hour - 10)) / 12);
}

/** Showers favour the afternoon (solar time), most in the tropics; the day's mean is 1. */
function afternoonShowers(climate: ResolvedClimate, hour: number): number {
  return 1 + climate.afternoonShowers * Math.cos((2 * Math.PI * (hour - AFTERNOON_HIGH)) / 24);
}

/**
 * The mean over the hours of the day of what the hour adds to a rain kind's
 * chance: the tide's fall before the start, and the afternoon for showers.
 * Both depend on the hour alone, so they are averaged together, numerically.
 */
function meanHourFactor(climate: ResolvedClimate, kind: RainKind): number {
  const steps = 96;
  const fallHours = FALL_WINDOW_MS / HOUR_MS;
  let sum = 0;
  for (let i = 0; i < steps; i++) {
    const hour = (24 * (i + 0.5)) / steps;
    const tideFall =
      (tideAt(climate, (hour - fallHours + 24) % 24) - tideAt(climate, hour)) /
      climate.stormAmplitudeHpa;
    sum +=
      Math.exp(kind.fallWeight * tideFall) *
      (kind === SHOWER ? afternoonShowers(climate, hour) : 1);
  }
  return sum / steps;
}

/** Within this much of either end of PRESSURE_BAND_HPA, pressure bends smoothly towards the end rather than crossing it. */
const PRESSURE_KNEE_HPA = 15;

function keepInBand(pressureHpa: number): number {
  const { min, max } = PRESSURE_BAND_HPA;
  const high = max - PRESSURE_KNEE_HPA;
  const low = min + PRESSURE_KNEE_HPA;
  if (pressureHpa > high)
    return max - PRESSURE_KNEE_HPA * Math.exp(-(pressureHpa - high) / PRESSURE_KNEE_HPA);
  if (pressureHpa < low)
    return min + PRESSURE_KNEE_HPA * Math.exp(-(low - pressureHpa) / PRESSURE_KNEE_HPA);
  return pressureHpa;
}

// ---------------------------------------------------------------- the station's weather

/** What a station is, compiled for the model once: its climate and its sun's year. */
interface CompiledStation {
  readonly station: Station;
  readonly climate: ResolvedClimate;
  readonly tables: SeasonTables;
  readonly hemisphere: 1 | -1;
  /** Expected rain events of each kind per slot, and their mean amount, mm. */
  readonly startsPerSlot: readonly number[];
  /** The mean over time of each kind's chance factor, which the chance is divided by. */
  readonly meanChanceFactor: readonly number[];
  readonly meanAmountMm: readonly number[];
}

const compiled = new WeakMap<Station, CompiledStation>();

function compile(station: Station): CompiledStation {
  let found = compiled.get(station);
  if (found) return found;
  checkStation(station);
  const climate = climateOf(station);
  // Warm air holds more water: heavier events in the tropics, lighter snowfalls at the poles.
  const warmth = Math.min(2.5, Math.max(0.3, Math.exp(0.05 * (climate.meanC - 10))));
  const shares = [1 - climate.showerShare, climate.showerShare];
  const meanAmountMm = RAIN_KINDS.map((kind) => kind.meanAmountMm * warmth);
  const startsPerSlot = RAIN_KINDS.map(
    (_, k) =>
      ((shares[k] as number) * climate.meanDailyRainMm * (SLOT_MS / DAY_MS)) /
      ((meanAmountMm[k] as number) * CUT_EXPONENTIAL_MEAN),
  );
  found = {
    station,
    climate,
    tables: seasonTables(station.latitude),
    hemisphere: station.latitude < 0 ? -1 : 1,
    startsPerSlot,
    meanAmountMm,
    meanChanceFactor: RAIN_KINDS.map(
      (kind, k) =>
        (NOISE_STATISTICS.meanFrontFactor[k] as number) *
        (NOISE_STATISTICS.meanWaveFactor[k] as number) *
        meanHourFactor(climate, kind),
    ),
  };
  compiled.set(station, found);
  return found;
}

/**
 * The weather of one station for one seed. Every method is a pure function
 * of (seed, station, time); the noise tracks and the rain events of the
 * current day are caches that make reading minute after minute cheap.
 */
export class StationWeather {
  /** The seed salted with the station's id, so that two stations of one server have their own weather. */
  readonly salt: number;
  readonly #station: CompiledStation;
  readonly #front: NoiseTrack;
  readonly #frontAhead: NoiseTrack;
  readonly #wave: NoiseTrack;
  readonly #pressureGust: NoiseTrack;
  readonly #airMass: NoiseTrack;
  readonly #spell: NoiseTrack;
  readonly #gust: NoiseTrack;
  readonly #burst: NoiseTrack;
  #windowStartMs = Number.NaN;
  #windowEvents: readonly RainEvent[] = [];

  constructor(
    readonly seed: number,
    readonly station: Station,
  ) {
    this.#station = compile(station);
    const salt = (seed ^ hashString(station.id)) >>> 0;
    this.salt = salt;
    this.#front = new NoiseTrack(salt, STREAM.front, FRONT_PERIOD_MS);
    this.#frontAhead = new NoiseTrack(salt, STREAM.front, FRONT_PERIOD_MS);
    this.#wave = new NoiseTrack(salt, STREAM.wave, WAVE_PERIOD_MS);
    this.#pressureGust = new NoiseTrack(salt, STREAM.pressureGust, 40 * MINUTE_MS);
    this.#airMass = new NoiseTrack(salt, STREAM.airMass, AIR_MASS_PERIOD_MS);
    this.#spell = new NoiseTrack(salt, STREAM.spell, SPELL_PERIOD_MS);
    this.#gust = new NoiseTrack(salt, STREAM.gust, 50 * MINUTE_MS);
    this.#burst = new NoiseTrack(salt, STREAM.rainBurst, 45 * MINUTE_MS);
  }

  /** The climate the station follows (its own, or its latitude's). */
  get climate(): ResolvedClimate {
    return this.#station.climate;
  }

  /** Mean sea-level pressure, hPa: the climate's mean, fronts, a faster wave, the tide. */
  pressureAt(timeMs: number): number {
    const { climate, station } = this.#station;
    const storm = climate.stormAmplitudeHpa;
    return keepInBand(
      climate.meanPressureHpa +
        storm * this.#front.at(timeMs) +
        WAVE_SHARE * storm * this.#wave.at(timeMs) +
        0.3 * this.#pressureGust.at(timeMs) +
        tideAt(climate, solarHour(timeMs, station.longitude)),
    );
  }

  /** Rain rate, mm per hour: the sum of the rain events falling at that instant. */
  rainRateAt(timeMs: number): number {
    const windowStart = Math.floor(timeMs / DAY_MS) * DAY_MS;
    if (windowStart !== this.#windowStartMs) {
      this.#windowEvents = this.rainEventsBetween(windowStart, windowStart + DAY_MS);
      this.#windowStartMs = windowStart;
    }
    let rate = 0;
    // Summed in the order of their slots, whichever window holds them, so every path agrees to the bit.
    for (const event of this.#windowEvents) {
      if (timeMs <= event.startMs || timeMs >= event.endMs) continue;
      const x = (timeMs - event.startMs) / (event.endMs - event.startMs);
      if (event.kind === 'shower') {
        const swell = Math.sin(Math.PI * x);
        rate += event.peakMmPerHour * swell * swell;
      } else {
        const ramp = Math.min(1, x / LONG_RAIN_RAMP, (1 - x) / LONG_RAIN_RAMP);
        rate += event.peakMmPerHour * ramp * (1 + 0.5 * this.#burst.at(timeMs));
      }
    }
    return rate;
  }

  /**
   * The rain events that fall at some time in [fromMs, toMs), in the order of
   * the slots they start in. Each is drawn from the hash of its slot alone.
   */
  rainEventsBetween(fromMs: number, toMs: number): RainEvent[] {
    const events: RainEvent[] = [];
    const first = Math.floor((fromMs - LONGEST_RAIN_MS) / SLOT_MS) - 1;
    const last = Math.floor(toMs / SLOT_MS);
    for (let slot = first; slot <= last; slot++) {
      for (let k = 0; k < RAIN_KINDS.length; k++) {
        const event = this.#eventIn(slot, k);
        if (event && event.endMs > fromMs && event.startMs < toMs) events.push(event);
      }
    }
    return events;
  }

  #eventIn(slot: number, k: number): RainEvent | undefined {
    const kind = RAIN_KINDS[k] as RainKind;
    const expected = this.#station.startsPerSlot[k] as number;
    if (expected === 0) return undefined;
    const { salt } = this;
    const index = 2 * slot + k;
    const startMs = (slot + hashUnit(salt, STREAM.rainStart, index)) * SLOT_MS;
    const { climate, station } = this.#station;
    const storm = climate.stormAmplitudeHpa;
    const beforeMs = startMs - FALL_WINDOW_MS;
    const front = smoothNoise(salt, STREAM.front, startMs, FRONT_PERIOD_MS);
    // How far the pressure fell before the start, in units of the front swing:
    // fronts, the wave and the tide (the gusts are too small to matter).
    const fall =
      smoothNoise(salt, STREAM.front, beforeMs, FRONT_PERIOD_MS) -
      front +
      WAVE_SHARE *
        (smoothNoise(salt, STREAM.wave, beforeMs, WAVE_PERIOD_MS) -
          smoothNoise(salt, STREAM.wave, startMs, WAVE_PERIOD_MS)) +
      (tideAt(climate, solarHour(beforeMs, station.longitude)) -
        tideAt(climate, solarHour(startMs, station.longitude))) /
        storm;
    // A chance above 1 is a certainty: only the wettest climates reach it, at their lowest pressures.
    const chance =
      (expected *
        Math.exp(kind.lowWeight * -front + kind.fallWeight * fall) *
        this.#seasonalRain(startMs) *
        (kind === SHOWER ? afternoonShowers(climate, solarHour(startMs, station.longitude)) : 1)) /
      (this.#station.meanChanceFactor[k] as number);
    if (hashUnit(salt, STREAM.rainOccurs, index) >= chance) return undefined;
    const lengthMs =
      kind.minMs + hashUnit(salt, STREAM.rainLength, index) * (kind.maxMs - kind.minMs);
    const amountMm =
      (this.#station.meanAmountMm[k] as number) *
      Math.min(MAX_AMOUNT_MEANS, -Math.log(1 - hashUnit(salt, STREAM.rainAmount, index)));
    return {
      kind: kind.name,
      startMs,
      endMs: startMs + lengthMs,
      peakMmPerHour: amountMm / ((lengthMs / HOUR_MS) * kind.shapeMean),
    };
  }

  /** 1 + r in mid-winter, 1 - r in mid-summer (Climate.rainSeasonality); the year's mean is 1. */
  #seasonalRain(timeMs: number): number {
    const { climate, hemisphere } = this.#station;
    if (climate.rainSeasonality === 0) return 1;
    // Mid-winter in the north: 15 January.
    const phase = (2 * Math.PI * (dayOfYear(timeMs) - 15)) / MEAN_YEAR_DAYS;
    return 1 + climate.rainSeasonality * hemisphere * Math.cos(phase);
  }

  /**
   * Air temperature, °C, given the rain rate at the same instant: the
   * climate's mean, the season, the daily cycle (flattened by cloud), the
   * air mass (warm ahead of a low, cold behind it), gusts, and rain cooling.
   */
  temperatureAt(timeMs: number, rainRateMmPerHour: number): number {
    const { climate, tables, station } = this.#station;
    const day = dayOfYear(timeMs);
    const season = tableAt(tables.season, day);
    const front = this.#front.at(timeMs);
    const frontAhead = this.#frontAhead.at(timeMs + CLOUD_LEAD_MS);
    const cloud = cloudCover(frontAhead, rainRateMmPerHour);
    const diurnal =
      climate.diurnalAmplitudeC *
      tableAt(tables.diurnalScale, day) *
      ((1 - 0.6 * cloud) / (1 - 0.6 * NOISE_STATISTICS.meanCloud)) *
      diurnalShape(solarHour(timeMs, station.longitude), tableAt(tables.dawn, day));
    return (
      climate.meanC +
      climate.seasonalAmplitudeC * season +
      diurnal +
      // Air masses vary more in winter than in summer.
      climate.airMassSwingC *
        (1 - 0.25 * season) *
        NOISE_STATISTICS.airMassScale *
        airMassAnomaly(this.#airMass.at(timeMs), this.#spell.at(timeMs), front, frontAhead) +
      0.5 * this.#gust.at(timeMs) -
      1.5 * Math.min(1, rainRateMmPerHour / 2)
    );
  }
}

export interface WeatherSample {
  /** Air temperature, °C. */
  readonly temperatureC: number;
  /** Mean sea-level pressure, hPa. */
  readonly pressureHpa: number;
  /** Rain rate, mm per hour. */
  readonly rainRateMmPerHour: number;
}

let lastWeather: StationWeather | undefined;

/**
 * The weather at one instant, unrounded: what the station's instruments
 * sample. A convenience for specs and tools; a station reading minute after
 * minute keeps its own StationWeather.
 */
export function weatherAt(seed: number, station: Station, timeMs: number): WeatherSample {
  if (lastWeather?.seed !== seed || lastWeather.station !== station)
    lastWeather = new StationWeather(seed, station);
  const rainRateMmPerHour = lastWeather.rainRateAt(timeMs);
  return {
    temperatureC: lastWeather.temperatureAt(timeMs, rainRateMmPerHour),
    pressureHpa: lastWeather.pressureAt(timeMs),
    rainRateMmPerHour,
  };
}
