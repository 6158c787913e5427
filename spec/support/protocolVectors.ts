/**
 * Where docs/protocol-vectors.json comes from. Each vector is written here
 * in a readable form and turned into bytes by a few helpers that follow the
 * MessagePack specification directly, not by lib/protocol.ts, so that the
 * kit does not share a fault with the code it tests. The file is what
 * counts: spec/integration/conformance.spec.ts fails when it is not what
 * this writes. After changing a vector, write the file again (biome then
 * lays it out as it lays out every JSON file here):
 *
 *   npm run build && node dist/spec/support/protocolVectors.js > docs/protocol-vectors.json && npm run format
 */
import { isEntryPoint } from '../../actors/cli/program.js';

// ---------------------------------------------------------------- MessagePack, by the specification

/** Hex with the spaces taken out: vectors are written with spaces for reading. */
function h(...parts: string[]): string {
  return parts.join('').replace(/\s+/g, '').toLowerCase();
}

function be(value: number, bytes: number): string {
  return value.toString(16).padStart(2 * bytes, '0');
}

/** A str in its smallest format: fixstr, str 8, str 16. */
function str(text: string): string {
  const utf8 = Buffer.from(text, 'utf8').toString('hex');
  const length = utf8.length / 2;
  if (length < 32) return be(0xa0 | length, 1) + utf8;
  return (length < 256 ? `d9${be(length, 1)}` : `da${be(length, 2)}`) + utf8;
}

/** A str whose UTF-8 bytes are given as hex, in a fixstr: for invalid UTF-8 on purpose. */
function rawStr(bytes: string): string {
  return be(0xa0 | (h(bytes).length / 2), 1) + h(bytes);
}

/** A non-negative integer in its smallest format. */
function int(value: number): string {
  if (value < 0) return value >= -32 ? be(0x100 + value, 1) : `d0${be(0x100 + value, 1)}`;
  if (value < 0x80) return be(value, 1);
  if (value < 0x100) return `cc${be(value, 1)}`;
  if (value < 0x10000) return `cd${be(value, 2)}`;
  if (value < 2 ** 32) return `ce${be(value, 4)}`;
  return `cf${be(Math.floor(value / 2 ** 32), 4)}${be(value % 2 ** 32, 4)}`;
}

/** 7 in every width of the int format family. */
const SEVENS: readonly (readonly [string, string])[] = [
  ['positive fixint', '07'],
  ['uint 8', 'cc07'],
  ['uint 16', 'cd0007'],
  ['uint 32', 'ce00000007'],
  ['uint 64', 'cf0000000000000007'],
  ['int 8', 'd007'],
  ['int 16', 'd10007'],
  ['int 32', 'd200000007'],
  ['int 64', 'd30000000000000007'],
];

const NIL = 'c0';
const TRUE = 'c3';
const FLOAT64_ONE = 'cb3ff0000000000000';
const FLOAT32_ONE = 'ca3f800000';

type Entry = readonly [key: string, value: string];

/** A map of entries whose keys and values are already hex; a key given as plain text is made a str. */
function map(...entries: Entry[]): string {
  const header = entries.length < 16 ? be(0x80 | entries.length, 1) : `de${be(entries.length, 2)}`;
  return header + entries.map(([key, value]) => key + h(value)).join('');
}

/** An entry whose key is the str `key`. */
function e(key: string, value: string): Entry {
  return [str(key), value];
}

/** A whole frame: the 4-byte big-endian length, then the body. */
function frame(body: string): string {
  return be(h(body).length / 2, 4) + h(body);
}

// ---------------------------------------------------------------- the messages of the protocol

const HELLO_BODY = map(e('type', str('hello')), e('version', int(1)));
const HELLO = frame(HELLO_BODY);

function readBody(id: number, reading: string, ...more: Entry[]): string {
  return map(e('type', str('read')), e('id', int(id)), e('reading', str(reading)), ...more);
}

/** A read of pressure whose id is the given hex value: for ids of every kind. */
function readWithId(id: string): string {
  return map(e('type', str('read')), e('id', id), e('reading', str('pressure')));
}

/** A read with id 7 whose reading is the given hex value. */
function readWithReading(reading: string): string {
  return map(e('type', str('read')), e('id', int(7)), e('reading', reading));
}

function read(id: number, reading: string, ...more: Entry[]): string {
  return frame(readBody(id, reading, ...more));
}

/** The default station the kit expects the server to serve (§11). */
const STATION = 'seattle';
/** A station the kit expects the server not to serve. */
const NOWHERE = 'atlantis';

const UNITS: Readonly<Record<string, string>> = {
  minTemperature: '°C',
  maxTemperature: '°C',
  pressure: 'hPa',
  rainfall: 'mm',
};

const WELCOME = { type: 'welcome', version: 1 };

const WELCOME_IN_FULL = {
  type: 'welcome',
  version: 1,
  server: { format: 'str' },
  station: {
    id: STATION,
    name: { format: 'str' },
    latitude: { format: 'float 64' },
    longitude: { format: 'float 64' },
    elevation: { format: 'float 64' },
  },
  stations: [{ id: STATION, name: { format: 'str' } }],
  units: { temperature: '°C', pressure: 'hPa', rainfall: 'mm' },
};

