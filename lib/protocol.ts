/**
 * The messages of the wire protocol (docs/PROTOCOL.md §3–§7) and their
 * MessagePack encoding: written by lib/msgpackWriter.ts, read by msgpackr.
 * Pure: bytes in, typed messages out, and back.
 */
import { Unpackr } from 'msgpackr';
import { type ErrorCode, MeteoError } from './errors.js';
import { FRAME_HEADER_BYTES } from './framing.js';
import { encodeConstant, MessagePackWriter } from './msgpackWriter.js';

/** The protocol version this code speaks (docs/PROTOCOL.md §4). */
export const PROTOCOL_VERSION = 1;

/** The four readings a station has, in the order the client asks for them. */
export const READINGS = ['minTemperature', 'maxTemperature', 'pressure', 'rainfall'] as const;
export type Reading = (typeof READINGS)[number];

/** The wire is metric (docs/PROTOCOL.md §5); the welcome says so. */
export const UNITS = Object.freeze({ temperature: '°C', pressure: 'hPa', rainfall: 'mm' });
export type Units = typeof UNITS;

export const READING_UNITS: Readonly<Record<Reading, string>> = Object.freeze({
  minTemperature: UNITS.temperature,
  maxTemperature: UNITS.temperature,
  pressure: UNITS.pressure,
  rainfall: UNITS.rainfall,
});

/** Largest request id: ids are unsigned 32-bit integers chosen by the client. */
export const MAX_REQUEST_ID = 0xffff_ffff;

export function isReading(value: unknown): value is Reading {
  return typeof value === 'string' && (READINGS as readonly string[]).includes(value);
}

// ---------------------------------------------------------------- messages

/** Where the station is: enough for a client to show and to place it. */
export interface StationInfo {
  readonly id: string;
  readonly name: string;
  readonly latitude: number;
  readonly longitude: number;
  /** Metres above sea level. */
  readonly elevation: number;
}

export interface Hello {
  readonly type: 'hello';
  readonly version: number;
}

export interface ReadRequest {
  readonly type: 'read';
  readonly id: number;
  readonly reading: Reading;
  /** The id of the station to read; the server's default station when absent (docs/PROTOCOL.md §5.1). */
  readonly station?: string;
}

/** Longest station id a request may name. */
export const MAX_STATION_ID_LENGTH = 64;

export type ClientMessage = Hello | ReadRequest;

export interface Welcome {
  readonly type: 'welcome';
  readonly version: number;
  readonly server: string;
  /** The default station: the one a request without `station` reads. */
  readonly station: StationInfo;
  /** Every station the server serves, the default first. */
  readonly stations: readonly StationInfo[];
  readonly units: Units;
}

export interface ReadingReply {
  readonly type: 'reading';
  readonly id: number;
  /** The id of the station the value comes from. */
  readonly station: string;
  readonly reading: Reading;
  readonly value: number;
  readonly unit: string;
  /** Time of the observation, whole seconds (docs/PROTOCOL.md §5.2). */
  readonly observedAt: Date;
}

/**
 * An error reply. The server sends only its own codes; a client reads any
 * string, since a newer server may send a code this client does not know.
 */
export interface ErrorReply<Code extends string = ErrorCode> {
  readonly type: 'error';
  /** The id of the request this answers, or null when the error is not about one request. */
  readonly id: number | null;
  readonly code: Code;
  readonly message: string;
}

export type ServerMessage = Welcome | ReadingReply | ErrorReply;

/** A server message as a client receives it. */
export type ReceivedServerMessage = Welcome | ReadingReply | ErrorReply<string>;

/**
 * A frame that could not be taken as a client message. It still gets its
 * error reply, in its place among the replies (docs/PROTOCOL.md §6), so it
 * travels with the good ones.
 */
export interface Rejected {
  readonly type: 'rejected';
  readonly id: number | null;
  readonly code: ErrorCode;
  readonly message: string;
}

export function errorReply(id: number | null, code: ErrorCode, message: string): ErrorReply {
  return { type: 'error', id, code, message };
}

// ---------------------------------------------------------------- encoding

