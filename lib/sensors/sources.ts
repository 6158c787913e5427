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
  /**
   * Where the stations read from, comma-separated: `STATION=SOURCE` for a
   * station, SOURCE being `sim` or `replay:FILE` (`replay:seattle`, the
   * bundled record of seattle). Stations not named are simulated. `sim`
   * alone simulates every station; `replay:FILE` alone feeds the one station
   * it can only mean (module comment of resolveStations).
   */
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
/** The file name that means the bundled NOAA record, which is Seattle's. */
const BUNDLED_RECORD = 'seattle';
const BUNDLED_RECORD_STATION = 'seattle';

function badSource(message: string): MeteoError {
  return new MeteoError('ERR_BAD_VALUE', message);
}

/** One station's source as `--source` names it. */
interface SourceChoice {
  /** The station it feeds: named (`seattle=...`), or null for the old form `replay:FILE`. */
  readonly station: string | null;
  /** `sim`, or the FILE of `replay:FILE`. */
  readonly replay: string | null;
}

function parseSourceChoice(text: string): SourceChoice {
  const equals = text.indexOf('=');
  const station = equals < 0 ? null : text.slice(0, equals).trim();
  const source = (equals < 0 ? text : text.slice(equals + 1)).trim();
  if (station === '')
    throw badSource(`--source: ${JSON.stringify(text)} names no station before =`);
  if (source === 'sim') return { station, replay: null };
  if (source.startsWith(REPLAY_PREFIX) && source.length > REPLAY_PREFIX.length)
    return { station, replay: source.slice(REPLAY_PREFIX.length) };
  throw badSource(
    `--source: a source is "sim" or "replay:FILE" (got ${JSON.stringify(source)}), optionally after STATION=`,
  );
}

/** The station a source choice feeds, by id, or an error that says how to name it. */
function stationFed(choice: SourceChoice, served: readonly string[], text: string): string {
  const bundled = choice.replay === BUNDLED_RECORD;
  const station =
    choice.station ??
    // replay:seattle can only mean seattle; another file, only the one station served.
    (bundled ? BUNDLED_RECORD_STATION : served.length === 1 ? (served[0] as string) : null);
  if (station === null) {
    throw badSource(
      `--source ${text}: this server has several stations (${served.join(', ')}); name the one it feeds, as --source ${served[0]}=${text}`,
    );
  }
  if (!served.includes(station)) {
    throw badSource(
      `--source ${text}: feeds ${station}, which --stations does not serve (${served.join(', ')})`,
    );
  }
  if (bundled && station !== BUNDLED_RECORD_STATION) {
    throw badSource(
      `--source ${text}: replay:${BUNDLED_RECORD} is the record of ${BUNDLED_RECORD_STATION}, and can feed only that station`,
    );
  }
  return station;
}

/**
 * The setups a server runs from its flags. Each station is simulated unless
 * `--source` gives it a replay, which takes its place in the list (the first
 * station stays the default). A replay must be unmistakably one station's: a
 * station named (`singapore=replay:FILE`), the bundled record (Seattle's), or
 * the only station served; anything else is refused, never given to the
 * first station by default, which silently stopped serving it (issue #16
 * item 8). Throws MeteoError ERR_BAD_VALUE for an unknown station or source,
 * or one that feeds no station or a station twice (naming the flag), and
 * ERR_BAD_REPLAY_FILE for a replay file that does not parse, with its line.
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
  if (setups.length === 0) throw badSource('--stations must name at least one station');
  if (new Set(ids).size !== ids.length) throw badSource('--stations names a station twice');

  const texts = choice.source
    .split(',')
    .map((text) => text.trim())
    .filter((text) => text !== '');
  if (texts.length === 0) throw badSource('--source must not be empty');
  const fed = new Set<string>();
  for (const text of texts) {
    const source = parseSourceChoice(text);
    // `sim` alone: every station simulated, as if --source were not given.
    if (source.station === null && source.replay === null) {
      if (texts.length > 1) throw badSource(`--source: "sim" alone, or STATION=sim in a list`);
      continue;
    }
    const id = stationFed(source, ids, text);
    if (fed.has(id)) throw badSource(`--source gives ${id} two sources`);
    fed.add(id);
    if (source.replay === null) continue;
    const index = ids.indexOf(id);
    setups[index] = replaySetup(setups[index] as StationSetup, source.replay, choice.speed, io);
  }
  return setups;
}

/** `setup`'s station, fed by a replay of `path` (`seattle`: the bundled record) instead of the model. */
function replaySetup(
  setup: StationSetup,
  path: string,
  speed: number,
  io: StationIo,
): StationSetup {
  const bundled = path === BUNDLED_RECORD;
  let text: string;
  try {
    text = io.readFile(bundled ? SEATTLE_WEATHER_CSV_URL : path);
  } catch (err) {
    throw badSource(
      `--source: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  const file = parseReplayCsv(text, bundled ? 'seattle-weather.csv' : path);
  // The bundled record is a station of its own; any other file keeps the
  // station's place, under a name that says it is a replay.
  const place = setup.station.name.replace(/ \(simulated\)$/, '');
  const station: Station = bundled
    ? SEATTLE_RECORD_STATION
    : { ...setup.station, name: `${place} (replay of ${path})` };
  const options: ReplayOptions = {
    utcOffsetMinutes: station.utcOffsetMinutes,
    startMs: io.now(),
    speed,
  };
  // Built once here too, so that bad options fail at start, not in a worker.
  new ReplaySource(file, options);
  return { station, source: { kind: 'replay', file, options } };
}