function reading(id: number, name: string, station = STATION): object {
  return {
    type: 'reading',
    id,
    station,
    reading: name,
    value: { format: 'float 64' },
    unit: UNITS[name],
    observedAt: { format: 'timestamp 32' },
  };
}

function error(code: string, id: number | null = null): object {
  return { type: 'error', id, code, message: { format: 'str' } };
}

/** A read that shows the connection still serves, after whatever came before it. */
const PROBE = read(4242, 'pressure');
const PROBED = reading(4242, 'pressure');

// ---------------------------------------------------------------- the vectors

interface Vector {
  readonly name: string;
  readonly section: string;
  readonly note: string;
  readonly send: readonly string[];
  readonly split?: 'every-byte';
  readonly end?: false;
  readonly expect: readonly object[];
}

const vectors: Vector[] = [];

function vector(
  name: string,
  section: string,
  note: string,
  send: readonly string[],
  expect: readonly object[],
  options: { split?: 'every-byte'; end?: false } = {},
): void {
  vectors.push({ name, section, note, send: send.map((write) => h(write)), ...options, expect });
}

/** After a hello, `bodies` as frames in one write, then a probe: each body's reply, then the probe's. */
function afterHello(
  name: string,
  section: string,
  note: string,
  body: string,
  reply: object,
): void {
  vector(name, section, note, [HELLO + frame(body) + PROBE], [WELCOME, reply, PROBED]);
}