/*
 * Messages are written field by field with lib/msgpackWriter.ts, not by a
 * general encoder (issue #11): every real number is float 64 even when whole
 * (docs/PROTOCOL.md §3), which a general encoder does not do for a
 * JavaScript number, and nothing is written but the message's own fields, in
 * the order of its interface above (the order of docs/PROTOCOL.md's
 * examples). The bytes are those msgpackr wrote before, for every message
 * built in that order (spec/lib/protocol.spec.ts). The constant keys are
 * encoded once, here; a message copies their bytes.
 */

/** The one writer of this thread's messages; `encodeMessage` and `encodeMessages` do not nest. */
const writer = new MessagePackWriter();

function key(name: string): Uint8Array {
  return encodeConstant((w) => w.string(name));
}

/** A map's header and its first keys and constant values, as one run of bytes. */
function head(entries: number, type: ServerMessage['type'] | ClientMessage['type'], next: string) {
  return encodeConstant((w) => {
    w.mapHeader(entries);
    w.string('type');
    w.string(type);
    w.string(next);
  });
}

const KEY_ID = key('id');
const KEY_STATION = key('station');
const KEY_READING = key('reading');
const KEY_VALUE = key('value');
const KEY_UNIT = key('unit');
const KEY_OBSERVED_AT = key('observedAt');
const KEY_CODE = key('code');
const KEY_MESSAGE = key('message');
const KEY_SERVER = key('server');
const KEY_STATIONS = key('stations');
const KEY_UNITS = key('units');
const KEY_NAME = key('name');
const KEY_LATITUDE = key('latitude');
const KEY_LONGITUDE = key('longitude');
const KEY_ELEVATION = key('elevation');
const KEY_TEMPERATURE = key('temperature');
const KEY_PRESSURE = key('pressure');
const KEY_RAINFALL = key('rainfall');

const READING_HEAD = head(7, 'reading', 'id');
const ERROR_HEAD = head(4, 'error', 'id');
const WELCOME_HEAD = head(6, 'welcome', 'version');
const HELLO_HEAD = head(2, 'hello', 'version');
const READ_HEAD = head(3, 'read', 'id');
const READ_WITH_STATION_HEAD = head(4, 'read', 'id');

function writeStation(w: MessagePackWriter, station: StationInfo): void {
  w.mapHeader(5);
  w.raw(KEY_ID);
  w.string(station.id);
  w.raw(KEY_NAME);
  w.string(station.name);
  w.raw(KEY_LATITUDE);
  w.float64(station.latitude);
  w.raw(KEY_LONGITUDE);
  w.float64(station.longitude);
  w.raw(KEY_ELEVATION);
  w.float64(station.elevation);
}

function writeBody(w: MessagePackWriter, message: ServerMessage | ClientMessage): void {
  switch (message.type) {
    case 'reading':
      w.raw(READING_HEAD);
      w.integer(message.id);
      w.raw(KEY_STATION);
      w.string(message.station);
      w.raw(KEY_READING);
      w.string(message.reading);
      w.raw(KEY_VALUE);
      w.float64(message.value);
      w.raw(KEY_UNIT);
      w.string(message.unit);
      w.raw(KEY_OBSERVED_AT);
      w.timestamp(message.observedAt);
      return;
    case 'error':
      w.raw(ERROR_HEAD);
      if (message.id === null) w.nil();
      else w.integer(message.id);
      w.raw(KEY_CODE);
      w.string(message.code);
      w.raw(KEY_MESSAGE);
      w.string(message.message);
      return;
    case 'welcome':
      w.raw(WELCOME_HEAD);
      w.integer(message.version);
      w.raw(KEY_SERVER);
      w.string(message.server);
      w.raw(KEY_STATION);
      writeStation(w, message.station);
      w.raw(KEY_STATIONS);
      w.arrayHeader(message.stations.length);
      for (const station of message.stations) writeStation(w, station);
      w.raw(KEY_UNITS);
      w.mapHeader(3);
      w.raw(KEY_TEMPERATURE);
      w.string(message.units.temperature);
      w.raw(KEY_PRESSURE);
      w.string(message.units.pressure);
      w.raw(KEY_RAINFALL);
      w.string(message.units.rainfall);
      return;
    case 'hello':
      w.raw(HELLO_HEAD);
      w.integer(message.version);
      return;
    case 'read':
      w.raw(message.station === undefined ? READ_HEAD : READ_WITH_STATION_HEAD);
      w.integer(message.id);
      w.raw(KEY_READING);
      w.string(message.reading);
      if (message.station !== undefined) {
        w.raw(KEY_STATION);
        w.string(message.station);
      }
      return;
  }
}

