/**
 * The messages of the wire protocol (docs/PROTOCOL.md §3–§7) and their
 * MessagePack encoding: written by lib/msgpackWriter.ts, read by msgpackr.
 * Pure: bytes in, typed messages out, and back.
 */
import { isUtf8 } from 'node:buffer';
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
  /**
   * Optional in a hello: when the map holds a valid request id, an error
   * answering the hello carries it (docs/PROTOCOL.md §6.4). The welcome does not.
   */
  readonly id?: number;
  /**
   * Optional: who the client is, for a server that requires it
   * (docs/PROTOCOL.md §4.1, issue #14). On the server it lives only between
   * the decoder and the connection actor, which checks it and drops it: no
   * state machine's context or event ever holds the secret.
   */
  readonly auth?: Credential;
}

/** A client's name in the server's auth file, and its secret (docs/PROTOCOL.md §4.1). */
export interface Credential {
  readonly name: string;
  readonly secret: string;
}

export interface ReadRequest {
  readonly type: 'read';
  readonly id: number;
  readonly reading: Reading;
  /** The id of the station to read; the server's default station when absent (docs/PROTOCOL.md §5.1). */
  readonly station?: string;
}

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
  /** The map's `id` when it is a valid request id (docs/PROTOCOL.md §6.4), else null. */
  readonly id: number | null;
  readonly code: ErrorCode;
  readonly message: string;
  /**
   * The message type the frame claimed, when it named one the protocol has
   * and only a later check failed (a field, the reading). The session checks
   * the handshake before those (docs/PROTOCOL.md §6.3), so a `read` before the
   * `hello` is answered ERR_HANDSHAKE_REQUIRED whatever its fields.
   */
  readonly claimed?: ClientMessage['type'];
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
/** A hello's first entries after its map header: its type, and the key of its version. */
const HELLO_FIELDS = encodeConstant((w) => {
  w.string('type');
  w.string('hello');
  w.string('version');
});
const KEY_AUTH = key('auth');
const KEY_NAME_OF_AUTH = key('name');
const KEY_SECRET = key('secret');
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
      if (message.auth === undefined && message.id === undefined) {
        w.raw(HELLO_HEAD);
        w.integer(message.version);
        return;
      }
      writeLongHello(w, message);
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