// §4 The handshake.
vector('handshake/hello', '4', 'hello version 1: the welcome, in full', [HELLO], [WELCOME_IN_FULL]);
for (const [format, seven] of SEVENS) {
  const one = seven.replace(/07$/, '01');
  vector(
    `handshake/version as ${format}`,
    '3.1',
    `hello whose version 1 is written as ${format}`,
    [frame(map(e('type', str('hello')), e('version', one)))],
    [WELCOME],
  );
}
vector(
  'handshake/hello as map 16',
  '3.1',
  'a hello whose map is a map 16',
  [frame(`de0002${HELLO_BODY.slice(2)}`)],
  [WELCOME],
);
vector(
  'handshake/hello as map 32',
  '3.1',
  'a hello whose map is a map 32',
  [frame(`df00000002${HELLO_BODY.slice(2)}`)],
  [WELCOME],
);
for (const [format, header] of [
  ['str 8', (n: number) => `d9${be(n, 1)}`],
  ['str 16', (n: number) => `da${be(n, 2)}`],
  ['str 32', (n: number) => `db${be(n, 4)}`],
] as const) {
  const wide = (text: string) => header(text.length) + Buffer.from(text).toString('hex');
  vector(
    `handshake/keys and type as ${format}`,
    '3.1',
    `a hello whose keys and type are ${format}`,
    [frame(map([wide('type'), wide('hello')], [wide('version'), int(1)]))],
    [WELCOME],
  );
}
vector(
  'handshake/unknown keys',
  '3.1',
  'a hello with keys the protocol does not define, before and after its own',
  [
    frame(
      map(e('client', str('kit')), e('type', str('hello')), e('version', int(1)), e('x', '9101')),
    ),
  ],
  [WELCOME],
);
vector(
  'handshake/hello with an id',
  '4.1',
  'a hello of version 1 with an id: the welcome, which has no id',
  [frame(map(e('type', str('hello')), e('version', int(1)), e('id', int(5))))],
  [WELCOME],
);
vector(
  'handshake/hello and a read in one write',
  '4.3',
  'hello and a read written together, without waiting for the welcome',
  [HELLO + read(1, 'pressure')],
  [WELCOME, reading(1, 'pressure')],
);
vector(
  'handshake/second hello',
  '4.3',
  'a second hello: ERR_ALREADY_GREETED, id nil; the connection serves on',
  [HELLO + HELLO + PROBE],
  [WELCOME, error('ERR_ALREADY_GREETED'), PROBED],
);
vector(
  'handshake/second hello of another version',
  '6.3',
  'a second hello of version 2: ERR_ALREADY_GREETED (the handshake before the version), no close',
  [HELLO + frame(map(e('type', str('hello')), e('version', int(2)))) + PROBE],
  [WELCOME, error('ERR_ALREADY_GREETED'), PROBED],
);
vector(
  'handshake/second hello with a bad version',
  '6.3',
  'a second hello whose version is a str: ERR_ALREADY_GREETED, the handshake before the fields',
  [HELLO + frame(map(e('type', str('hello')), e('version', str('1')))) + PROBE],
  [WELCOME, error('ERR_ALREADY_GREETED'), PROBED],
);
vector(
  'handshake/second hello with an id',
  '6.4',
  'a second hello with id 9: ERR_ALREADY_GREETED carries it',
  [HELLO + frame(map(e('type', str('hello')), e('version', int(1)), e('id', int(9)))) + PROBE],
  [WELCOME, error('ERR_ALREADY_GREETED', 9), PROBED],
);
for (const version of [2, 0, 4_294_967_295]) {
  vector(
    `handshake/unsupported version ${version}`,
    '4.3',
    `hello version ${version}: ERR_UNSUPPORTED_VERSION, then the server closes (the client does not half-close)`,
    [frame(map(e('type', str('hello')), e('version', int(version))))],
    [error('ERR_UNSUPPORTED_VERSION')],
    { end: false },
  );
}
vector(
  'handshake/unsupported version with an id',
  '6.4',
  'hello version 2 with id 5: ERR_UNSUPPORTED_VERSION carries it, then the close',
  [frame(map(e('type', str('hello')), e('version', int(2)), e('id', int(5))))],
  [error('ERR_UNSUPPORTED_VERSION', 5)],
  { end: false },
);
vector(
  'handshake/unsupported version, then more frames',
  '4.3',
  'hello version 2, a hello and a read in the same write: only the error; what follows is not answered',
  [frame(map(e('type', str('hello')), e('version', int(2)))) + HELLO + read(1, 'pressure')],
  [error('ERR_UNSUPPORTED_VERSION')],
  { end: false },
);
for (const [what, value] of [
  ['negative', int(-1)],
  ['2^32', int(2 ** 32)],
  ['float 64 1.0', FLOAT64_ONE],
  ['float 32 1.0', FLOAT32_ONE],
  ['a str', str('1')],
  ['nil', NIL],
  ['true', TRUE],
  ['bin', 'c40101'],
] as const) {
  vector(
    `handshake/version ${what}`,
    '6.3',
    `hello whose version is ${what}: ERR_BAD_MESSAGE, no close; a hello may follow`,
    [frame(map(e('type', str('hello')), e('version', value))) + HELLO],
    [error('ERR_BAD_MESSAGE'), WELCOME],
  );
}
vector(
  'handshake/version missing',
  '6.3',
  'hello without a version: ERR_BAD_MESSAGE; a hello may follow',
  [frame(map(e('type', str('hello')))) + HELLO],
  [error('ERR_BAD_MESSAGE'), WELCOME],
);
vector(
  'handshake/bad version with an id',
  '6.4',
  'hello whose version is a str, with id 4: ERR_BAD_MESSAGE carries the id',
  [frame(map(e('type', str('hello')), e('version', str('x')), e('id', int(4)))) + HELLO],
  [error('ERR_BAD_MESSAGE', 4), WELCOME],
);
// §4.1 The credential's shape is checked with the fields, before anything about the client:
// these hold for a server with or without an auth file, on any address (issue #14).
const SECRET = str('0123456789abcdef');
for (const [what, auth] of [
  ['a str', str('kit')],
  ['nil', NIL],
  ['a map without a secret', map(e('name', str('kit')))],
  ['a map without a name', map(e('secret', SECRET))],
  ['a map whose name is an integer', map(e('name', int(7)), e('secret', SECRET))],
  ['a map whose secret is a bin', map(e('name', str('kit')), e('secret', 'c4 01 61'))],
  ['a map with a key twice', map(e('name', str('kit')), e('secret', SECRET), e('name', str('x')))],
  [
    'a map with a key it does not define twice',
    map(e('name', str('kit')), e('secret', SECRET), e('x', int(1)), e('x', int(2))),
  ],
  [
    'a map with a key that is not a str',
    map(e('name', str('kit')), e('secret', SECRET), [int(1), NIL]),
  ],
] as const) {
  vector(
    `handshake/auth ${what}`,
    '4.1',
    `hello whose auth is ${what}, with id 6: ERR_BAD_MESSAGE carries the id, no close; a hello may follow`,
    [
      frame(map(e('type', str('hello')), e('version', int(1)), e('id', int(6)), e('auth', auth))) +
        HELLO,
    ],
    [error('ERR_BAD_MESSAGE', 6), WELCOME],
  );
}
vector(
  'handshake/bad version and bad auth',
  '6.3',
  'hello whose version is a str and whose auth is a str: ERR_BAD_MESSAGE (one reply); a hello may follow',
  [frame(map(e('type', str('hello')), e('version', str('1')), e('auth', str('kit')))) + HELLO],
  [error('ERR_BAD_MESSAGE'), WELCOME],
);
vector(
  'handshake/second hello with a bad auth',
  '6.3',
  'a second hello whose auth is a str: ERR_ALREADY_GREETED, the handshake before the fields',
  [
    HELLO +
      frame(map(e('type', str('hello')), e('version', int(1)), e('auth', str('kit')))) +
      PROBE,
  ],
  [WELCOME, error('ERR_ALREADY_GREETED'), PROBED],
);
vector(
  'handshake/read before hello',
  '4.3',
  'a read before hello: ERR_HANDSHAKE_REQUIRED with its id; then a hello and a read are served',
  [read(1, 'pressure') + HELLO + read(2, 'rainfall')],
  [error('ERR_HANDSHAKE_REQUIRED', 1), WELCOME, reading(2, 'rainfall')],
);
vector(
  'handshake/reads before hello, pipelined',
  '4.3',
  'three reads before hello, in one write: three ERR_HANDSHAKE_REQUIRED, in order',
  [read(1, 'pressure') + read(2, 'rainfall') + read(3, 'minTemperature')],
  [1, 2, 3].map((id) => error('ERR_HANDSHAKE_REQUIRED', id)),
);

