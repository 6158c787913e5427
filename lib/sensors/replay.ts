/**
 * Replay of real observations (docs/SENSORS.md §5): a pure parser for a CSV
 * file of daily or timed records, and ReplaySource, which answers reads from
 * them on a clock of its own. The server reads the file; nothing here does
 * I/O.
 */
import { MeteoError } from '../errors.js';
import { READINGS, type Reading } from '../protocol.js';
import type { SensorSource } from './batch.js';
import type { Observation } from './model.js';
import { readingUnavailable } from './result.js';
import { DAY_MS, MINUTE_MS } from './time.js';

// ---------------------------------------------------------------- the file

type Column = 'date' | 'time' | Reading;

/**
 * The header names each column answers to (docs/SENSORS.md §5.1), compared
 * without case, spaces, `_` or `-`: `temp_max`, `TMAX`, `Max Temperature`
 * and `maxTemperature` are one column. The vega-datasets names come first.
 */
export const REPLAY_COLUMN_NAMES: Readonly<Record<Column, readonly string[]>> = Object.freeze({
  date: ['date', 'day'],
  time: ['time', 'datetime', 'timestamp', 'observed_at'],
  minTemperature: ['temp_min', 'tmin', 'min_temperature', 'min_temp'],
  maxTemperature: ['temp_max', 'tmax', 'max_temperature', 'max_temp'],
  rainfall: ['precipitation', 'prcp', 'precip', 'rain', 'rainfall'],
  pressure: ['pressure', 'mslp', 'slp', 'sea_level_pressure'],
});

/**
 * The range a value must lie in, in the file's units (°C, mm, hPa): past the
 * world's records, so that a file in other units (°F, inches, inHg, NOAA's
 * tenths) fails at start instead of replaying nonsense.
 */
export const REPLAY_VALUE_RANGES: Readonly<Record<Reading, { min: number; max: number }>> =
  Object.freeze({
    minTemperature: { min: -95, max: 65 },
    maxTemperature: { min: -95, max: 65 },
    rainfall: { min: 0, max: 2000 },
    pressure: { min: 850, max: 1090 },
  });

/** What a row holds of each reading; null where the cell is empty (not measured). */
export interface ReplayValues {
  readonly minTemperature: number | null;
  readonly maxTemperature: number | null;
  readonly rainfall: number | null;
  readonly pressure: number | null;
}

/** A record of one whole day: extremes and total over the station's local standard day. */
export interface DailyRecord extends ReplayValues {
  /** Line of the file, from 1. */
  readonly line: number;
  /** The local calendar day, YYYY-MM-DD. */
  readonly date: string;
}

/** A record of one instant: the readings as the station gave them then (extremes and rain since local midnight). */
export interface TimedRecord extends ReplayValues {
  readonly line: number;
  /** The instant, ms since the epoch. */
  readonly timeMs: number;
}

/** A parsed replay file: its kind, the readings it has a column for, its records in time order. */
export type ReplayFile =
  | {
      readonly kind: 'daily';
      readonly readings: readonly Reading[];
      readonly records: readonly DailyRecord[];
    }
  | {
      readonly kind: 'timed';
      readonly readings: readonly Reading[];
      readonly records: readonly TimedRecord[];
    };

/** A malformed replay file: ERR_BAD_REPLAY_FILE, and the line that is wrong. */
export class ReplayFileError extends MeteoError {
  constructor(
    /** Line of the file, from 1. */
    readonly line: number,
    what: string,
    fileName?: string,
  ) {
    super('ERR_BAD_REPLAY_FILE', `${fileName ? `${fileName}: ` : ''}line ${line}: ${what}`);
  }
}

function normalName(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '');
}

const COLUMN_BY_NAME = new Map<string, Column>(
  (Object.entries(REPLAY_COLUMN_NAMES) as [Column, readonly string[]][]).flatMap(
    ([column, names]) => names.map((name) => [normalName(name), column] as const),
  ),
);