/** A hello with its optional fields, `id` and `auth` (§4.1), in the order of its interface. */
function writeLongHello(w: MessagePackWriter, message: Hello): void {
  const { id, auth } = message;
  w.mapHeader(2 + (id === undefined ? 0 : 1) + (auth === undefined ? 0 : 1));
  w.raw(HELLO_FIELDS);
  w.integer(message.version);
  if (id !== undefined) {
    w.raw(KEY_ID);
    w.integer(id);
  }
  if (auth === undefined) return;
  w.raw(KEY_AUTH);
  w.mapHeader(2);
  w.raw(KEY_NAME_OF_AUTH);
  w.string(auth.name);
  w.raw(KEY_SECRET);
  w.string(auth.secret);
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

/*
 * A client body is read by hand, in one pass over its bytes, by the rules of
 * docs/PROTOCOL.md §3, which are the MessagePack specification's formats with
 * a few restrictions. A general MessagePack library reads more than the
 * protocol allows (msgpackr takes a whole float 64 for an integer, reads its
 * own extensions as maps or as nothing, lets invalid UTF-8 through and keeps
 * the last of two equal keys), and checking its output would mean walking
 * each body a second time, which tripled the cost of a request (issue #12).
 * One pass checks the whole body and notes where the values of the six keys
 * the protocol defines start; the fields are then read from there.
 */

/** Why a body is not one well-formed message map (§3). Not an Error: no stack is captured. */
class Malformed {
  constructor(readonly reason: string) {}
}

const CUT_SHORT = new Malformed('the body ends inside a value');

/** The keys of a client message (§4.1, §5.1); a bit each, so a repeated one is seen at once. */
const FIELD_NAMES = ['type', 'id', 'version', 'reading', 'station', 'auth'] as const;
const FIELD_KEYS = FIELD_NAMES.map((name) => Buffer.from(name, 'latin1'));

const HELLO_BYTES = Buffer.from('hello', 'latin1');
const READ_BYTES = Buffer.from('read', 'latin1');
const READING_BYTES = READINGS.map((reading) => Buffer.from(reading, 'latin1'));

/** The MessagePack specification's name for the format whose first byte is `byte`. */
function formatName(byte: number): string {
  if (byte <= 0x7f) return 'positive fixint';
  if (byte <= 0x8f) return 'fixmap';
  if (byte <= 0x9f) return 'fixarray';
  if (byte <= 0xbf) return 'fixstr';
  if (byte >= 0xe0) return 'negative fixint';
  return FORMAT_NAMES[byte - 0xc0] as string;
}

const FORMAT_NAMES = [
  'nil',
  '(never used) 0xc1',
  'false',
  'true',
  'bin 8',
  'bin 16',
  'bin 32',
  'ext 8',
  'ext 16',
  'ext 32',
  'float 32',
  'float 64',
  'uint 8',
  'uint 16',
  'uint 32',
  'uint 64',
  'int 8',
  'int 16',
  'int 32',
  'int 64',
  'fixext 1',
  'fixext 2',
  'fixext 4',
  'fixext 8',
  'fixext 16',
  'str 8',
  'str 16',
  'str 32',
  'array 16',
  'array 32',
  'map 16',
  'map 32',
];

function sameBytes(body: Uint8Array, start: number, end: number, bytes: Uint8Array): boolean {
  if (end - start !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (body[start + i] !== bytes[i]) return false;
  return true;
}

/** Which of `list` the bytes from `start` to `end` are, or -1. */
function indexOfBytes(
  list: readonly Uint8Array[],
  body: Uint8Array,
  start: number,
  end: number,
): number {
  for (let i = 0; i < list.length; i++) {
    if (sameBytes(body, start, end, list[i] as Uint8Array)) return i;
  }
  return -1;
}

/** An unsigned big-endian integer of `width` bytes (1, 2 or 4) at `at`. */
function uintAt(body: Uint8Array, at: number, width: number): number {
  if (at + width > body.length) throw CUT_SHORT;
  let value = 0;
  for (let i = 0; i < width; i++) value = value * 256 + (body[at + i] as number);
  return value;
}

/** Where a str of `length` bytes from `start` ends, once its bytes are known to be UTF-8 (§3). */
function strEnd(body: Uint8Array, start: number, length: number): number {
  const end = start + length;
  if (end > body.length) throw CUT_SHORT;
  for (let i = start; i < end; i++) {
    // ASCII is UTF-8; past the first byte that is not, the native validator takes over.
    if ((body[i] as number) >= 0x80) {
      if (!isUtf8(body.subarray(i, end))) throw new Malformed('a str is not valid UTF-8');
      break;
    }
  }
  return end;
}

/**
 * Where the last str found by `isStrAt` starts and ends in the body. One
 * shared pair, not an object per str: a key is a str, and a body has several.
 */
const str = { start: 0, end: 0 };

/** Where `isMapAt` found a map's entries: how many, and where the first key starts. */
const map = { count: 0, start: 0 };

/** True when the value at `at` is a map (fixmap, map 16, map 32); then `map` says where its entries are. */
function isMapAt(body: Uint8Array, at: number): boolean {
  const byte = body[at] as number;
  if (byte >= 0x80 && byte <= 0x8f) {
    map.count = byte & 0x0f;
    map.start = at + 1;
    return true;
  }
  if (byte !== 0xde && byte !== 0xdf) return false;
  const width = byte === 0xde ? 2 : 4;
  map.count = uintAt(body, at + 1, width);
  map.start = at + 1 + width;
  return true;
}

/**
 * Notes the key at `start`..`end` of a map, one the protocol does not
 * define, in `others` (that map's); returns it, quoted for a message, when
 * it came before in the map, else null. Such keys are rare: only they cost
 * a string and a set.
 */
function repeatedKey(
  others: Set<string>,
  body: Uint8Array,
  start: number,
  end: number,
): string | null {
  const name = textOf(body, start, end);
  if (others.has(name)) return JSON.stringify(name.slice(0, 64));
  others.add(name);
  return null;
}

/** True when the value at `at` is a str; then `str` says where its bytes are. */
function isStrAt(body: Uint8Array, at: number): boolean {
  const byte = body[at] as number;
  if (byte >= 0xa0 && byte <= 0xbf) {
    str.start = at + 1;
    str.end = str.start + (byte & 0x1f);
    return true;
  }
  if (byte < 0xd9 || byte > 0xdb) return false;
  const width = 1 << (byte - 0xd9);
  str.start = at + 1 + width;
  str.end = str.start + uintAt(body, at + 1, width);
  return true;
}

/**
 * Steps over the one value that starts at `at`, nested values included, and
 * returns where it ends. Iterative: a deep value costs no stack. Every value
 * takes at least a byte, so a count that claims more than the body holds
 * runs out of bytes, not of time.
 */
function skipValue(body: Uint8Array, at: number): number {
  let pending = 1;
  while (pending > 0) {
    pending--;
    if (at >= body.length) throw CUT_SHORT;
    const byte = body[at++] as number;
    if (byte <= 0x7f || byte >= 0xe0) continue; // positive and negative fixint
    if (byte <= 0x8f) {
      pending += 2 * (byte & 0x0f); // fixmap: a key and a value per entry
    } else if (byte <= 0x9f) {
      pending += byte & 0x0f; // fixarray
    } else if (byte <= 0xbf) {
      at = strEnd(body, at, byte & 0x1f); // fixstr
    } else if (byte === 0xc1) {
      throw new Malformed('0xc1 is never used in MessagePack');
    } else if (byte <= 0xc3) {
      // nil, false, true
    } else if (byte <= 0xc6) {
      const width = 1 << (byte - 0xc4); // bin 8, 16, 32: a length, then the bytes
      at += width + uintAt(body, at, width);
    } else if (byte <= 0xc9) {
      const width = 1 << (byte - 0xc7); // ext 8, 16, 32: a length, the type, the data
      at += width + 1 + uintAt(body, at, width);
    } else if (byte <= 0xd3) {
      at += FIXED_WIDTHS[byte - 0xca] as number; // float 32, 64; uint 8–64; int 8–64
    } else if (byte <= 0xd8) {
      at += 1 + (1 << (byte - 0xd4)); // fixext 1, 2, 4, 8, 16: the type, then the data
    } else if (byte <= 0xdb) {
      const width = 1 << (byte - 0xd9); // str 8, 16, 32
      at = strEnd(body, at + width, uintAt(body, at, width));
    } else {
      const width = byte === 0xdc || byte === 0xde ? 2 : 4; // array 16, 32; map 16, 32
      pending += uintAt(body, at, width) * (byte >= 0xde ? 2 : 1);
      at += width;
    }
  }
  if (at > body.length) throw CUT_SHORT;
  return at;
}

/** Bytes after the first byte of float 32, float 64, uint 8–64 and int 8–64. */
const FIXED_WIDTHS = [4, 8, 1, 2, 4, 8, 1, 2, 4, 8];

/** Where the value of each key the protocol defines starts, or -1 when the map lacks it. */
interface FieldOffsets {
  type: number;
  id: number;
  version: number;
  reading: number;
  station: number;
  auth: number;
}

/**
 * Checks that the body is one well-formed message map (§3: one value, no
 * bytes after it, every str UTF-8, a map whose keys are strs, none twice)
 * and says where the fields are, or why it is not one (a `Malformed`
 * returned or thrown).
 */
function mapFields(body: Uint8Array): FieldOffsets | Malformed {
  if (body.length === 0) return new Malformed('the body is empty');
  if (!isMapAt(body, 0)) {
    // Returned, not thrown: junk is what most bodies that fail here are, and a throw costs more.
    return new Malformed(`a message is a MessagePack map, not ${formatName(body[0] as number)}`);
  }
  const { count } = map;
  let at = map.start;
  const offsets: FieldOffsets = {
    type: -1,
    id: -1,
    version: -1,
    reading: -1,
    station: -1,
    auth: -1,
  };
  let seen = 0;
  let others: Set<string> | undefined;
  for (let entry = 0; entry < count; entry++) {
    if (at >= body.length) throw CUT_SHORT;
    if (!isStrAt(body, at)) {
      throw new Malformed(
        `a key of the message map is ${formatName(body[at] as number)}, not a str`,
      );
    }
    const { start, end } = str;
    at = strEnd(body, start, end - start);
    const field = indexOfBytes(FIELD_KEYS, body, start, end);
    if (field >= 0) {
      if (seen & (1 << field)) {
        throw new Malformed(`the key ${JSON.stringify(FIELD_NAMES[field])} appears twice`);
      }
      seen |= 1 << field;
      offsets[FIELD_NAMES[field] as keyof FieldOffsets] = at;
    } else {
      others ??= new Set();
      const twice = repeatedKey(others, body, start, end);
      if (twice !== null) throw new Malformed(`the key ${twice} appears twice`);
    }
    at = skipValue(body, at);
  }
  if (at !== body.length) {
    throw new Malformed(`${body.length - at} bytes follow the message map`);
  }
  return offsets;
}

/**
 * The integer whose first byte is at `at` (any width of the int format
 * family), or NaN when the value there is not an integer. Integers past 2^53
 * come out approximate, which no range check of the protocol can mistake.
 */
function integerAt(body: Uint8Array, at: number): number {
  const byte = body[at] as number;
  if (byte <= 0x7f) return byte;
  if (byte >= 0xe0) return byte - 0x100;
  if (byte < 0xcc || byte > 0xd3) return Number.NaN;
  // uint 8–64, then int 8–64: the body is known to hold all their bytes (mapFields).
  const width = 1 << ((byte - 0xcc) & 3);
  const signed = byte >= 0xd0;
  if (width === 8) {
    // Two halves, so that -1 as int 64 comes out as -1, not as 2^64 - 2^64.
    const high = uintAt(body, at + 1, 4);
    const low = uintAt(body, at + 5, 4);
    return (signed && high >= 2 ** 31 ? high - 2 ** 32 : high) * 2 ** 32 + low;
  }
  const value = uintAt(body, at + 1, width);
  // An int whose top bit is set is negative: two's complement of `width` bytes.
  return signed && value >= 2 ** (8 * width - 1) ? value - 2 ** (8 * width) : value;
}

const UTF8 = new TextDecoder();

/** The text of a str value (already checked as UTF-8); built by hand when ASCII, which is faster for a few bytes. */
function textOf(body: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let i = start; i < end; i++) {
    const byte = body[i] as number;
    if (byte >= 0x80) return UTF8.decode(body.subarray(start, end));
    text += String.fromCharCode(byte);
  }
  return text;
}

/**
 * A string the client sent, quoted for an error message: its first 64
 * characters (code points, not UTF-16 units), so that a reply stays small.
 */
export function quote(text: string): string {
  return JSON.stringify(text.length <= 64 ? text : Array.from(text).slice(0, 64).join(''));
}

function quoted(body: Uint8Array, start: number, end: number): string {
  return quote(textOf(body, start, end));
}

const READINGS_ARE = `readings are ${READINGS.join(', ')}`;

/** What a field holds, in the specification's terms, for an error message. */
function describeValue(body: Uint8Array, at: number): string {
  const byte = body[at] as number;
  if (Number.isNaN(integerAt(body, at))) return formatName(byte);
  // A 64-bit integer is printed exactly: the message says what the client sent.
  if (byte === 0xcf)
    return `${formatName(byte)} ${new DataView(body.buffer, body.byteOffset + at + 1).getBigUint64(0)}`;
  if (byte === 0xd3)
    return `${formatName(byte)} ${new DataView(body.buffer, body.byteOffset + at + 1).getBigInt64(0)}`;
  return `${formatName(byte)} ${integerAt(body, at)}`;
}

/** The value at `at` as a request id or a version: an integer from 0 to 2^32−1, or NaN. */
function uint32At(body: Uint8Array, at: number): number {
  const value = at < 0 ? Number.NaN : integerAt(body, at);
  return value >= 0 && value <= MAX_REQUEST_ID ? value : Number.NaN;
}

/** Why the value at `at`, which `uint32At` refused, is not an integer from 0 to 2^32−1. */
function notUint32(body: Uint8Array, at: number, field: string): string {
  if (at < 0) return `${field} is missing`;
  return Number.isNaN(integerAt(body, at))
    ? `${field} must be an integer, not ${describeValue(body, at)}`
    : `${field} must be from 0 to ${MAX_REQUEST_ID}, not ${describeValue(body, at)}`;
}

function rejected(
  id: number | null,
  code: ErrorCode,
  message: string,
  claimed?: ClientMessage['type'],
): Rejected {
  return claimed === undefined
    ? { type: 'rejected', id, code, message }
    : { type: 'rejected', id, code, message, claimed };
}

/**
 * Reads one frame body from a client. Never throws: a body that is not a
 * valid message comes back as `Rejected`, with the code of the first check
 * of docs/PROTOCOL.md §6.3 it fails (of those that look at the frame alone),
 * and the request id when the body is a well-formed map that holds a valid
 * one (§6.4). Keys the protocol does not define are ignored, whatever their
 * values (§3).
 */
export function decodeClientMessage(body: Uint8Array): ClientMessage | Rejected {
  let fields: FieldOffsets | Malformed;
  try {
    fields = mapFields(body);
  } catch (err) {
    if (!(err instanceof Malformed)) throw err;
    fields = err;
  }
  if (fields instanceof Malformed) return rejected(null, 'ERR_BAD_MESSAGE', fields.reason);
  // Each check below is a row of §6.3, in its order; the id is echoed from here on (§6.4).
  const idOrNaN = uint32At(body, fields.id);
  const id = Number.isNaN(idOrNaN) ? null : idOrNaN;
  if (fields.type < 0) return rejected(id, 'ERR_BAD_MESSAGE', 'the message has no type');
  if (!isStrAt(body, fields.type)) {
    return rejected(
      id,
      'ERR_BAD_MESSAGE',
      `type must be a str, not ${describeValue(body, fields.type)}`,
    );
  }
  if (sameBytes(body, str.start, str.end, HELLO_BYTES)) {
    const version = uint32At(body, fields.version);
    if (Number.isNaN(version)) {
      return rejected(
        id,
        'ERR_BAD_MESSAGE',
        notUint32(body, fields.version, 'hello.version'),
        'hello',
      );
    }
    if (fields.auth < 0) {
      return id === null ? { type: 'hello', version } : { type: 'hello', version, id };
    }
    const auth = credentialAt(body, fields.auth);
    if (typeof auth === 'string') return rejected(id, 'ERR_BAD_MESSAGE', auth, 'hello');
    return id === null ? { type: 'hello', version, auth } : { type: 'hello', version, id, auth };
  }
  if (!sameBytes(body, str.start, str.end, READ_BYTES)) {
    return rejected(
      id,
      'ERR_BAD_MESSAGE',
      `type must be "hello" or "read", not ${quoted(body, str.start, str.end)}`,
    );
  }
  if (id === null) {
    return rejected(null, 'ERR_BAD_MESSAGE', notUint32(body, fields.id, 'read.id'), 'read');
  }
  if (fields.reading < 0) return rejected(id, 'ERR_BAD_MESSAGE', 'read.reading is missing', 'read');
  if (!isStrAt(body, fields.reading)) {
    return rejected(
      id,
      'ERR_BAD_MESSAGE',
      `read.reading must be a str, not ${describeValue(body, fields.reading)}`,
      'read',
    );
  }
  const { start, end } = str;
  // Absent, or nil: the default station (§5.1).
  const named = fields.station >= 0 && body[fields.station] !== 0xc0;
  if (named && !isStrAt(body, fields.station)) {
    return rejected(
      id,
      'ERR_BAD_MESSAGE',
      `read.station must be a str or nil, not ${describeValue(body, fields.station)}`,
      'read',
    );
  }
  const reading = READINGS[indexOfBytes(READING_BYTES, body, start, end)];
  if (reading === undefined) {
    return rejected(
      id,
      'ERR_UNKNOWN_READING',
      `no reading named ${quoted(body, start, end)}; ${READINGS_ARE}`,
      'read',
    );
  }
  return named
    ? { type: 'read', id, reading, station: textOf(body, str.start, str.end) }
    : { type: 'read', id, reading };
}

/** The keys of a hello's `auth` map (§4.1). */
const AUTH_NAMES = ['name', 'secret'] as const;
const AUTH_KEYS = AUTH_NAMES.map((name) => Buffer.from(name, 'latin1'));

/**
 * The credential of a hello, from its `auth` value at `at` (§4.1): a map
 * whose keys are strs, none twice (as the message map's, §3.2), with a str
 * `name` and a str `secret`; the values of other keys are ignored. Or why
 * it is not one, for ERR_BAD_MESSAGE (§6.3 step 5). Whether the server
 * knows the client is not the frame's business: the connection actor
 * checks that. The body is known to be well-formed (mapFields), so every
 * length fits.
 */
function credentialAt(body: Uint8Array, at: number): Credential | string {
  if (!isMapAt(body, at)) return `hello.auth must be a map, not ${describeValue(body, at)}`;
  const { count } = map;
  at = map.start;
  const values = ['', ''];
  let seen = 0;
  let others: Set<string> | undefined;
  for (let entry = 0; entry < count; entry++) {
    if (!isStrAt(body, at))
      return `a key of hello.auth is ${formatName(body[at] as number)}, not a str`;
    const field = indexOfBytes(AUTH_KEYS, body, str.start, str.end);
    at = str.end;
    if (field >= 0) {
      const name = AUTH_NAMES[field] as string;
      if (seen & (1 << field)) return `the key "${name}" appears twice in hello.auth`;
      seen |= 1 << field;
      if (!isStrAt(body, at))
        return `hello.auth.${name} must be a str, not ${describeValue(body, at)}`;
      values[field] = textOf(body, str.start, str.end);
    } else {
      // A key it does not define may come once too, as in the message map (§3.2).
      others ??= new Set();
      const twice = repeatedKey(others, body, str.start, str.end);
      if (twice !== null) return `the key ${twice} appears twice in hello.auth`;
    }
    at = skipValue(body, at);
  }
  for (let field = 0; field < AUTH_NAMES.length; field++) {
    if (!(seen & (1 << field))) return `hello.auth.${AUTH_NAMES[field]} is missing`;
  }
  return { name: values[0] as string, secret: values[1] as string };
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