// §6.3 The order of the checks, before the hello: the handshake comes before every field.
const BEFORE_HELLO: readonly (readonly [string, string, object])[] = [
  ['an unknown reading', readBody(7, 'humidity'), error('ERR_HANDSHAKE_REQUIRED', 7)],
  [
    'an unknown station',
    readBody(7, 'pressure', e('station', str(NOWHERE))),
    error('ERR_HANDSHAKE_REQUIRED', 7),
  ],
  ['a reading that is an integer', readWithReading(int(3)), error('ERR_HANDSHAKE_REQUIRED', 7)],
  ['no reading', map(e('type', str('read')), e('id', int(7))), error('ERR_HANDSHAKE_REQUIRED', 7)],
  [
    'a station that is an integer',
    readBody(7, 'pressure', e('station', int(1))),
    error('ERR_HANDSHAKE_REQUIRED', 7),
  ],
  ['an id that is a float', readWithId(FLOAT64_ONE), error('ERR_HANDSHAKE_REQUIRED')],
  [
    'no id',
    map(e('type', str('read')), e('reading', str('pressure'))),
    error('ERR_HANDSHAKE_REQUIRED'),
  ],
  ['a negative id', readWithId(int(-1)), error('ERR_HANDSHAKE_REQUIRED')],
  ['an id that is a str', readWithId(str('7')), error('ERR_HANDSHAKE_REQUIRED')],
  [
    'an unknown type, with an id: the type before the handshake',
    map(e('type', str('write')), e('id', int(7))),
    error('ERR_BAD_MESSAGE', 7),
  ],
  [
    'a key twice: decoding before the handshake',
    map(e('type', str('read')), e('id', int(7)), e('id', int(7)), e('reading', str('pressure'))),
    error('ERR_BAD_MESSAGE'),
  ],
  ['0xc1: decoding before the handshake', 'c1', error('ERR_BAD_MESSAGE')],
  ['an empty body: decoding before the handshake', '', error('ERR_BAD_MESSAGE')],
];
for (const [what, body, reply] of BEFORE_HELLO) {
  vector(
    `precedence/before hello, a read with ${what}`,
    '6.3',
    `before hello, a read with ${what}; then hello and a read are served`,
    [frame(body) + HELLO + PROBE],
    [reply, WELCOME, PROBED],
  );
}

// §6.3 after the hello: fields before values, the reading before the station.
const AFTER_HELLO: readonly (readonly [string, string, object])[] = [
  [
    'an unknown reading at an unknown station: the reading first',
    readBody(7, 'humidity', e('station', str(NOWHERE))),
    error('ERR_UNKNOWN_READING', 7),
  ],
  [
    'a station that is an integer and an unknown reading: the field first',
    readBody(7, 'humidity', e('station', int(1))),
    error('ERR_BAD_MESSAGE', 7),
  ],
  [
    'a reading that is an integer and an unknown station: the field first',
    map(e('type', str('read')), e('id', int(7)), e('reading', int(1)), e('station', str(NOWHERE))),
    error('ERR_BAD_MESSAGE', 7),
  ],
  [
    'an id that is not one, and an unknown reading',
    map(e('type', str('read')), e('id', int(-5)), e('reading', str('humidity'))),
    error('ERR_BAD_MESSAGE'),
  ],
  [
    'an unknown type, a valid id and an unknown reading: the type first',
    map(e('type', str('reed')), e('id', int(7)), e('reading', str('humidity'))),
    error('ERR_BAD_MESSAGE', 7),
  ],
  [
    'a key twice and a valid id: no id, the map is not trusted',
    map(
      e('type', str('read')),
      e('id', int(7)),
      e('reading', str('pressure')),
      e('reading', str('pressure')),
    ),
    error('ERR_BAD_MESSAGE'),
  ],
  [
    'invalid UTF-8 in an unknown key, and a valid id',
    readBody(7, 'pressure', [rawStr('ff'), NIL]),
    error('ERR_BAD_MESSAGE'),
  ],
  ['a byte after a valid read', `${readBody(7, 'pressure')}00`, error('ERR_BAD_MESSAGE')],
  [
    'an integer key beside a valid read',
    readBody(7, 'pressure', [int(1), NIL]),
    error('ERR_BAD_MESSAGE'),
  ],
];
for (const [what, body, reply] of AFTER_HELLO) {
  afterHello(`precedence/${what}`, '6.3', `after hello, a read with ${what}`, body, reply);
}

// §6.4 The id of an error.
const ECHOES: readonly (readonly [string, string, object])[] = [
  ['no type', map(e('id', int(7)), e('reading', str('pressure'))), error('ERR_BAD_MESSAGE', 7)],
  [
    'a type that is an integer',
    map(e('type', int(1)), e('id', int(7))),
    error('ERR_BAD_MESSAGE', 7),
  ],
  ['a type in capitals', map(e('type', str('READ')), e('id', int(7))), error('ERR_BAD_MESSAGE', 7)],
  ['a type that is nil', map(e('type', NIL), e('id', int(7))), error('ERR_BAD_MESSAGE', 7)],
  [
    'a type written as bin',
    map(e('type', 'c40472656164'), e('id', int(7))),
    error('ERR_BAD_MESSAGE', 7),
  ],
  [
    'the largest id',
    readBody(4_294_967_295, 'humidity'),
    error('ERR_UNKNOWN_READING', 4_294_967_295),
  ],
  ['id 0', readBody(0, 'humidity'), error('ERR_UNKNOWN_READING', 0)],
  [
    'an id written as uint 64',
    map(e('type', str('read')), e('id', 'cf0000000000000007'), e('reading', str('humidity'))),
    error('ERR_UNKNOWN_READING', 7),
  ],
  [
    'an unknown type with id -1',
    map(e('type', str('write')), e('id', int(-1))),
    error('ERR_BAD_MESSAGE'),
  ],
  [
    'an unknown type with an id of 2^32',
    map(e('type', str('write')), e('id', int(2 ** 32))),
    error('ERR_BAD_MESSAGE'),
  ],
  [
    'an unknown type with id float 64 1.0',
    map(e('type', str('write')), e('id', FLOAT64_ONE)),
    error('ERR_BAD_MESSAGE'),
  ],
];
for (const [what, body, reply] of ECHOES) {
  afterHello(`id/${what}`, '6.4', `after hello, a map with ${what}`, body, reply);
}