/** One CSV line's fields (RFC 4180 quoting, within the line), or what is wrong with it. */
function splitFields(text: string): string[] | string {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    // Spaces before an opening quote are not part of the field.
    let quote = i;
    while (text[quote] === ' ' || text[quote] === '\t') quote++;
    if (text[quote] === '"') {
      let value = '';
      i = quote + 1;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close < 0) return 'a quoted field has no closing quote';
        value += text.slice(i, close);
        i = close + 1;
        if (text[i] !== '"') break;
        value += '"';
        i++;
      }
      const comma = text.indexOf(',', i);
      const rest = comma < 0 ? text.slice(i) : text.slice(i, comma);
      if (rest.trim() !== '') return 'a quoted field has text after its closing quote';
      fields.push(value.trim());
      if (comma < 0) return fields;
      i = comma + 1;
    } else {
      const comma = text.indexOf(',', i);
      fields.push((comma < 0 ? text.slice(i) : text.slice(i, comma)).trim());
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Ms since the epoch of the UTC midnight starting a YYYY-MM-DD date, or undefined if there is no such day. */
function dateMs(text: string): number | undefined {
  const match = DATE.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(year, month - 1, day);
  const back = new Date(ms);
  // Date.UTC rolls 2013-02-30 over into March; a real date comes back unchanged.
  if (
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day
  )
    return undefined;
  return ms;
}

/** Ms since the epoch of an ISO 8601 time with its zone, or undefined. */
function timeMs(text: string): number | undefined {
  const match = TIME.exec(text);
  if (!match) return undefined;
  const day = dateMs(`${match[1]}-${match[2]}-${match[3]}`);
  const [hours, minutes, seconds] = [Number(match[4]), Number(match[5]), Number(match[6] ?? 0)];
  if (day === undefined || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const fraction = match[7] ? Math.floor(Number(match[7]) * 1000) : 0;
  const zone = (match[8] as string).toUpperCase();
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0));
  }
  return day + ((hours * 60 + minutes - offsetMinutes) * 60 + seconds) * 1000 + fraction;
}

/**
 * Reads a replay file (docs/SENSORS.md §5.1): a header line, then one record
 * a line. Throws ReplayFileError (ERR_BAD_REPLAY_FILE) at the first line that
 * is wrong, saying what is wrong; `fileName`, when given, starts the message.
 */
export function parseReplayCsv(text: string, fileName?: string): ReplayFile {
  const fail = (line: number, what: string): ReplayFileError =>
    new ReplayFileError(line, what, fileName);
  const lines = (text.startsWith('\uFEFF') ? text.slice(1) : text).split(/\r?\n/);

  let headerLine = 0;
  while (headerLine < lines.length && (lines[headerLine] as string).trim() === '') headerLine++;
  if (headerLine === lines.length) throw fail(1, 'the file is empty: it needs a header line');
  const header = splitFields(lines[headerLine] as string);
  if (typeof header === 'string') throw fail(headerLine + 1, header);

  // Which field holds which column; other columns (wind, weather...) are left alone.
  const fieldOf: Partial<Record<Column, number>> = {};
  header.forEach((name, field) => {
    const column = COLUMN_BY_NAME.get(normalName(name));
    if (column === undefined) return;
    const earlier = fieldOf[column];
    if (earlier !== undefined)
      throw fail(
        headerLine + 1,
        `columns ${JSON.stringify(header[earlier])} and ${JSON.stringify(name)} are the same column`,
      );
    fieldOf[column] = field;
  });
  if (fieldOf.date !== undefined && fieldOf.time !== undefined)
    throw fail(headerLine + 1, 'the header has both a date and a time column; a file has one');
  if (fieldOf.date === undefined && fieldOf.time === undefined)
    throw fail(
      headerLine + 1,
      `the header has no date column (${namesOf('date')}) and no time column (${namesOf('time')})`,
    );
  for (const reading of ['minTemperature', 'maxTemperature', 'rainfall'] as const) {
    if (fieldOf[reading] === undefined)
      throw fail(
        headerLine + 1,
        `the header has no ${DESCRIPTION[reading]} column (${namesOf(reading)})`,
      );
  }
  const kind = fieldOf.date !== undefined ? 'daily' : 'timed';
  const keyField = (fieldOf.date ?? fieldOf.time) as number;
  const readings = READINGS.filter((reading) => fieldOf[reading] !== undefined);

  const daily: DailyRecord[] = [];
  const timed: TimedRecord[] = [];
  let previous: { key: number; line: number } | undefined;
  for (let l = headerLine + 1; l < lines.length; l++) {
    const raw = lines[l] as string;
    if (raw.trim() === '') continue;
    const line = l + 1;
    const fields = splitFields(raw);
    if (typeof fields === 'string') throw fail(line, fields);
    if (fields.length !== header.length)
      throw fail(line, `${fields.length} fields where the header has ${header.length}`);

    const keyText = fields[keyField] as string;
    const key = kind === 'daily' ? dateMs(keyText) : timeMs(keyText);
    if (key === undefined)
      throw fail(
        line,
        kind === 'daily'
          ? `${JSON.stringify(header[keyField])} ${JSON.stringify(keyText)} is not a date (YYYY-MM-DD)`
          : `${JSON.stringify(header[keyField])} ${JSON.stringify(keyText)} is not a time with its zone (YYYY-MM-DDThh:mm[:ss]Z or ±hh:mm)`,
      );
    if (previous && key <= previous.key)
      throw fail(
        line,
        key === previous.key
          ? `${JSON.stringify(keyText)} repeats line ${previous.line}`
          : `${JSON.stringify(keyText)} comes before line ${previous.line}: records must be in time order`,
      );
    previous = { key, line };

    const values: Record<Reading, number | null> = {
      minTemperature: null,
      maxTemperature: null,
      rainfall: null,
      pressure: null,
    };
    for (const reading of readings) {
      const field = fieldOf[reading] as number;
      const cell = fields[field] as string;
      if (cell === '') continue;
      const value = NUMBER.test(cell) ? Number(cell) : Number.NaN;
      const name = JSON.stringify(header[field]);
      if (!Number.isFinite(value))
        throw fail(line, `${name} ${JSON.stringify(cell)} is not a number`);
      const { min, max } = REPLAY_VALUE_RANGES[reading];
      if (value < min || value > max)
        throw fail(
          line,
          `${name} ${cell} is outside ${min} to ${max} ${UNIT[reading]}: is the file in other units?`,
        );
      values[reading] = value;
    }
    if (
      values.minTemperature !== null &&
      values.maxTemperature !== null &&
      values.minTemperature > values.maxTemperature
    )
      throw fail(
        line,
        `the minimum temperature ${values.minTemperature} is above the maximum ${values.maxTemperature}`,
      );
    if (kind === 'daily') daily.push({ line, date: keyText, ...values });
    else timed.push({ line, timeMs: key, ...values });
  }

  if (!previous) throw fail(headerLine + 1, 'the file has a header but no records');
  if (kind === 'timed' && timed.length < 2)
    throw fail(
      previous.line,
      'a file of timed records needs two at least, to know how long the last one holds',
    );
  return kind === 'daily' ? { kind, readings, records: daily } : { kind, readings, records: timed };
}