/** One frame: the length prefix (docs/PROTOCOL.md §2), filled in once the body is written. */
function writeFrame(w: MessagePackWriter, message: ServerMessage | ClientMessage): void {
  const prefix = w.skip(FRAME_HEADER_BYTES);
  writeBody(w, message);
  w.setUint32At(prefix, w.length - prefix - FRAME_HEADER_BYTES);
}

/**
 * One message as a whole frame, length prefix included, ready to write.
 *
 * @throws RangeError when a reading's `observedAt` is an invalid Date.
 */
export function encodeMessage(message: ServerMessage | ClientMessage): Buffer {
  writer.reset();
  writeFrame(writer, message);
  return writer.copyOut();
}

/**
 * Several messages as whole frames back to back, in order, in one buffer:
 * a batch of replies goes out in one write (docs/PROTOCOL.md §7), without a
 * buffer per message to concatenate.
 *
 * @throws RangeError when a reading's `observedAt` is an invalid Date.
 */
export function encodeMessages(messages: readonly ServerMessage[]): Buffer {
  writer.reset();
  for (const message of messages) writeFrame(writer, message);
  return writer.copyOut();
}

// ---------------------------------------------------------------- decoding

// Records off: plain maps and arrays, as any MessagePack library writes them.
// A peer may write any integer as int 64 or uint 64 (a Go client writes an `int` so); msgpackr
// would hand those over as BigInt, which no field accepts. As numbers they pass the range checks.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

type Fields = Record<string, unknown>;

/** What a MessagePack map decodes to (msgpackr, mapsAsObjects). */
function isMap(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unpackBody(body: Uint8Array): { fields: Fields } | { error: string } {
  if (body.length === 0) return { error: 'empty frame body' };
  let value: unknown;
  try {
    value = unpackr.unpack(body);
  } catch (err) {
    return {
      error: `not a MessagePack value (${err instanceof Error ? err.message : String(err)})`,
    };
  }
  if (!isMap(value)) return { error: 'a message must be a MessagePack map' };
  return { fields: value };
}

function isUint32(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_REQUEST_ID
  );
}

function rejected(id: number | null, code: ErrorCode, message: string): Rejected {
  return { type: 'rejected', id, code, message };
}

/**
 * Reads one frame body from a client. Never throws: a body that is not a
 * valid message comes back as `Rejected`, with the request id when the body
 * carried a valid one, so the error reply can name it. Keys the protocol
 * does not define are ignored (docs/PROTOCOL.md §3).
 */
export function decodeClientMessage(body: Uint8Array): ClientMessage | Rejected {
  const unpacked = unpackBody(body);
  if ('error' in unpacked) return rejected(null, 'ERR_BAD_MESSAGE', unpacked.error);
  const { fields } = unpacked;
  switch (fields['type']) {
    case 'hello': {
      const version = fields['version'];
      if (!isUint32(version)) {
        return rejected(null, 'ERR_BAD_MESSAGE', 'hello.version must be an unsigned integer');
      }
      return { type: 'hello', version };
    }
    case 'read': {
      const id = fields['id'];
      if (!isUint32(id)) {
        return rejected(
          null,
          'ERR_BAD_MESSAGE',
          `read.id must be an integer from 0 to ${MAX_REQUEST_ID}`,
        );
      }
      const reading = fields['reading'];
      if (typeof reading !== 'string') {
        return rejected(id, 'ERR_BAD_MESSAGE', 'read.reading must be a string');
      }
      if (!isReading(reading)) {
        return rejected(
          id,
          'ERR_UNKNOWN_READING',
          `no reading named ${JSON.stringify(reading.slice(0, 64))}; readings are ${READINGS.join(', ')}`,
        );
      }
      const station = fields['station'];
      if (station === undefined || station === null) return { type: 'read', id, reading };
      if (typeof station !== 'string' || station === '' || station.length > MAX_STATION_ID_LENGTH) {
        return rejected(
          id,
          'ERR_BAD_MESSAGE',
          `read.station must be a station id of 1 to ${MAX_STATION_ID_LENGTH} characters`,
        );
      }
      return { type: 'read', id, reading, station };
    }
    default:
      return rejected(null, 'ERR_BAD_MESSAGE', 'type must be "hello" or "read"');
  }
}