// §3.2 Bodies that are not well-formed: ERR_BAD_MESSAGE, id nil, the connection serves on.
const VALID_READ = readBody(7, 'pressure');
const MALFORMED: readonly (readonly [string, string])[] = [
  ['an empty body', ''],
  ['0xc1', 'c1'],
  ['0xc1 under an unknown key', readBody(7, 'pressure', e('x', 'c1'))],
  ['a map cut after its header', VALID_READ.slice(0, 2)],
  ['a map cut inside a key', VALID_READ.slice(0, 6)],
  ['a map cut before its last value', VALID_READ.slice(0, VALID_READ.length - 18)],
  ['a byte after the map', `${VALID_READ}c0`],
  ['two maps', VALID_READ + VALID_READ],
  ['an array', `93${str('read')}07${str('pressure')}`],
  ['a str', str('read')],
  ['nil', NIL],
  ['an integer', '07'],
  ['a float 64', FLOAT64_ONE],
  ['a bin', 'c40107'],
  ['a timestamp', 'd6ff00000000'],
  ['true', TRUE],
  ['a map as an extension (fixext 1, type 0x72)', `d47240${VALID_READ}`],
  ['an integer key', readBody(7, 'pressure', [int(1), NIL])],
  ['a nil key', readBody(7, 'pressure', [NIL, NIL])],
  ['a bin key', map(['c40474797065', str('read')], e('id', int(7)), e('reading', str('pressure')))],
  ['an array key', readBody(7, 'pressure', ['9100', NIL])],
  ['a float key', readBody(7, 'pressure', [FLOAT64_ONE, NIL])],
  ['the key "type" twice', readBody(7, 'pressure', e('type', str('read')))],
  ['the key "id" twice', readBody(7, 'pressure', e('id', int(8)))],
  ['the key "reading" twice', readBody(7, 'pressure', e('reading', str('rainfall')))],
  ['the key "station" twice', readBody(7, 'pressure', e('station', NIL), e('station', NIL))],
  ['an unknown key twice', readBody(7, 'pressure', e('x', int(1)), e('x', int(2)))],
  ['a key twice, once as str 8', readBody(7, 'pressure', e('x', int(1)), ['d90178', int(2)])],
  ['"type" twice, once as str 8', readBody(7, 'pressure', ['d90474797065', str('read')])],
  ['invalid UTF-8 in the type', map(e('type', rawStr('72 65 61 e4')), e('id', int(7)))],
  ['invalid UTF-8 in the reading', readWithReading(rawStr('c3 28'))],
  ['invalid UTF-8 in the station', readBody(7, 'pressure', e('station', rawStr('61 ff 62')))],
  ['invalid UTF-8 in a key', readBody(7, 'pressure', [rawStr('80 80'), NIL])],
  ['invalid UTF-8 in an unknown value', readBody(7, 'pressure', e('x', rawStr('fe')))],
  [
    'invalid UTF-8 deep in an unknown value',
    readBody(7, 'pressure', e('x', `9181${str('a')}${rawStr('ff')}`)),
  ],
  ['an overlong UTF-8 form (c0 80)', readBody(7, 'pressure', e('x', rawStr('c0 80')))],
  ['an overlong UTF-8 form (e0 80 af)', readBody(7, 'pressure', e('x', rawStr('e0 80 af')))],
  ['a UTF-8 encoded surrogate (ed a0 80)', readBody(7, 'pressure', e('x', rawStr('ed a0 80')))],
  [
    'a code point past U+10FFFF (f4 90 80 80)',
    readBody(7, 'pressure', e('x', rawStr('f4 90 80 80'))),
  ],
  ['a UTF-8 sequence cut short (e2 82)', readBody(7, 'pressure', e('x', rawStr('e2 82')))],
  ['a lone UTF-8 continuation byte (80)', readBody(7, 'pressure', e('x', rawStr('41 80 41')))],
  ['the byte f8, never in UTF-8', readBody(7, 'pressure', e('x', rawStr('f8 88 80 80 80')))],
  ['a map 32 that claims 2^32-1 entries', 'dfffffffff'],
  ['a str 32 that claims 4 GiB', `81${str('type')}dbffffffff`],
  [
    'an array 32 under an unknown key that claims 2^32-1 elements',
    readBody(7, 'pressure', e('x', 'ddffffffff')),
  ],
  ['an ext 32 that runs past the body', readBody(7, 'pressure', e('x', 'c9000000ff01'))],
];
for (const [what, body] of MALFORMED) {
  afterHello(
    `decoding/${what}`,
    '3.2',
    `after hello, a body with ${what}`,
    body,
    error('ERR_BAD_MESSAGE'),
  );
}

