/** What one poll of the four readings gave, and how the client prints it. Pure. */
import { READINGS, type Reading, type ReadingReply, type Welcome } from './protocol.js';
import { formatValue, type UnitSystem } from './units.js';

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

export function isComplete(poll: PollResult): boolean {
  return READINGS.every((reading) => isReply(poll[reading]));
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
  const parts = READINGS.map((reading) => {
    const answer = poll[reading];
    if (isReply(answer))
      return `${LABELS[reading]} ${formatValue(answer.value, answer.unit, units)}`;
    return `${LABELS[reading]} — (${answer?.code ?? 'ERR_PROTOCOL'})`;
  });
  return `[${connection}] ${time ? isoSeconds(time) : 'no observation'}  ${parts.join('  ')}`;
}

/**
 * One JSON object with exactly the keys connection, time, minTemperature,
 * maxTemperature, pressure, rainfall. `time` is the observation time, or
 * `reportedAt` when the poll got no reading at all. A value the poll did not
 * get is null, never a number.
 */
export function formatPollJson(connection: number, poll: PollResult, reportedAt: Date): string {
  const value = (reading: Reading): number | null => {
    const answer = poll[reading];
    return isReply(answer) ? answer.value : null;
  };
  return JSON.stringify({
    connection,
    time: (pollTime(poll) ?? reportedAt).toISOString(),
    minTemperature: value('minTemperature'),
    maxTemperature: value('maxTemperature'),
    pressure: value('pressure'),
    rainfall: value('rainfall'),
  });
}

/** The problems of an incomplete poll, one line: `[2] incomplete poll: pressure ERR_SENSOR_FAILED (...)` */
export function formatPollProblems(connection: number, poll: PollResult): string | null {
  const problems = READINGS.flatMap((reading) => {
    const answer = poll[reading];
    if (isReply(answer)) return [];
    return [`${reading} ${answer?.code ?? 'ERR_PROTOCOL'} (${answer?.message ?? 'no answer'})`];
  });
  return problems.length === 0 ? null : `[${connection}] incomplete poll: ${problems.join('; ')}`;
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
