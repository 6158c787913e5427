/**
 * What a server's stations read from: each station has a source, either the
 * station model or a replay of a file. A setup is plain data, so the pool
 * hands it to its worker threads as it is, and each thread builds the same
 * sources from it. Pure.
 */
import { MeteoError } from '../errors.js';
import type { SensorSource } from './batch.js';
import { SEATTLE_RECORD_STATION, SEATTLE_WEATHER_CSV_URL } from './datasets.js';
import { SimulatedStation } from './model.js';
import { parseReplayCsv, type ReplayFile, type ReplayOptions, ReplaySource } from './replay.js';
import { STATIONS, type Station } from './station.js';

export type SourceSpec =
  | { readonly kind: 'simulated' }
  | { readonly kind: 'replay'; readonly file: ReplayFile; readonly options: ReplayOptions };

/** One station a server serves, and where its readings come from. */
export interface StationSetup {
  readonly station: Station;
  readonly source: SourceSpec;
}

export const SIMULATED: SourceSpec = Object.freeze({ kind: 'simulated' });

export function createSource(seed: number, setup: StationSetup): SensorSource {
  return setup.source.kind === 'simulated'
    ? new SimulatedStation(seed, setup.station)
    : new ReplaySource(setup.source.file, setup.source.options);
}

/** How a server's command line names its stations and their sources (README, "Stations"). */
export interface StationChoice {
  /** Station ids from STATIONS, comma-separated; the first is the default. */
  readonly stations: string;
  /** `sim`, or `replay:FILE` (or `replay:seattle`, the bundled record) for the first station. */
  readonly source: string;
  /** Replay speed: file milliseconds per server millisecond. */
  readonly speed: number;
}

/** What resolving a choice needs from outside: the file system and the clock, passed in. */
export interface StationIo {
  readFile(path: string | URL): string;
  now(): number;
}

const REPLAY_PREFIX = 'replay:';

function badSource(message: string): MeteoError {
  return new MeteoError('ERR_BAD_VALUE', message);
}

/**
 * The setups a server runs from its flags. Throws MeteoError ERR_BAD_VALUE
 * for an unknown station or source (naming the flag), and ERR_BAD_REPLAY_FILE
 * for a replay file that does not parse, with its line.
 */
export function resolveStations(choice: StationChoice, io: StationIo): StationSetup[] {
  const ids = choice.stations
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const setups: StationSetup[] = ids.map((id) => {
    const station = STATIONS[id];
    if (!station) {
      throw badSource(
        `--stations: no station ${JSON.stringify(id)}; stations are ${Object.keys(STATIONS).join(', ')}`,
      );
    }
    return { station, source: SIMULATED };
  });
  const [first] = setups;
  if (first === undefined) throw badSource('--stations must name at least one station');
  if (new Set(ids).size !== ids.length) throw badSource('--stations names a station twice');

  if (choice.source === 'sim') return setups;
  if (!choice.source.startsWith(REPLAY_PREFIX)) {
    throw badSource(
      `--source must be "sim" or "replay:FILE" (got ${JSON.stringify(choice.source)})`,
    );
  }
  const path = choice.source.slice(REPLAY_PREFIX.length);
  const bundled = path === 'seattle';
  let text: string;
  try {
    text = io.readFile(bundled ? SEATTLE_WEATHER_CSV_URL : path);
  } catch (err) {
    throw badSource(
      `--source: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  const file = parseReplayCsv(text, bundled ? 'seattle-weather.csv' : path);
  // The replay stands in for the first station: the bundled record is a
  // station of its own; any other file keeps the first station's place.
  const place = first.station.name.replace(/ \(simulated\)$/, '');
  const station: Station = bundled
    ? SEATTLE_RECORD_STATION
    : { ...first.station, name: `${place} (replay of ${path})` };
  const options: ReplayOptions = {
    utcOffsetMinutes: station.utcOffsetMinutes,
    startMs: io.now(),
    speed: choice.speed,
  };
  // Built once here too, so that bad options fail at start, not in a worker.
  new ReplaySource(file, options);
  return [{ station, source: { kind: 'replay', file, options } }, ...setups.slice(1)];
}
