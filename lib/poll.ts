/** What one poll of the four readings gave, and how the client prints it. Pure. */
import { READINGS, type Reading, type ReadingReply, type Units, type Welcome } from './protocol.js';
import { formatNumber, formatValue, toDisplay, type UnitSystem } from './units.js';

/** Why something did not work: a code from docs/errors.md and a message. */
export interface Problem {
  readonly code: string;
  readonly message: string;
}

/** One poll's outcome: for each reading, its reply or the problem that left it without one. */
export type PollResult = Readonly<Partial<Record<Reading, ReadingReply | Problem>>>;

export function isReply(answer: ReadingReply | Problem | undefined): answer is ReadingReply {
  return answer !== undefined && 'value' in answer;
}

/** The code of a reading the station's source has no value for (docs/errors.md). */
export const READING_UNAVAILABLE = 'ERR_READING_UNAVAILABLE';

/**
 * True for a reading the station's source has no value for: a replay of a
 * file without that column (the bundled Seattle record has no pressure), or
 * with its cell empty. The server answered, and said there is nothing to
 * give: that is not a failed exchange.
 */
export function isUnavailable(answer: ReadingReply | Problem | undefined): boolean {
  return answer !== undefined && !isReply(answer) && answer.code === READING_UNAVAILABLE;
}

/**
 * True when the poll got every reading the station's source has, of those
 * asked for (all four unless told): each has a value or is unavailable. A reading that failed (the sensor,
 * the request timeout, the connection) makes the poll incomplete, and with
 * `--count` the client's exit status 1; an unavailable one does not (issue
 * #16 item 9: the Seattle replay always exited 1).
 */
export function isComplete(poll: PollResult, readings: readonly Reading[] = READINGS): boolean {
  return readings.every((reading) => isReply(poll[reading]) || isUnavailable(poll[reading]));
}

/** The readings of a poll that the station's source does not have. */
export function unavailableReadings(poll: PollResult): Reading[] {
  return READINGS.filter((reading) => isUnavailable(poll[reading]));
}

/** The observation time of a poll: the latest among its readings, or null when it has none. */
export function pollTime(poll: PollResult): Date | null {
  let latest: Date | null = null;
  for (const reading of READINGS) {
    const answer = poll[reading];
    if (isReply(answer) && (latest === null || answer.observedAt > latest))
      latest = answer.observedAt;
  }
  return latest;
}

const LABELS: Readonly<Record<Reading, string>> = {
  minTemperature: 'min',
  maxTemperature: 'max',
  pressure: 'pressure',
  rainfall: 'rain',
};

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `pressure 1026.9 hPa`, or `pressure — (ERR_SENSOR_FAILED)` for a reading without a value. */
export function formatAnswer(
  reading: Reading,
  answer: ReadingReply | Problem | undefined,
  units: UnitSystem = 'metric',
): string {
  if (isReply(answer)) return `${LABELS[reading]} ${formatValue(answer.value, answer.unit, units)}`;
  return `${LABELS[reading]} — (${answer?.code ?? 'ERR_PROTOCOL'})`;
}

/** The number alone, as formatAnswer shows it (`get --raw`), or `-` for a reading without a value. */
export function formatRawAnswer(
  answer: ReadingReply | Problem | undefined,
  units: UnitSystem = 'metric',
): string {
  return isReply(answer) ? formatNumber(toDisplay(answer.value, answer.unit, units)) : '-';
}

/**
 * `[2] 2026-11-26T13:05:00Z  min 3.2 °C  max 9.8 °C  pressure 1013.2 hPa  rain 0.4 mm`,
 * each value with its unit, converted for display when `units` is `us`.
 */
export function formatPollText(
  connection: number,
  poll: PollResult,
  units: UnitSystem = 'metric',
): string {
  const time = pollTime(poll);
  const parts = READINGS.map((reading) => formatAnswer(reading, poll[reading], units));
  return `[${connection}] ${time ? isoSeconds(time) : 'no observation'}  ${parts.join('  ')}`;
}

/** What a JSON line says of its poll beyond the values, so that it stands alone. */
export interface PollAbout {
  /** The id of the station polled. */
  readonly station: string;
  /** The units of the values: the wire's, as the welcome gives them (JSON stays metric). */
  readonly units: Units;
}

/**
 * One JSON object with exactly the keys connection, station, time,
 * minTemperature, maxTemperature, pressure, rainfall (those of `readings`,
 * for a `get` of fewer) and units, so that a
 * line needs no context (`jq` reads it alone). `time` is the observation
 * time, or `reportedAt` when the poll got no reading at all. A value the
 * poll did not get is null, never a number.
 */
export function formatPollJson(
  connection: number,
  poll: PollResult,
  reportedAt: Date,
  about: PollAbout,
  readings: readonly Reading[] = READINGS,
): string {
  const values = Object.fromEntries(
    // In READINGS order, whatever order they were asked in.
    READINGS.filter((reading) => readings.includes(reading)).map((reading) => {
      const answer = poll[reading];
      return [reading, isReply(answer) ? answer.value : null];
    }),
  );
  return JSON.stringify({
    connection,
    station: about.station,
    time: (pollTime(poll) ?? reportedAt).toISOString(),
    ...values,
    units: {
      temperature: about.units.temperature,
      pressure: about.units.pressure,
      rainfall: about.units.rainfall,
    },
  });
}

/**
 * The problems of an incomplete poll, one line:
 * `[2] incomplete poll: pressure ERR_SENSOR_FAILED (...)`. Readings the
 * source does not have are no problem (isComplete).
 */
export function formatPollProblems(connection: number, poll: PollResult): string | null {
  const problems = READINGS.flatMap((reading) => {
    const answer = poll[reading];
    if (isReply(answer) || isUnavailable(answer)) return [];
    return [`${reading} ${answer?.code ?? 'ERR_PROTOCOL'} (${answer?.message ?? 'no answer'})`];
  });
  return problems.length === 0 ? null : `[${connection}] incomplete poll: ${problems.join('; ')}`;
}

/**
 * `[1] no pressure from this station: ERR_READING_UNAVAILABLE (this replay has no pressure...)`:
 * said once per connection and reading, as it is no failure and would say
 * the same at every poll.
 */
export function formatUnavailable(connection: number, reading: Reading, poll: PollResult): string {
  const answer = poll[reading];
  const why = answer && !isReply(answer) ? ` (${answer.message})` : '';
  return `[${connection}] no ${reading} from this station: ${READING_UNAVAILABLE}${why}; shown as —, and not a failed poll`;
}

/**
 * `[1] connected to meteo-actors/0.1.0 (protocol 1), station Seattle (seattle) at 47.6062, -122.3321, 56 m`,
 * for the station polled (`stationId`, or the default), and the others the server has.
 */
export function formatWelcome(
  connection: number,
  welcome: Welcome,
  reconnected: boolean,
  stationId: string | null = null,
): string {
  const station = welcome.stations.find((known) => known.id === stationId) ?? welcome.station;
  const others = welcome.stations
    .filter((known) => known.id !== station.id)
    .map((known) => known.id);
  return (
    `[${connection}] ${reconnected ? 'reconnected' : 'connected'} to ${welcome.server} (protocol ${welcome.version}), ` +
    `station ${station.name} (${station.id}) at ${station.latitude}, ${station.longitude}, ${station.elevation} m` +
    (others.length > 0 ? `; also serves ${others.join(', ')}` : '')
  );
}