function protocolError(message: string): MeteoError {
  return new MeteoError('ERR_PROTOCOL', message);
}

/*
 * Each check names the field by its path in the message (`welcome.stations[2].latitude`):
 * `at` is the path of the map that holds it.
 */

function requireString(fields: Fields, at: string, key: string): string {
  const value = fields[key];
  if (typeof value !== 'string') throw protocolError(`${at}.${key} must be a string`);
  return value;
}

function requireNumber(fields: Fields, at: string, key: string): number {
  const value = fields[key];
  if (typeof value !== 'number') throw protocolError(`${at}.${key} must be a number`);
  return value;
}

function requireMap(value: unknown, path: string): Fields {
  if (!isMap(value)) throw protocolError(`${path} must be a map`);
  return value;
}

function stationFrom(value: unknown, path: string): StationInfo {
  const station = requireMap(value, path);
  return {
    id: requireString(station, path, 'id'),
    name: requireString(station, path, 'name'),
    latitude: requireNumber(station, path, 'latitude'),
    longitude: requireNumber(station, path, 'longitude'),
    elevation: requireNumber(station, path, 'elevation'),
  };
}

/**
 * Reads one frame body from the server. Throws `MeteoError` with
 * `ERR_PROTOCOL` when the body is not a server message.
 */
export function decodeServerMessage(body: Uint8Array): ReceivedServerMessage {
  const unpacked = unpackBody(body);
  if ('error' in unpacked) throw protocolError(unpacked.error);
  const { fields } = unpacked;
  switch (fields['type']) {
    case 'welcome': {
      const station = stationFrom(fields['station'], 'welcome.station');
      const listed = fields['stations'];
      if (listed !== undefined && !Array.isArray(listed)) {
        throw protocolError('welcome.stations must be an array');
      }
      const units = requireMap(fields['units'], 'welcome.units');
      return {
        type: 'welcome',
        version: requireNumber(fields, 'welcome', 'version'),
        server: requireString(fields, 'welcome', 'server'),
        station,
        // A server that predates the list serves its one station.
        stations:
          listed === undefined
            ? [station]
            : listed.map((entry, i) => stationFrom(entry, `welcome.stations[${i}]`)),
        units: {
          temperature: requireString(units, 'welcome.units', 'temperature'),
          pressure: requireString(units, 'welcome.units', 'pressure'),
          rainfall: requireString(units, 'welcome.units', 'rainfall'),
        } as Units,
      };
    }
    case 'reading': {
      const reading = fields['reading'];
      if (!isReading(reading)) throw protocolError('reading.reading is not a known reading');
      const observedAt = fields['observedAt'];
      if (!(observedAt instanceof Date))
        throw protocolError('reading.observedAt must be a timestamp');
      const station = fields['station'];
      if (station !== undefined && typeof station !== 'string') {
        throw protocolError('reading.station must be a string');
      }
      return {
        type: 'reading',
        id: requireNumber(fields, 'reading', 'id'),
        station: station ?? '',
        reading,
        value: requireNumber(fields, 'reading', 'value'),
        unit: requireString(fields, 'reading', 'unit'),
        observedAt,
      };
    }
    case 'error': {
      const id = fields['id'];
      if (id !== null && typeof id !== 'number')
        throw protocolError('error.id must be a number or nil');
      return {
        type: 'error',
        id,
        code: requireString(fields, 'error', 'code'),
        message: requireString(fields, 'error', 'message'),
      };
    }
    default: {
      // Quote only a string, and only its start: any other value (nested thousands deep, say)
      // could make JSON.stringify throw, and this function throws only ERR_PROTOCOL.
      const type = fields['type'];
      throw protocolError(
        `unknown message type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 64)) : `(a ${typeof type})`}`,
      );
    }
  }
}
