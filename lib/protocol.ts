/**
 * The messages of the wire protocol (docs/PROTOCOL.md §3–§7) and their
 * MessagePack encoding. Pure: bytes in, typed messages out, and back.
 */
import { addExtension, Packr, RESERVE_START_SPACE, Unpackr } from 'msgpackr';
import { type ErrorCode, MeteoError } from './errors.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from './framing.js';

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

/**
 * msgpackr writes a whole number as a MessagePack integer. Readings are
 * doubles, and a client in a typed language must get a float 64 even for
 * 0.0 mm or 12.0 °C (docs/PROTOCOL.md §3). Wrapping a number in `Float64`
 * makes the encoder write marker 0xcb and the eight IEEE-754 bytes, whatever
 * the value. The extension writes in place through the allocator msgpackr
 * hands to `pack`, so no extension header is emitted; its type is only the
 * key msgpackr files it under, and the decoder rejects it on the wire.
 */
export class Float64 {
  constructor(readonly value: number) {}
}

const FLOAT64_EXTENSION_TYPE = 1;

/**
 * msgpackr calls an extension's `pack` with an allocator as its second
 * argument (pack.js, "extension.pack.call(this, value, (size) => ...)"): a
 * `pack` that writes through it and returns nothing adds no extension header.
 * The published type omits the allocator, hence the cast below.
 */
type Allocate = (size: number) => { target: Uint8Array; targetView: DataView; position: number };

function packFloat64(float: Float64, allocate: Allocate): void {
  const { target, targetView, position } = allocate(9);
  target[position] = 0xcb;
  targetView.setFloat64(position + 1, float.value);
}

addExtension({
  Class: Float64,
  type: FLOAT64_EXTENSION_TYPE,
  pack: packFloat64 as unknown as (value: unknown) => Buffer,
  unpack(): never {
    throw new Error(`MessagePack extension ${FLOAT64_EXTENSION_TYPE} is not part of the protocol`);
  },
});

// Records off: plain maps and arrays that any MessagePack library reads.
const packr = new Packr({ useRecords: false, variableMapSize: true });
// A peer may write any integer as int 64 or uint 64 (a Go client writes an `int` so); msgpackr
// would hand those over as BigInt, which no field accepts. As numbers they pass the range checks.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

function stationToWire(station: StationInfo): unknown {
  return {
    ...station,
    latitude: new Float64(station.latitude),
    longitude: new Float64(station.longitude),
    elevation: new Float64(station.elevation),
  };
}

/** The wire form of a message: numbers that are doubles by definition are wrapped. */
function toWire(message: ServerMessage | ClientMessage): unknown {
  switch (message.type) {
    case 'reading':
      return {
        type: message.type,
        id: message.id,
        station: message.station,
        reading: message.reading,
        value: new Float64(message.value),
        unit: message.unit,
        observedAt: message.observedAt,
      };
    case 'welcome':
      return {
        ...message,
        station: stationToWire(message.station),
        stations: message.stations.map(stationToWire),
      };
    default:
      return message;
  }
}

/** One message as a whole frame, length prefix included, ready to write. */
export function encodeMessage(message: ServerMessage | ClientMessage): Buffer {
  // Reserve the prefix in msgpackr's own buffer, so the frame is built without a copy.
  const out = packr.pack(toWire(message), RESERVE_START_SPACE | FRAME_HEADER_BYTES);
  return writeFrameHeader(out);
}

// ---------------------------------------------------------------- decoding

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