// §3.1 What the server takes: every format the specification offers for a field, and anything
// under a key it does not define.
for (const [format, seven] of SEVENS) {
  afterHello(
    `encoding/id as ${format}`,
    '3.1',
    `a read whose id 7 is written as ${format}`,
    readWithId(seven),
    reading(7, 'pressure'),
  );
}
afterHello(
  'encoding/read as map 16',
  '3.1',
  'a read whose map is a map 16',
  `de0003${VALID_READ.slice(2)}`,
  reading(7, 'pressure'),
);
afterHello(
  'encoding/read as map 32',
  '3.1',
  'a read whose map is a map 32',
  `df00000003${VALID_READ.slice(2)}`,
  reading(7, 'pressure'),
);
afterHello(
  'encoding/keys in another order',
  '3.1',
  'a read whose keys come reading, id, type',
  map(e('reading', str('pressure')), e('id', int(7)), e('type', str('read'))),
  reading(7, 'pressure'),
);
afterHello(
  'encoding/reading as str 8',
  '3.1',
  'a read whose reading is a str 8',
  readWithReading(`d908${Buffer.from('pressure').toString('hex')}`),
  reading(7, 'pressure'),
);
afterHello(
  'encoding/station as str 16',
  '3.1',
  'a read whose station is a str 16',
  readBody(7, 'pressure', e('station', `da0007${Buffer.from(STATION).toString('hex')}`)),
  reading(7, 'pressure'),
);
const IGNORED: readonly (readonly [string, string])[] = [
  ['a bin', 'c403010203'],
  ['an ext of an application type', 'c70305010203'],
  ["msgpackr's undefined (fixext 1, type 0)", 'd40000'],
  ['a timestamp 32', 'd6ff6b08a4d8'],
  ['a timestamp 64', 'd7ff0000000000000000'],
  ['a timestamp 96', `c70cff${'00'.repeat(12)}`],
  ['a float 64', 'cb3ff8000000000000'],
  ['a float 32', 'ca3fc00000'],
  ['an array 16', 'dc0002c0c3'],
  ['a map with an integer key', '810102'],
  ['a map with a key twice', `82${str('a')}01${str('a')}02`],
  ['arrays nested 200 deep', `${'91'.repeat(200)}c0`],
  ['a str 8 with an emoji', str('🌧'.repeat(10))],
  ['a negative integer', 'd3ffffffffffffffff'],
  ['nil', NIL],
  ['a map nested in an array', `92${map(e('type', str('hello')), e('version', int(1)))}c2`],
];
for (const [what, value] of IGNORED) {
  afterHello(
    `encoding/unknown key holding ${what}`,
    '3.2',
    `a read with a key the protocol does not define, holding ${what}: ignored`,
    readBody(7, 'pressure', e('extra', value)),
    reading(7, 'pressure'),
  );
}

// §5.1 The read request.
for (const name of ['minTemperature', 'maxTemperature', 'pressure', 'rainfall']) {
  afterHello(
    `read/${name}`,
    '5.1',
    `a read of ${name}, in its unit`,
    readBody(11, name),
    reading(11, name),
  );
}
afterHello(
  'read/the default station by name',
  '5.1',
  'a read naming the default station',
  readBody(7, 'rainfall', e('station', str(STATION))),
  reading(7, 'rainfall'),
);
afterHello(
  'read/station nil',
  '5.1',
  'a read whose station is nil: the default station',
  readBody(7, 'rainfall', e('station', NIL)),
  reading(7, 'rainfall'),
);
for (const name of ['humidity', 'Rainfall', '', 'rainfall ', 'pressure\u0000']) {
  afterHello(
    `read/unknown reading ${JSON.stringify(name)}`,
    '5.1',
    `a read of ${JSON.stringify(name)}: ERR_UNKNOWN_READING with the id`,
    readBody(7, name),
    error('ERR_UNKNOWN_READING', 7),
  );
}
for (const [what, station] of [
  ['atlantis', NOWHERE],
  ['the empty str', ''],
  ['65 bytes', 's'.repeat(65)],
  ['33 emoji', '🌧'.repeat(33)],
  ['in capitals', STATION.toUpperCase()],
  ['with a trailing space', `${STATION} `],
] as const) {
  afterHello(
    `read/unknown station, ${what}`,
    '5.1',
    `a read of a station the server does not serve (${what}): ERR_UNKNOWN_STATION with the id`,
    readBody(7, 'pressure', e('station', str(station))),
    error('ERR_UNKNOWN_STATION', 7),
  );
}
const BAD_FIELDS: readonly (readonly [string, string, number | null])[] = [
  ['a reading that is an integer', readWithReading(int(1)), 7],
  ['a reading that is nil', readWithReading(NIL), 7],
  ['a reading written as bin', readWithReading('c404 7261696e'), 7],
  ['a reading that is an array', readWithReading(`91${str('pressure')}`), 7],
  ['no reading', map(e('type', str('read')), e('id', int(7))), 7],
  ['a station that is an integer', readBody(7, 'pressure', e('station', int(1))), 7],
  ['a station that is true', readBody(7, 'pressure', e('station', TRUE)), 7],
  ['a station written as bin', readBody(7, 'pressure', e('station', 'c40161')), 7],
  ['a station that is an array', readBody(7, 'pressure', e('station', `91${str(STATION)}`)), 7],
  ['a station that is a map', readBody(7, 'pressure', e('station', map(e('id', str(STATION))))), 7],
  ["a station that is msgpackr's undefined", readBody(7, 'pressure', e('station', 'd40000')), 7],
  ['an id written as float 64 1.0', readWithId(FLOAT64_ONE), null],
  ['an id written as float 32 1.0', readWithId(FLOAT32_ONE), null],
  ['an id that is a str', readWithId(str('7')), null],
  ['an id that is nil', readWithId(NIL), null],
  ['an id that is true', readWithId(TRUE), null],
  ['a negative id', readWithId(int(-1)), null],
  ['an id of 2^32', readWithId(int(2 ** 32)), null],
  ['an id of -2^63', readWithId('d38000000000000000'), null],
  ['no id', map(e('type', str('read')), e('reading', str('pressure'))), null],
];
for (const [what, body, id] of BAD_FIELDS) {
  afterHello(
    `read/${what}`,
    '6.3',
    `a read with ${what}: ERR_BAD_MESSAGE${id === null ? ', id nil' : ' with the id'}`,
    body,
    error('ERR_BAD_MESSAGE', id),
  );
}