const DESCRIPTION: Readonly<Record<Reading, string>> = {
  minTemperature: 'minimum-temperature',
  maxTemperature: 'maximum-temperature',
  rainfall: 'precipitation',
  pressure: 'pressure',
};

const UNIT: Readonly<Record<Reading, string>> = {
  minTemperature: '°C',
  maxTemperature: '°C',
  rainfall: 'mm',
  pressure: 'hPa',
};

function namesOf(column: Column): string {
  return REPLAY_COLUMN_NAMES[column].join(', ');
}

// ---------------------------------------------------------------- the source

export interface ReplayOptions {
  /** The station's local standard time, minutes from UTC: a daily record covers its local day. */
  readonly utcOffsetMinutes: number;
  /** Server time at which the replay starts, ms since the epoch (the server's start, say). */
  readonly startMs: number;
  /** File ms played per server ms: 1 is real time, 1440 a day a minute. Default 1. */
  readonly speed?: number;
  /** File time played at `startMs`, ms since the epoch; default the first observation (§5.3). */
  readonly fromMs?: number;
  /** What happens after the last record: `loop` starts again from the first (the default), `stop` ends. */
  readonly atEnd?: 'loop' | 'stop';
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function badOption(message: string): MeteoError {
  return new MeteoError('ERR_BAD_VALUE', message);
}

/**
 * Readings from a replay file, on a clock of its own (docs/SENSORS.md §5).
 * An observation is what the file says and when it was true: a daily
 * record is observed at the local midnight that ends its day, a timed
 * record at its time, and `observedAt` is that time in the file, not the
 * server's. A read gets the latest observation at or before the file time
 * its server time maps to. A reading the file does not have then throws
 * ERR_READING_UNAVAILABLE (lib/sensors/result.ts); nothing is made up.
 */
export class ReplaySource implements SensorSource {
  /** File time of the first observation, ms since the epoch. */
  readonly firstMs: number;
  /** File time at which the last observation stops holding: the end of the replay. */
  readonly endMs: number;
  readonly speed: number;
  readonly atEnd: 'loop' | 'stop';
  readonly #file: ReplayFile;
  readonly #startMs: number;
  readonly #fromMs: number;
  readonly #times: Float64Array;
  readonly #values: Partial<Record<Reading, Float64Array>> = {};
  /** The error for a reading without a column, made once: a replay without pressure is asked for it every poll. */
  readonly #noColumn: Partial<Record<Reading, MeteoError>> = {};
  /** Index of the last observation served: reads mostly move forward from it. */
  #last = 0;