// §2 Framing.
for (const length of ['00000401', '7fffffff', 'ffffffff']) {
  vector(
    `framing/length ${Number.parseInt(length, 16)}`,
    '2',
    `a length prefix of ${Number.parseInt(length, 16)}, over 1,024: ERR_FRAME_TOO_LARGE at once, then the close`,
    [length],
    [error('ERR_FRAME_TOO_LARGE')],
    { end: false },
  );
}
vector(
  'framing/too large after good frames',
  '2',
  'hello, a read and a prefix of 1,025 in one write: the welcome and the reading, then ERR_FRAME_TOO_LARGE and the close',
  [`${HELLO}${read(1, 'pressure')}00000401`],
  [WELCOME, reading(1, 'pressure'), error('ERR_FRAME_TOO_LARGE')],
  { end: false },
);
vector(
  'framing/too large, then more bytes',
  '2',
  'after hello, a prefix of 2,000 followed by a whole read: nothing after the prefix is read',
  [`${HELLO}000007d0${read(1, 'pressure')}`],
  [WELCOME, error('ERR_FRAME_TOO_LARGE')],
  { end: false },
);
vector(
  'framing/too large, split',
  '2',
  'a prefix of 1,025 delivered in two writes, split at each byte',
  ['00000401'],
  [error('ERR_FRAME_TOO_LARGE')],
  { split: 'every-byte', end: false },
);
{
  // A read padded with an unknown key to a body of exactly 1,024 bytes, the most a client may send:
  // the three fields, then "pad" (4 bytes) and a str 16 (3 bytes of header) of `padding` bytes.
  const padding = 1024 - readBody(7, 'pressure').length / 2 - 4 - 3;
  afterHello(
    'framing/a body of 1,024 bytes',
    '2',
    'a read of exactly 1,024 bytes, the most a client may send',
    readBody(7, 'pressure', e('pad', `da${be(padding, 2)}${'61'.repeat(padding)}`)),
    reading(7, 'pressure'),
  );
}
vector(
  'framing/empty frame',
  '2',
  'a zero length: a frame with an empty body, ERR_BAD_MESSAGE, the connection serves on',
  [`${HELLO}00000000${PROBE}`],
  [WELCOME, error('ERR_BAD_MESSAGE'), PROBED],
);
vector(
  'framing/frames in one write',
  '2',
  'five frames back to back in one write, an empty one among them',
  [
    `${HELLO}${read(1, 'pressure')}00000000${read(2, 'rainfall', e('station', str(STATION)))}${HELLO}`,
  ],
  [
    WELCOME,
    reading(1, 'pressure'),
    error('ERR_BAD_MESSAGE'),
    reading(2, 'rainfall'),
    error('ERR_ALREADY_GREETED'),
  ],
);
vector(
  'framing/a write that ends inside a prefix',
  '2',
  'hello and half the next prefix in one write, the rest in another',
  [HELLO + read(1, 'pressure').slice(0, 4), read(1, 'pressure').slice(4)],
  [WELCOME, reading(1, 'pressure')],
);
vector(
  'framing/a byte at a time',
  '2',
  'hello and a read, one byte per write',
  (HELLO + read(1, 'pressure')).match(/../g) ?? [],
  [WELCOME, reading(1, 'pressure')],
);
vector(
  'framing/hello split',
  '2',
  'a hello delivered in two writes, split at each byte',
  [HELLO],
  [WELCOME],
  { split: 'every-byte' },
);
vector(
  'framing/read split',
  '2',
  'after hello, a read delivered in two writes, split at each byte',
  [HELLO, read(9, 'rainfall')],
  [WELCOME, reading(9, 'rainfall')],
  { split: 'every-byte' },
);
vector(
  'framing/station read split',
  '2',
  'after hello, a read naming its station, in two writes split at each byte',
  [HELLO, read(9, 'maxTemperature', e('station', str(STATION)))],
  [WELCOME, reading(9, 'maxTemperature')],
  { split: 'every-byte' },
);