  /** Throws MeteoError ERR_BAD_VALUE for an option out of range, naming it. */
  constructor(file: ReplayFile, options: ReplayOptions) {
    const { utcOffsetMinutes, startMs, speed = 1, atEnd = 'loop' } = options;
    if (!Number.isInteger(utcOffsetMinutes) || Math.abs(utcOffsetMinutes) > 14 * 60)
      throw badOption('utcOffsetMinutes must be a whole number of minutes from -840 to 840');
    if (!Number.isFinite(startMs)) throw badOption('the replay start must be a time');
    if (!(Number.isFinite(speed) && speed > 0))
      throw badOption('the replay speed must be a number above 0 (1 is real time)');
    if (atEnd !== 'loop' && atEnd !== 'stop')
      throw badOption('what the replay does at its end must be "loop" or "stop"');
    if (file.records.length === 0) throw badOption('a replay needs a record at least');

    this.#file = file;
    this.#times = Float64Array.from(
      file.kind === 'daily'
        ? file.records.map(
            // Observed at the local standard midnight that ends the day.
            (record) => (dateMs(record.date) as number) + DAY_MS - utcOffsetMinutes * MINUTE_MS,
          )
        : file.records.map((record) => record.timeMs),
    );
    const count = this.#times.length;
    for (const reading of READINGS) {
      if (file.readings.includes(reading)) {
        this.#values[reading] = Float64Array.from(
          file.records as readonly ReplayValues[],
          (record) => record[reading] ?? Number.NaN,
        );
      } else {
        this.#noColumn[reading] = readingUnavailable(
          `this replay has no ${reading}: the file has no ${DESCRIPTION[reading]} column`,
        );
      }
    }
    this.firstMs = this.#times[0] as number;
    const lastMs = this.#times[count - 1] as number;
    // The last observation holds as long as the one before it did (a day, for daily records).
    this.endMs =
      lastMs + (file.kind === 'daily' ? DAY_MS : lastMs - (this.#times[count - 2] as number));
    const fromMs = options.fromMs ?? this.firstMs;
    if (!(Number.isFinite(fromMs) && fromMs >= this.firstMs && fromMs < this.endMs))
      throw badOption(
        `the replay can start from ${iso(this.firstMs)} up to ${iso(this.endMs)}, not ${Number.isFinite(fromMs) ? iso(fromMs) : fromMs}`,
      );
    this.#startMs = startMs;
    this.#fromMs = fromMs;
    this.speed = speed;
    this.atEnd = atEnd;
  }

  /**
   * The file time that plays at server time `serverMs`: `fromMs` at
   * `startMs`, running `speed` times as fast, round again from the first
   * observation when it loops. Throws ERR_READING_UNAVAILABLE once a replay
   * that stops has ended.
   */
  fileTimeAt(serverMs: number): number {
    const fileMs = this.#fromMs + (serverMs - this.#startMs) * this.speed;
    if (fileMs < this.endMs && (fileMs >= this.firstMs || this.atEnd === 'stop')) return fileMs;
    if (this.atEnd === 'stop')
      throw readingUnavailable(`the replay ended at ${iso(this.endMs)} (file time)`);
    const span = this.endMs - this.firstMs;
    const into = (fileMs - this.firstMs) % span;
    return this.firstMs + (into < 0 ? into + span : into);
  }

  observe(reading: Reading, serverMs: number): Observation {
    const values = this.#values[reading];
    if (values === undefined) throw this.#noColumn[reading] as MeteoError;
    const fileMs = this.fileTimeAt(serverMs);
    const k = this.#latestAtOrBefore(fileMs);
    if (k < 0)
      throw readingUnavailable(
        `no observation yet at ${iso(fileMs)} (file time): the first is at ${iso(this.firstMs)}`,
      );
    const value = values[k] as number;
    if (Number.isNaN(value)) {
      const record = this.#file.records[k] as DailyRecord | TimedRecord;
      const when = 'date' in record ? record.date : iso(record.timeMs);
      throw readingUnavailable(`the record of ${when} (line ${record.line}) has no ${reading}`);
    }
    // observedAt is whole seconds on the wire (docs/PROTOCOL.md §5.2).
    return { value, observedAt: Math.floor((this.#times[k] as number) / 1000) * 1000 };
  }

  /** Index of the latest observation at or before `fileMs`, or -1. */
  #latestAtOrBefore(fileMs: number): number {
    const times = this.#times;
    const last = this.#last;
    // Reads come in time order, mostly: try where the last one was, and the next.
    if ((times[last] as number) <= fileMs) {
      if (last + 1 === times.length || (times[last + 1] as number) > fileMs) return last;
      if (last + 2 === times.length || (times[last + 2] as number) > fileMs) {
        this.#last = last + 1;
        return last + 1;
      }
    }
    let low = 0;
    let high = times.length - 1;
    if ((times[0] as number) > fileMs) return -1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((times[mid] as number) <= fileMs) low = mid;
      else high = mid - 1;
    }
    this.#last = low;
    return low;
  }
}