// §5.3 Pipelining.
const ALL_FOUR = ['minTemperature', 'maxTemperature', 'pressure', 'rainfall'];
vector(
  'pipelining/the four readings',
  '5.3',
  'hello and a read of each reading in one write: replies in request order',
  [HELLO + ALL_FOUR.map((name, i) => read(i + 1, name)).join('')],
  [WELCOME, ...ALL_FOUR.map((name, i) => reading(i + 1, name))],
);
vector(
  'pipelining/errors in their places',
  '5.3',
  'good and bad requests in one write: each reply in its place, errors included',
  [
    HELLO +
      read(1, 'pressure') +
      read(2, 'humidity') +
      frame('c1') +
      read(3, 'rainfall', e('station', str(NOWHERE))) +
      HELLO +
      read(4, 'rainfall'),
  ],
  [
    WELCOME,
    reading(1, 'pressure'),
    error('ERR_UNKNOWN_READING', 2),
    error('ERR_BAD_MESSAGE'),
    error('ERR_UNKNOWN_STATION', 3),
    error('ERR_ALREADY_GREETED'),
    reading(4, 'rainfall'),
  ],
);
vector(
  'pipelining/the same id twice',
  '5.1',
  'two reads with the same id: both answered, in order',
  [HELLO + read(5, 'pressure') + read(5, 'rainfall')],
  [WELCOME, reading(5, 'pressure'), reading(5, 'rainfall')],
);
for (const count of [64, 300]) {
  const ids = Array.from({ length: count }, (_, i) => i + 1000);
  vector(
    `pipelining/${count} reads`,
    '5.3',
    `hello and ${count} reads in one write${count > 256 ? ' (more than the default --max-pipeline, 256)' : ''}: every one answered once, in order`,
    [HELLO + ids.map((id) => read(id, ALL_FOUR[id % 4] as string)).join('')],
    [WELCOME, ...ids.map((id) => reading(id, ALL_FOUR[id % 4] as string))],
  );
}
vector(
  'pipelining/one read per write',
  '5.3',
  'hello, then ten reads each in its own write, without waiting for replies',
  [HELLO, ...Array.from({ length: 10 }, (_, i) => read(i + 1, 'rainfall'))],
  [WELCOME, ...Array.from({ length: 10 }, (_, i) => reading(i + 1, 'rainfall'))],
);

// §8 Closing.
vector('closing/half-close at once', '8.1', 'connect and half-close: no frame, the close', [], []);
vector(
  'closing/half-close after hello',
  '8.1',
  'hello and a half-close: the welcome, then the close',
  [HELLO],
  [WELCOME],
);
vector(
  'closing/half-close after pipelined reads',
  '8.1',
  'hello, three reads and a half-close in one go: every reply, then the close',
  [HELLO + read(1, 'pressure') + read(2, 'rainfall') + read(3, 'minTemperature')],
  [WELCOME, reading(1, 'pressure'), reading(2, 'rainfall'), reading(3, 'minTemperature')],
);
vector(
  'closing/half-close inside a frame',
  '8.1',
  'hello and part of a read, then a half-close: the welcome; the part is dropped, then the close',
  [HELLO + read(1, 'pressure').slice(0, 20)],
  [WELCOME],
);
vector(
  'closing/half-close inside a prefix',
  '8.1',
  'two bytes of a prefix, then a half-close: no frame, the close',
  ['0000'],
  [],
);

/** The vectors file, as written to docs/protocol-vectors.json. */
export function vectorFile(): object {
  return {
    about:
      'Conformance vectors for the meteo-actors wire protocol, version 1 (docs/PROTOCOL.md §11). Written by spec/support/protocolVectors.ts.',
    protocol: 1,
    server: {
      defaultStation: STATION,
      notServed: NOWHERE,
      note: 'The server under test serves a station "seattle" as its default, with all four readings, and no station "atlantis".',
    },
    schema: {
      vectors: 'an array; play each vector on its own new connection, one after another',
      name: 'unique; prefixed by what it covers (handshake/, precedence/, id/, decoding/, encoding/, read/, framing/, pipelining/, closing/)',
      section: 'the section of docs/PROTOCOL.md the vector checks',
      note: 'what the vector sends and expects, in words',
      send: 'the writes, in order, each lowercase hex of whole bytes (frames with their length prefixes, or any bytes at all); pause between two writes (10 ms is enough on loopback) so the server likely reads them apart',
      split:
        'optional, "every-byte": play the vector once for each split point k of its last write (1 to its length - 1), writing its first k bytes and the rest as two writes; name each case "<name> @k"',
      end: 'optional, default true: half-close (shut down the sending side) after the last write. false: do not; the server must close by itself',
      expect:
        'the frames the server sends, in order, and nothing more; then it closes its side (end of stream, or a reset after the last expected frame). Each expected frame is matched against the decoded reply: a JSON object matches a map that has each of its keys (other keys are ignored) with a matching value; an object whose only key is "format" matches any value of that MessagePack type ("str", "int", "nil", "bool", "bin", "array", "map", "float 32", "float 64", "timestamp 32", "timestamp 64", "timestamp 96", "ext"); an array matches an array whose first elements match; a string, number, true, false or null matches that value, an integer only as an integer format',
    },
    vectors,
  };
}

if (isEntryPoint(import.meta.url)) {
  // One vector a line: biome then lays each out within its line width, short objects kept on one line.
  const { vectors: all, ...header } = vectorFile() as { vectors: readonly Vector[] };
  const head = JSON.stringify(header, null, 2).slice(0, -2);
  const body = all.map((one) => JSON.stringify(one)).join(',\n');
  process.stdout.write(`${head},\n"vectors": [\n${body}\n]\n}\n`);
}
