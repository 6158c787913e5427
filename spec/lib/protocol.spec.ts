import { expect } from 'chai';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { ERROR_CODES, isErrorCode, MeteoError } from '../../lib/errors.js';
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_REPLY_FRAME_BYTES } from '../../lib/framing.js';
import {
  type ClientMessage,
  decodeClientMessage,
  decodeServerMessage,
  encodeMessage,
  encodeMessages,
  MAX_REQUEST_ID,
  READINGS,
  type ReadingReply,
  type ReadRequest,
  type Rejected,
  type ServerMessage,
  type StationInfo,
  UNITS,
  type Welcome,
} from '../../lib/protocol.js';

/*
 * Pinned wire bytes: the examples of docs/PROTOCOL.md §5.1 and §5.2, a read
 * request and the reply that answers it. They are written out by hand from the
 * MessagePack specification, not captured from the encoder, so any change of
 * encoding fails here.
 *
 * READ_REQUEST_FRAME_HEX: { type: "read", id: 7, reading: "rainfall" }
 *
 *   00 00 00 20                          length prefix: the body is 32 bytes
 *   83                                   fixmap, 3 entries
 *   a4 74 79 70 65  a4 72 65 61 64       "type": "read"
 *   a2 69 64  07                         "id": 7 (positive fixint)
 *   a7 72 65 61 64 69 6e 67              "reading":
 *   a8 72 61 69 6e 66 61 6c 6c             "rainfall"
 *
 * READING_REPLY_FRAME_HEX: { type: "reading", id: 7, station: "seattle",
 *   reading: "rainfall", value: 12.0, unit: "mm", observedAt: 2026-11-26T21:30:00Z }
 *
 *   00 00 00 5b                          length prefix: the body is 91 bytes
 *   87                                   fixmap, 7 entries
 *   a4 74 79 70 65  a7 72 65 61 64 69 6e 67
 *                                        "type": "reading"
 *   a2 69 64  07                         "id": 7 (positive fixint)
 *   a7 73 74 61 74 69 6f 6e              "station":
 *   a7 73 65 61 74 74 6c 65                "seattle"
 *   a7 72 65 61 64 69 6e 67              "reading":
 *   a8 72 61 69 6e 66 61 6c 6c             "rainfall"
 *   a5 76 61 6c 75 65                    "value":
 *   cb 40 28 00 00 00 00 00 00             12.0 as float 64 (0xcb + IEEE-754 big-endian),
 *                                          never the integer 0x0c, though it is whole
 *   a4 75 6e 69 74  a2 6d 6d             "unit": "mm"
 *   aa 6f 62 73 65 72 76 65 64 41 74     "observedAt":
 *   d6 ff 6b 08 a4 d8                      fixext 4, type -1 (timestamp 32): 1795728600 s
 *                                          since the epoch, 2026-11-26T21:30:00Z
 */
const READ_REQUEST_FRAME_HEX =
  '00000020' +
  '83' +
  'a474797065' +
  'a472656164' +
  'a26964' +
  '07' +
  'a772656164696e67' +
  'a87261696e66616c6c';

const READING_REPLY_FRAME_HEX =
  '0000005b' +
  '87' +
  'a474797065' +
  'a772656164696e67' +
  'a26964' +
  '07' +
  'a773746174696f6e' +
  'a773656174746c65' +
  'a772656164696e67' +
  'a87261696e66616c6c' +
  'a576616c7565' +
  'cb4028000000000000' +
  'a4756e6974' +
  'a26d6d' +
  'aa6f627365727665644174' +
  'd6ff6b08a4d8';

const PINNED_READ_REQUEST: ReadRequest = { type: 'read', id: 7, reading: 'rainfall' };
const PINNED_READING_REPLY: ReadingReply = {
  type: 'reading',
  id: 7,
  station: 'seattle',
  reading: 'rainfall',
  value: 12,
  unit: 'mm',
  observedAt: new Date('2026-11-26T21:30:00Z'),
};

/*
 * The other examples of docs/PROTOCOL.md, as written there (§4.1, §4.2, §5.1, §6.1).
 *
 * HELLO_FRAME_HEX: { type: "hello", version: 1 }, 21 bytes of body.
 * READ_WITH_STATION_FRAME_HEX: the §5.1 read naming its station: fixmap 4, 48 bytes.
 * WELCOME_FRAME_HEX: the default server's welcome, 325 bytes; its `stations`
 *   holds the same 5-entry map as `station`, 105 bytes.
 * ERROR_FRAME_HEX: ERR_UNKNOWN_READING for id 8, 143 bytes; the message, 92 bytes, is str 8.
 */
const HELLO_FRAME_HEX =
  '00000015' + '82' + 'a474797065' + 'a568656c6c6f' + 'a776657273696f6e' + '01';

const READ_WITH_STATION_FRAME_HEX =
  '00000030' +
  '84' +
  'a474797065' +
  'a472656164' +
  'a26964' +
  '07' +
  'a772656164696e67' +
  'a87261696e66616c6c' +
  'a773746174696f6e' +
  'a773656174746c65';

const SEATTLE_STATION_HEX =
  '85' +
  'a26964' +
  'a773656174746c65' +
  'a46e616d65' +
  'bf53656174746c652c2057617368696e67746f6e202873696d756c6174656429' +
  'a86c61746974756465' +
  'cb4047cd97f62b6ae8' +
  'a96c6f6e676974756465' +
  'cbc05e9541205bc01a' +
  'a9656c65766174696f6e' +
  'cb404c000000000000';

const WELCOME_FRAME_HEX =
  '00000145' +
  '86' +
  'a474797065' +
  'a777656c636f6d65' +
  'a776657273696f6e' +
  '01' +
  'a6736572766572' +
  'b26d6574656f2d6163746f72732f302e312e30' +
  'a773746174696f6e' +
  SEATTLE_STATION_HEX +
  'a873746174696f6e73' +
  '91' +
  SEATTLE_STATION_HEX +
  'a5756e697473' +
  '83' +
  'ab74656d7065726174757265' +
  'a3c2b043' +
  'a87072657373757265' +
  'a3685061' +
  'a87261696e66616c6c' +
  'a26d6d';

const ERROR_FRAME_HEX =
  '0000008f' +
  '84' +
  'a474797065' +
  'a56572726f72' +
  'a26964' +
  '08' +
  'a4636f6465' +
  'b34552525f554e4b4e4f574e5f52454144494e47' +
  'a76d657373616765' +
  'd95c' +
  '6e6f2072656164696e67206e616d6564202268756d6964697479223b2072656164696e677320617265206d696e' +
  '54656d70657261747572652c206d617854656d70657261747572652c2070726573737572652c207261696e66616c6c';

const SEATTLE: StationInfo = {
  id: 'seattle',
  name: 'Seattle, Washington (simulated)',
  latitude: 47.6062,
  longitude: -122.3321,
  elevation: 56,
};

/** The documented messages, each with its frame. */
const DOCUMENTED: readonly [string, ServerMessage | ClientMessage, string][] = [
  ['a hello (§4.1)', { type: 'hello', version: 1 }, HELLO_FRAME_HEX],
  [
    'a welcome (§4.2)',
    {
      type: 'welcome',
      version: 1,
      server: 'meteo-actors/0.1.0',
      station: SEATTLE,
      stations: [SEATTLE],
      units: UNITS,
    },
    WELCOME_FRAME_HEX,
  ],
  [
    'a read naming its station (§5.1)',
    { type: 'read', id: 7, reading: 'rainfall', station: 'seattle' },
    READ_WITH_STATION_FRAME_HEX,
  ],
  [
    'an error (§6.1)',
    {
      type: 'error',
      id: 8,
      code: 'ERR_UNKNOWN_READING',
      message:
        'no reading named "humidity"; readings are minTemperature, maxTemperature, pressure, rainfall',
    },
    ERROR_FRAME_HEX,
  ],
];

/** A plain MessagePack encoder for hand-made bodies, valid or not. */
const testPackr = new Packr({ useRecords: false, variableMapSize: true });

function pack(value: unknown): Buffer {
  return testPackr.pack(value);
}

/** Bytes from hex written with spaces for readability. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

function bodyOf(frame: Buffer): Buffer {
  return frame.subarray(FRAME_HEADER_BYTES);
}

/** A MessagePack fixstr, as the encoder writes a short map key. */
function fixstr(key: string): Buffer {
  const utf8 = Buffer.from(key, 'utf8');
  return Buffer.concat([Buffer.from([0xa0 | utf8.length]), utf8]);
}

/** The bytes that follow `key` in an encoded map; the key must occur exactly once. */
function bytesAfterKey(encoded: Buffer, key: string): Buffer {
  const needle = fixstr(key);
  const at = encoded.indexOf(needle);
  expect(at, `key ${key}`).to.be.at.least(0);
  expect(encoded.indexOf(needle, at + 1), `key ${key} occurs once`).to.equal(-1);
  return encoded.subarray(at + needle.length);
}

/** MessagePack float 64: marker 0xcb, then the IEEE-754 double big-endian. */
function float64Bytes(value: number): Buffer {
  const out = Buffer.alloc(9);
  out[0] = 0xcb;
  out.writeDoubleBE(value, 1);
  return out;
}

function reply(value: number): ReadingReply {
  return { ...PINNED_READING_REPLY, value };
}

const WELCOME: Welcome = {
  type: 'welcome',
  version: 1,
  server: 'meteo-actors/0.1.0',
  station: { id: 'seattle', name: 'Seattle', latitude: 47, longitude: -122, elevation: 56 },
  units: UNITS,
  stations: [{ id: 'seattle', name: 'Seattle', latitude: 47, longitude: -122, elevation: 56 }],
};

/** `{ type: [[[...nil...]]] }`, the array nested `depth` deep: a small body, a deep value. */
function nestedType(depth: number): Buffer {
  return Buffer.concat([hex('81 a474797065'), Buffer.alloc(depth, 0x91), hex('c0')]);
}

function expectProtocolError(body: Uint8Array): void {
  let thrown: unknown;
  try {
    decodeServerMessage(body);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'decodeServerMessage should throw').to.be.instanceOf(MeteoError);
  expect((thrown as MeteoError).code).to.equal('ERR_PROTOCOL');
}

const isRequestId = (value: unknown): boolean =>
  Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_REQUEST_ID;

/** True when `message` is a client message the server may act on, with every field in range. */
function isValidClientMessage(message: ReturnType<typeof decodeClientMessage>): boolean {
  switch (message.type) {
    case 'hello': {
      const { auth } = message;
      return (
        isRequestId(message.version) &&
        (message.id === undefined || isRequestId(message.id)) &&
        (auth === undefined ||
          (typeof auth.name === 'string' &&
            typeof auth.secret === 'string' &&
            Object.keys(auth).length === 2)) &&
        Object.keys(message).length ===
          2 + (message.id === undefined ? 0 : 1) + (auth === undefined ? 0 : 1)
      );
    }
    case 'read':
      return (
        isRequestId(message.id) &&
        READINGS.includes(message.reading) &&
        (message.station === undefined || typeof message.station === 'string') &&
        Object.keys(message).length === (message.station === undefined ? 3 : 4)
      );
    default:
      return false;
  }
}

function isCodedRejection(message: ReturnType<typeof decodeClientMessage>): boolean {
  return (
    message.type === 'rejected' &&
    isErrorCode(message.code) &&
    typeof message.message === 'string' &&
    (message.id === null || isRequestId(message.id))
  );
}

// ---------------------------------------------------------------- arbitraries

const requestId = fc.integer({ min: 0, max: MAX_REQUEST_ID });
const reading = fc.constantFrom(...READINGS);
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
/** Whole seconds, as observations are stamped, from 1970 up to the end of timestamp 32. */
const wholeSecondDate = fc
  .integer({ min: 0, max: 0xffff_ffff })
  .map((seconds) => new Date(seconds * 1000));

const helloArb = fc.record(
  {
    type: fc.constant('hello' as const),
    version: requestId,
    id: requestId,
    auth: fc.record({ name: text, secret: text }),
  },
  { requiredKeys: ['type', 'version'] },
);
const readArb = fc.record(
  {
    type: fc.constant('read' as const),
    id: requestId,
    reading,
    station: text,
  },
  { requiredKeys: ['type', 'id', 'reading'] },
);
const clientMessageArb: fc.Arbitrary<ClientMessage> = fc.oneof(helloArb, readArb);

const stationArb = fc.record({
  id: text,
  name: text,
  latitude: fc.double(),
  longitude: fc.double(),
  elevation: fc.double(),
});
const welcomeArb: fc.Arbitrary<Welcome> = fc.record({
  type: fc.constant('welcome' as const),
  version: requestId,
  server: text,
  station: stationArb,
  stations: fc.array(stationArb, { minLength: 1, maxLength: 4 }),
  units: fc.constant(UNITS),
});
const readingReplyArb: fc.Arbitrary<ReadingReply> = fc.record({
  type: fc.constant('reading' as const),
  id: requestId,
  station: text,
  reading,
  value: fc.double(),
  unit: text,
  observedAt: wholeSecondDate,
});
const errorCode = fc.constantFrom(...(Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]));
const errorReplyArb = fc.record({
  type: fc.constant('error' as const),
  id: fc.option(requestId, { nil: null }),
  code: errorCode,
  message: text,
});
const serverMessageArb: fc.Arbitrary<ServerMessage> = fc.oneof(
  welcomeArb,
  readingReplyArb,
  errorReplyArb,
);

describe('lib/protocol', () => {
  describe('pinned wire bytes', () => {
    it('encodes a read request to exactly the documented bytes', () => {
      expect(encodeMessage(PINNED_READ_REQUEST).toString('hex')).to.equal(READ_REQUEST_FRAME_HEX);
    });

    it('encodes a reading reply to exactly the documented bytes', () => {
      expect(encodeMessage(PINNED_READING_REPLY).toString('hex')).to.equal(READING_REPLY_FRAME_HEX);
    });

    it('decodes the documented read request bytes', () => {
      const body = bodyOf(Buffer.from(READ_REQUEST_FRAME_HEX, 'hex'));
      expect(decodeClientMessage(body)).to.deep.equal(PINNED_READ_REQUEST);
    });

    it('decodes the documented reading reply bytes', () => {
      const body = bodyOf(Buffer.from(READING_REPLY_FRAME_HEX, 'hex'));
      expect(decodeServerMessage(body)).to.deep.equal(PINNED_READING_REPLY);
    });

    for (const [what, message, frameHex] of DOCUMENTED) {
      it(`encodes ${what} to exactly the documented bytes, and decodes them back`, () => {
        expect(encodeMessage(message).toString('hex')).to.equal(frameHex);
        const body = bodyOf(Buffer.from(frameHex, 'hex'));
        const decoded =
          message.type === 'hello' || message.type === 'read'
            ? decodeClientMessage(body)
            : decodeServerMessage(body);
        expect(decoded).to.deep.equal(message);
      });
    }

    it('encodes the documented replies as one batch: their frames back to back', () => {
      const replies = [
        DOCUMENTED[1]?.[1],
        PINNED_READING_REPLY,
        DOCUMENTED[3]?.[1],
      ] as ServerMessage[];
      expect(encodeMessages(replies).toString('hex')).to.equal(
        WELCOME_FRAME_HEX + READING_REPLY_FRAME_HEX + ERROR_FRAME_HEX,
      );
    });
  });

  describe('encodeMessage', () => {
    it('returns a whole frame whose prefix is the body length', () => {
      fc.assert(
        fc.property(fc.oneof(clientMessageArb, serverMessageArb), (message) => {
          const frame = encodeMessage(message);
          expect(frame.readUInt32BE(0)).to.equal(frame.length - FRAME_HEADER_BYTES);
        }),
        { numRuns: 500 },
      );
    });

    it('frames a message larger than the encoder buffer with the right prefix', () => {
      const message = 'x'.repeat(MAX_REPLY_FRAME_BYTES);
      const frame = encodeMessage({ type: 'error', id: 1, code: 'ERR_INTERNAL', message });
      expect(frame.readUInt32BE(0)).to.equal(frame.length - FRAME_HEADER_BYTES);
      expect(decodeServerMessage(bodyOf(frame))).to.include({ message });
    });

    it('leaves an earlier frame intact while later messages are encoded', () => {
      const first = encodeMessage(PINNED_READING_REPLY);
      const snapshot = Buffer.from(first);
      for (let id = 0; id < 2000; id++) {
        encodeMessage({ type: 'error', id, code: 'ERR_SENSOR_FAILED', message: 'y'.repeat(id) });
      }
      expect(first.equals(snapshot)).to.equal(true);
    });

    it('produces frames that a FrameDecoder splits back into their bodies', () => {
      const frames = [encodeMessage(WELCOME), encodeMessage(PINNED_READING_REPLY)];
      const batch = new FrameDecoder(MAX_REPLY_FRAME_BYTES).push(Buffer.concat(frames));
      expect(batch.error).to.equal(undefined);
      expect(batch.frames.map((body) => Buffer.from(body))).to.deep.equal(frames.map(bodyOf));
    });
  });

  describe('encodeMessages', () => {
    it('gives the frames encodeMessage gives, back to back in one buffer (property)', () => {
      fc.assert(
        fc.property(fc.array(serverMessageArb, { maxLength: 20 }), (messages) => {
          const batch = encodeMessages(messages);
          expect(batch.equals(Buffer.concat(messages.map((m) => encodeMessage(m))))).to.equal(true);
          const decoded = new FrameDecoder(MAX_REPLY_FRAME_BYTES).push(batch);
          expect(decoded.error).to.equal(undefined);
          expect(decoded.frames.map((body) => decodeServerMessage(body))).to.deep.equal(messages);
        }),
        { numRuns: 300 },
      );
    });

    it('gives an empty buffer for no messages', () => {
      expect(encodeMessages([]).length).to.equal(0);
    });

    it('leaves an earlier batch intact while later ones are encoded', () => {
      const first = encodeMessages([PINNED_READING_REPLY, PINNED_READING_REPLY]);
      const snapshot = Buffer.from(first);
      for (let id = 0; id < 500; id++) {
        encodeMessages([{ type: 'error', id, code: 'ERR_SENSOR_FAILED', message: 'y'.repeat(id) }]);
      }
      expect(first.equals(snapshot)).to.equal(true);
    });
  });

  describe('the bytes of the msgpackr encoder this one replaced', () => {
    /*
     * Until issue #11 the messages were written by msgpackr, with an extension
     * that forced float 64 for the real numbers. For any other number msgpackr
     * wrote what the MessagePack specification asks, as a plain Packr still does:
     * so for messages whose real numbers are not 32-bit integers, a plain
     * Packr writes the old bytes, and the new encoder must write them too. The
     * whole ones (which a plain Packr writes as integers) are covered by the
     * float 64 properties below.
     */
    const notInt32 = fc.double().filter((x) => x >> 0 !== x && x >>> 0 !== x);
    const anyText = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'binary', minLength: 60, maxLength: 300 }),
    );
    const station = fc.record({
      id: anyText,
      name: anyText,
      latitude: notInt32,
      longitude: notInt32,
      elevation: notInt32,
    });
    const message: fc.Arbitrary<ServerMessage | ClientMessage> = fc.oneof(
      clientMessageArb,
      fc.record({
        type: fc.constant('welcome' as const),
        version: requestId,
        server: anyText,
        station,
        stations: fc.array(station, { minLength: 1, maxLength: 20 }),
        units: fc.constant(UNITS),
      }),
      fc.record({
        type: fc.constant('reading' as const),
        id: requestId,
        station: anyText,
        reading,
        value: notInt32,
        unit: anyText,
        observedAt: fc.date({ noInvalidDate: true }),
      }),
      fc.record({
        type: fc.constant('error' as const),
        id: fc.option(requestId, { nil: null }),
        code: errorCode,
        message: anyText,
      }),
    );

    it('writes every message as a plain msgpackr Packr writes it, key order and widths included (property)', () => {
      fc.assert(
        fc.property(message, (m) => {
          const frame = encodeMessage(m);
          expect(bodyOf(frame).toString('hex')).to.equal(pack(m).toString('hex'));
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('round trip', () => {
    it('decodes a hello to the message that was encoded', () => {
      const hello = { type: 'hello', version: 1 } as const;
      expect(decodeClientMessage(bodyOf(encodeMessage(hello)))).to.deep.equal(hello);
    });

    it('decodes a read request to the message that was encoded', () => {
      const read = { type: 'read', id: 4_000_000_000, reading: 'pressure' } as const;
      expect(decodeClientMessage(bodyOf(encodeMessage(read)))).to.deep.equal(read);
    });

    it('decodes a welcome to the message that was encoded', () => {
      expect(decodeServerMessage(bodyOf(encodeMessage(WELCOME)))).to.deep.equal(WELCOME);
    });

    it('decodes a reading reply to the message that was encoded', () => {
      expect(decodeServerMessage(bodyOf(encodeMessage(PINNED_READING_REPLY)))).to.deep.equal(
        PINNED_READING_REPLY,
      );
    });

    it('decodes an error reply, with or without a request id, to the message that was encoded', () => {
      for (const id of [null, 0, 17]) {
        const error = { type: 'error', id, code: 'ERR_UNKNOWN_READING', message: 'no' } as const;
        expect(decodeServerMessage(bodyOf(encodeMessage(error)))).to.deep.equal(error);
      }
    });

    it('decodes every client message to the message that was encoded (property)', () => {
      fc.assert(
        fc.property(clientMessageArb, (message) => {
          expect(decodeClientMessage(bodyOf(encodeMessage(message)))).to.deep.equal(message);
        }),
        { numRuns: 1000 },
      );
    });

    it('decodes every server message to the message that was encoded (property)', () => {
      // chai's deep equality tells -0 from 0 and takes NaN as equal to NaN, as the wire does.
      fc.assert(
        fc.property(serverMessageArb, (message) => {
          expect(decodeServerMessage(bodyOf(encodeMessage(message)))).to.deep.equal(message);
        }),
        { numRuns: 1000 },
      );
    });
  });

  describe('floats on the wire', () => {
    for (const value of [0, 12, -3, 1013, 0.4, -0]) {
      it(`writes a reading value of ${Object.is(value, -0) ? '-0' : value} as float 64, never an integer`, () => {
        const encoded = encodeMessage(reply(value));
        expect(bytesAfterKey(encoded, 'value').subarray(0, 9).toString('hex')).to.equal(
          float64Bytes(value).toString('hex'),
        );
      });
    }

    it('writes any reading value as float 64 (property)', () => {
      fc.assert(
        fc.property(fc.double(), (value) => {
          const after = bytesAfterKey(encodeMessage(reply(value)), 'value');
          expect(after.subarray(0, 9).equals(float64Bytes(value))).to.equal(true);
        }),
        { numRuns: 1000 },
      );
    });

    /** Doubles, whole ones weighted: a general encoder would write those as integers. */
    const wholeOrNot = fc.oneof(
      fc.constantFrom(0, -0, 12, 56, -122, 1013),
      fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
      fc.double(),
    );

    it('writes every reading value as float 64, whole ones first of all (property)', () => {
      fc.assert(
        fc.property(wholeOrNot, (value) => {
          const after = bytesAfterKey(encodeMessage(reply(value)), 'value');
          expect(after.subarray(0, 9).toString('hex')).to.equal(
            float64Bytes(value).toString('hex'),
          );
        }),
        { numRuns: 1000 },
      );
    });

    it("writes every station's latitude, longitude and elevation as float 64, in welcomes of any stations (property)", () => {
      // ASCII names: no value can hold the bytes of a key, so each key found is a key.
      const station = fc.record({
        id: fc.string({ maxLength: 20 }),
        name: fc.string({ maxLength: 40 }),
        latitude: wholeOrNot,
        longitude: wholeOrNot,
        elevation: wholeOrNot,
      });
      const welcome = fc.record({
        type: fc.constant('welcome' as const),
        version: requestId,
        server: fc.string({ maxLength: 20 }),
        station,
        stations: fc.array(station, { minLength: 1, maxLength: 20 }),
        units: fc.constant(UNITS),
      });
      fc.assert(
        fc.property(welcome, (message) => {
          const encoded = encodeMessage(message);
          const stations = [message.station, ...message.stations];
          for (const key of ['latitude', 'longitude', 'elevation'] as const) {
            const needle = fixstr(key);
            const found: string[] = [];
            for (let at = encoded.indexOf(needle); at >= 0; at = encoded.indexOf(needle, at + 1)) {
              found.push(
                encoded.subarray(at + needle.length, at + needle.length + 9).toString('hex'),
              );
            }
            expect(found, key).to.deep.equal(
              stations.map((s) => float64Bytes(s[key]).toString('hex')),
            );
          }
        }),
        { numRuns: 500 },
      );
    });

    it("writes every station's latitude, longitude and elevation as float 64 even when whole", () => {
      // One station: the welcome's `station` and `stations` then carry one each.
      const encoded = encodeMessage(WELCOME);
      const { latitude, longitude, elevation } = WELCOME.station;
      for (const [key, value] of Object.entries({ latitude, longitude, elevation })) {
        const needle = fixstr(key);
        const first = encoded.indexOf(needle);
        const second = encoded.indexOf(needle, first + 1);
        expect(second, `${key} appears in station and in stations`).to.be.above(first);
        for (const at of [first, second]) {
          expect(
            encoded.subarray(at + needle.length, at + needle.length + 9).toString('hex'),
            key,
          ).to.equal(float64Bytes(value).toString('hex'));
        }
      }
    });

    it('keeps the integer fields of a reading reply as integers', () => {
      const encoded = encodeMessage({ ...PINNED_READING_REPLY, id: 300 });
      // uint 16 (0xcd), the smallest form for 300.
      expect(bytesAfterKey(encoded, 'id').subarray(0, 3).toString('hex')).to.equal('cd012c');
    });

    it('refuses a body that carries a MessagePack extension other than the timestamp', () => {
      // fixext 1, type 1: the type the old encoder's float 64 extension was filed under (issue #11).
      const body = hex('83 a474797065 a472656164 a26964 d40100 a772656164696e67 a47261696e');
      expect(decodeClientMessage(body)).to.include({ type: 'rejected', code: 'ERR_BAD_MESSAGE' });
    });
  });

  describe('observedAt', () => {
    it('travels as the MessagePack timestamp extension, type -1', () => {
      const seconds = 1_795_698_300;
      const encoded = encodeMessage({
        ...PINNED_READING_REPLY,
        observedAt: new Date(seconds * 1000),
      });
      const after = bytesAfterKey(encoded, 'observedAt');
      // fixext 4 (0xd6), ext type -1 (0xff), then the seconds as uint 32: timestamp 32.
      expect(after.subarray(0, 2).toString('hex')).to.equal('d6ff');
      expect(after.readUInt32BE(2)).to.equal(seconds);
      expect(after.length).to.equal(6);
    });

    it('decodes a timestamp 64 with nanoseconds to the same instant', () => {
      // fixext 8 (0xd7), type -1: 30 bits of nanoseconds (500 ms), then 34 bits of seconds.
      const stamp = Buffer.alloc(10);
      stamp[0] = 0xd7;
      stamp[1] = 0xff;
      const nanoseconds = 500_000_000;
      const seconds = 1_795_698_300;
      stamp.writeUInt32BE(((nanoseconds << 2) >>> 0) + Math.floor(seconds / 2 ** 32), 2);
      stamp.writeUInt32BE(seconds % 2 ** 32, 6);
      const body = Buffer.concat([
        bodyOf(encodeMessage(PINNED_READING_REPLY)).subarray(0, -6),
        stamp,
      ]);
      const decoded = decodeServerMessage(body);
      expect(decoded.type === 'reading' && decoded.observedAt.getTime()).to.equal(
        seconds * 1000 + 500,
      );
    });

    // The edges of the three forms (MessagePack specification, "Timestamp extension type").
    const edges: readonly [string, number, string][] = [
      ['the epoch', 0, 'd6ff'],
      ['the last whole second of timestamp 32', (2 ** 32 - 1) * 1000, 'd6ff'],
      ['a millisecond after the epoch', 1, 'd7ff'],
      ['the first second past timestamp 32', 2 ** 32 * 1000, 'd7ff'],
      ['the last millisecond of timestamp 64', (2 ** 34 - 1) * 1000 + 999, 'd7ff'],
      ['the first second past timestamp 64', 2 ** 34 * 1000, 'c70cff'],
      ['a millisecond before the epoch', -1, 'c70cff'],
    ];
    for (const [what, ms, form] of edges) {
      it(`carries ${what} as ${form}, and decodes to the same instant`, () => {
        const encoded = encodeMessage({ ...PINNED_READING_REPLY, observedAt: new Date(ms) });
        expect(bytesAfterKey(encoded, 'observedAt').toString('hex')).to.match(
          new RegExp(`^${form}`),
        );
        const decoded = decodeServerMessage(bodyOf(encoded));
        expect(decoded.type === 'reading' && decoded.observedAt.getTime()).to.equal(ms);
      });
    }

    it('decodes any valid time to the same instant (property)', () => {
      fc.assert(
        fc.property(fc.date({ noInvalidDate: true }), (observedAt) => {
          const decoded = decodeServerMessage(
            bodyOf(encodeMessage({ ...PINNED_READING_REPLY, observedAt })),
          );
          expect(decoded.type === 'reading' && decoded.observedAt.getTime()).to.equal(
            observedAt.getTime(),
          );
        }),
        { numRuns: 1000 },
      );
    });

    it('is refused when it is not a timestamp', () => {
      expectProtocolError(pack({ ...PINNED_READING_REPLY, observedAt: 1_795_698_300 }));
    });
  });

  describe('decodeClientMessage', () => {
    const validRead = { type: 'read', id: 9, reading: 'rainfall' };
    /** The bytes of `{ type: "read", id: 9, reading: "rainfall" }` after its map header: three entries. */
    const READ_ENTRIES = 'a474797065 a472656164 a26964 09 a772656164696e67 a87261696e66616c6c';

    /** What a body is rejected with: its code, the id echoed, and the type it claimed. */
    type Verdict = readonly [code: string, id: number | null, claimed?: 'hello' | 'read'];

    const rejections: readonly (readonly [string, Buffer, Verdict])[] = [
      // §6.3 step 2: not one well-formed message map. Never an id: the map cannot be trusted.
      ['an empty body', Buffer.alloc(0), ['ERR_BAD_MESSAGE', null]],
      ['a byte that is not MessagePack (0xc1)', hex('c1'), ['ERR_BAD_MESSAGE', null]],
      ['0xc1 inside the map', hex(`84 ${READ_ENTRIES} a178 c1`), ['ERR_BAD_MESSAGE', null]],
      ['a map cut short', pack(validRead).subarray(0, 10), ['ERR_BAD_MESSAGE', null]],
      ['a map 16 header cut short', hex('de 00'), ['ERR_BAD_MESSAGE', null]],
      [
        'a str 8 key whose length runs past the body',
        hex('81 d9 ff 74'),
        ['ERR_BAD_MESSAGE', null],
      ],
      ['trailing bytes after one value', hex(`83 ${READ_ENTRIES} 00`), ['ERR_BAD_MESSAGE', null]],
      [
        'two whole messages in one body',
        Buffer.concat([pack(validRead), pack(validRead)]),
        ['ERR_BAD_MESSAGE', null],
      ],
      ['an array instead of a map', pack(['read', 9, 'rainfall']), ['ERR_BAD_MESSAGE', null]],
      ['a string instead of a map', pack('read'), ['ERR_BAD_MESSAGE', null]],
      ['nil instead of a map', hex('c0'), ['ERR_BAD_MESSAGE', null]],
      [
        'a msgpackr record (fixext 1, type 0x72) instead of a map',
        hex('d47240 93 a474797065 a26964 a772656164696e67 a472656164 09 a87261696e66616c6c'),
        ['ERR_BAD_MESSAGE', null],
      ],
      ['a value nested too deep to read', nestedType(100_000), ['ERR_BAD_MESSAGE', null]],
      ['an integer key', hex(`84 ${READ_ENTRIES} 01 c0`), ['ERR_BAD_MESSAGE', null]],
      ['a nil key', hex(`84 ${READ_ENTRIES} c0 c0`), ['ERR_BAD_MESSAGE', null]],
      [
        'a bin key',
        hex('83 c40474797065 a472656164 a26964 09 a772656164696e67 a87261696e66616c6c'),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'the key "type" twice',
        hex(`84 ${READ_ENTRIES} a474797065 a472656164`),
        ['ERR_BAD_MESSAGE', null],
      ],
      ['the key "id" twice', hex(`84 ${READ_ENTRIES} a26964 0a`), ['ERR_BAD_MESSAGE', null]],
      [
        'the key "station" twice',
        hex(`85 ${READ_ENTRIES} a773746174696f6e c0 a773746174696f6e c0`),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'an unknown key twice',
        hex(`85 ${READ_ENTRIES} a178 01 a178 02`),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'an unknown key twice, once as str 8',
        hex(`85 ${READ_ENTRIES} a178 01 d90178 02`),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'invalid UTF-8 in the reading',
        hex('83 a474797065 a472656164 a26964 09 a772656164696e67 a2 c3 28'),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'invalid UTF-8 in the station',
        hex(`84 ${READ_ENTRIES} a773746174696f6e a3 61 ff 62`),
        ['ERR_BAD_MESSAGE', null],
      ],
      ['invalid UTF-8 in a key', hex(`84 ${READ_ENTRIES} a2 80 80 c0`), ['ERR_BAD_MESSAGE', null]],
      [
        'invalid UTF-8 deep in an unknown value',
        hex(`84 ${READ_ENTRIES} a178 91 81 a161 a1 ff`),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'an overlong UTF-8 encoding (c0 80)',
        hex(`84 ${READ_ENTRIES} a178 a2 c0 80`),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'a UTF-8 encoded surrogate (ed a0 80)',
        hex(`84 ${READ_ENTRIES} a178 a3 ed a0 80`),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'a code point past U+10FFFF (f4 90 80 80)',
        hex(`84 ${READ_ENTRIES} a178 a4 f4 90 80 80`),
        ['ERR_BAD_MESSAGE', null],
      ],
      [
        'a UTF-8 sequence cut short (e2 82)',
        hex(`84 ${READ_ENTRIES} a178 a2 e2 82`),
        ['ERR_BAD_MESSAGE', null],
      ],
      // Step 3: the type. The id is echoed from here on, whatever else is wrong.
      ['an unknown type', pack({ ...validRead, type: 'write' }), ['ERR_BAD_MESSAGE', 9]],
      ['a type in the wrong case', pack({ ...validRead, type: 'READ' }), ['ERR_BAD_MESSAGE', 9]],
      ['a type that is a number', pack({ ...validRead, type: 1 }), ['ERR_BAD_MESSAGE', 9]],
      ['a type that is nil', pack({ ...validRead, type: null }), ['ERR_BAD_MESSAGE', 9]],
      [
        'a type written as bin',
        hex('83 a474797065 c404 72656164 a26964 09 a772656164696e67 a87261696e66616c6c'),
        ['ERR_BAD_MESSAGE', 9],
      ],
      ['a map without a type', pack({ id: 9, reading: 'rainfall' }), ['ERR_BAD_MESSAGE', 9]],
      [
        'an unknown type and an id out of range',
        pack({ type: 'write', id: -1 }),
        ['ERR_BAD_MESSAGE', null],
      ],
      // Step 5: the fields, in the order of their tables.
      [
        'a read without an id',
        pack({ type: 'read', reading: 'rainfall' }),
        ['ERR_BAD_MESSAGE', null, 'read'],
      ],
      ['a negative id', pack({ ...validRead, id: -1 }), ['ERR_BAD_MESSAGE', null, 'read']],
      ['an id of 2^32', pack({ ...validRead, id: 2 ** 32 }), ['ERR_BAD_MESSAGE', null, 'read']],
      [
        'an id of 2^32 written as uint 64',
        hex(
          '83 a474797065 a472656164 a26964 cf0000000100000000 a772656164696e67 a87261696e66616c6c',
        ),
        ['ERR_BAD_MESSAGE', null, 'read'],
      ],
      ['a fractional id', pack({ ...validRead, id: 1.5 }), ['ERR_BAD_MESSAGE', null, 'read']],
      [
        'an id written as float 64, though whole',
        hex(
          '83 a474797065 a472656164 a26964 cb3ff0000000000000 a772656164696e67 a87261696e66616c6c',
        ),
        ['ERR_BAD_MESSAGE', null, 'read'],
      ],
      [
        'an id written as float 32, though whole',
        hex('83 a474797065 a472656164 a26964 ca3f800000 a772656164696e67 a87261696e66616c6c'),
        ['ERR_BAD_MESSAGE', null, 'read'],
      ],
      [
        'an id that is a string',
        pack({ ...validRead, id: '9' }),
        ['ERR_BAD_MESSAGE', null, 'read'],
      ],
      ['an id that is nil', pack({ ...validRead, id: null }), ['ERR_BAD_MESSAGE', null, 'read']],
      ['a read without a reading', pack({ type: 'read', id: 9 }), ['ERR_BAD_MESSAGE', 9, 'read']],
      [
        'a reading that is a number',
        pack({ ...validRead, reading: 3 }),
        ['ERR_BAD_MESSAGE', 9, 'read'],
      ],
      [
        'a reading that is nil',
        pack({ ...validRead, reading: null }),
        ['ERR_BAD_MESSAGE', 9, 'read'],
      ],
      [
        'a station that is a number',
        pack({ ...validRead, station: 1 }),
        ['ERR_BAD_MESSAGE', 9, 'read'],
      ],
      [
        "a station written as msgpackr's undefined (fixext 1, type 0)",
        hex(`84 ${READ_ENTRIES} a773746174696f6e d40000`),
        ['ERR_BAD_MESSAGE', 9, 'read'],
      ],
      [
        'a station that is not a str, with an unknown reading: the field first',
        pack({ ...validRead, reading: 'humidity', station: true }),
        ['ERR_BAD_MESSAGE', 9, 'read'],
      ],
      ['a hello without a version', pack({ type: 'hello' }), ['ERR_BAD_MESSAGE', null, 'hello']],
      [
        'a hello with a negative version',
        pack({ type: 'hello', version: -1 }),
        ['ERR_BAD_MESSAGE', null, 'hello'],
      ],
      [
        'a hello with a version of 2^32',
        pack({ type: 'hello', version: 2 ** 32 }),
        ['ERR_BAD_MESSAGE', null, 'hello'],
      ],
      [
        'a hello with a string version',
        pack({ type: 'hello', version: '1' }),
        ['ERR_BAD_MESSAGE', null, 'hello'],
      ],
      [
        'a hello whose version is float 64 1.0',
        hex('82 a474797065 a568656c6c6f a776657273696f6e cb3ff0000000000000'),
        ['ERR_BAD_MESSAGE', null, 'hello'],
      ],
      [
        'a hello with a bad version and a valid id',
        pack({ type: 'hello', version: 'x', id: 4 }),
        ['ERR_BAD_MESSAGE', 4, 'hello'],
      ],
      // Step 6: the reading, once every field has its type.
      [
        'an unknown reading name',
        pack({ ...validRead, reading: 'humidity' }),
        ['ERR_UNKNOWN_READING', 9, 'read'],
      ],
      [
        'a reading name in the wrong case',
        pack({ ...validRead, reading: 'Rainfall' }),
        ['ERR_UNKNOWN_READING', 9, 'read'],
      ],
      [
        'an empty reading name',
        pack({ ...validRead, reading: '' }),
        ['ERR_UNKNOWN_READING', 9, 'read'],
      ],
      [
        'an unknown reading and a station the server may not serve: the reading first',
        pack({ ...validRead, reading: 'humidity', station: 'atlantis' }),
        ['ERR_UNKNOWN_READING', 9, 'read'],
      ],
    ];

    for (const [what, body, [code, id, claimed]] of rejections) {
      it(`rejects ${what} with ${code}${id === null ? '' : ', echoing the id'}`, () => {
        const result = decodeClientMessage(body);
        expect(result).to.include({ type: 'rejected', code, id });
        expect(result).to.have.property('message').that.is.a('string').and.is.not.empty;
        expect((result as { claimed?: string }).claimed, 'the type it claimed').to.equal(claimed);
      });
    }

    it('names the field, the range and the format of a hello version out of range', () => {
      const cases: readonly [Buffer, string][] = [
        [pack({ type: 'hello', version: -1 }), 'negative fixint -1'],
        [
          hex('82 a474797065 a568656c6c6f a776657273696f6e cf ffffffffffffffff'),
          'uint 64 18446744073709551615',
        ],
        [
          hex('82 a474797065 a568656c6c6f a776657273696f6e d3 8000000000000000'),
          'int 64 -9223372036854775808',
        ],
        [hex('82 a474797065 a568656c6c6f a776657273696f6e cb3ff0000000000000'), 'float 64'],
      ];
      for (const [body, got] of cases) {
        const result = decodeClientMessage(body) as { message: string };
        expect(result.message, got).to.include('hello.version').and.include(got);
      }
    });

    it('accepts the smallest and the largest request id', () => {
      for (const id of [0, MAX_REQUEST_ID]) {
        expect(decodeClientMessage(pack({ ...validRead, id }))).to.deep.equal({ ...validRead, id });
      }
    });

    it('accepts an id or a version written in any MessagePack integer format', () => {
      // MessagePack lets an encoder pick any width; a Go client, for one, writes an int as int 64.
      const sevens = [
        '07',
        'cc07',
        'cd0007',
        'ce00000007',
        'cf0000000000000007',
        'd007',
        'd10007',
        'd200000007',
        'd30000000000000007',
      ];
      for (const seven of sevens) {
        const read = hex(
          `83 a474797065 a472656164 a26964 ${seven} a772656164696e67 a87261696e66616c6c`,
        );
        expect(decodeClientMessage(read), seven).to.deep.equal({ ...validRead, id: 7 });
        const hello = hex(`82 a474797065 a568656c6c6f a776657273696f6e ${seven}`);
        expect(decodeClientMessage(hello), seven).to.deep.equal({ type: 'hello', version: 7 });
      }
    });

    it('reads a negative id of every signed width as out of range, not as a large one', () => {
      for (const minusOne of ['ff', 'd0ff', 'd1ffff', 'd2ffffffff', 'd3ffffffffffffffff']) {
        const read = hex(
          `83 a474797065 a472656164 a26964 ${minusOne} a772656164696e67 a87261696e66616c6c`,
        );
        const result = decodeClientMessage(read) as { message: string };
        expect(result, minusOne).to.include({ type: 'rejected', id: null });
        expect(result.message, minusOne).to.include('-1');
      }
    });

    it('accepts a map, keys and strs in every width the specification has', () => {
      const read = hex(
        'de0003 d904 74797065 da0004 72656164 db00000002 6964 09 a772656164696e67 d908 7261696e66616c6c',
      );
      expect(decodeClientMessage(read)).to.deep.equal(validRead);
      const hello = hex('df00000002 a474797065 a568656c6c6f a776657273696f6e 01');
      expect(decodeClientMessage(hello)).to.deep.equal({ type: 'hello', version: 1 });
    });

    it('takes a station of any UTF-8 str, however long, and a nil station as none', () => {
      for (const station of ['seattle', '', 'x'.repeat(200), '🌧'.repeat(33), 'Reykjavík']) {
        expect(decodeClientMessage(pack({ ...validRead, station })), station).to.deep.equal({
          ...validRead,
          station,
        });
      }
      expect(decodeClientMessage(pack({ ...validRead, station: null }))).to.deep.equal(validRead);
    });

    it('ignores keys the protocol does not define, whatever MessagePack value they hold', () => {
      const body = pack({ ...validRead, extra: [1, { deep: true }], trace: 'abc' });
      expect(decodeClientMessage(body)).to.deep.equal(validRead);
      const extras = [
        'c4 03 010203', // bin 8
        'c7 03 05 010203', // ext 8 of an application type
        'd4 00 00', // msgpackr's undefined, fixext 1 type 0
        'd6 ff 6b08a4d8', // timestamp 32
        'c7 0c ff 000000000000000000000000', // timestamp 96
        'cb 3ff8000000000000', // float 64
        'dc 0002 c0 c3', // array 16
        '81 01 02', // a nested map with an integer key: only the message map's keys are held to §3
        '82 a161 01 a161 02', // a nested map with a key twice
        `${'91'.repeat(500)} c0`, // nested 500 deep
        'd9 05 f09f8c a7 21', // a str 8 with an emoji
      ];
      for (const extra of extras) {
        expect(
          decodeClientMessage(hex(`84 ${READ_ENTRIES} a5 6578747261 ${extra}`)),
          extra,
        ).to.deep.equal(validRead);
      }
    });

    it('ignores any plain value under a key it does not define (property)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.boolean(), (extra, first) => {
          const body = first ? pack({ extra, ...validRead }) : pack({ ...validRead, extra });
          expect(decodeClientMessage(body)).to.deep.equal(validRead);
        }),
        { numRuns: 1000 },
      );
    });

    it('echoes the id of a hello, and leaves out one that is not a request id', () => {
      expect(decodeClientMessage(pack({ type: 'hello', version: 1, id: 5 }))).to.deep.equal({
        type: 'hello',
        version: 1,
        id: 5,
      });
      for (const id of [-1, 2 ** 32, 'x', null, 1.5]) {
        expect(
          decodeClientMessage(pack({ type: 'hello', version: 1, id })),
          String(id),
        ).to.deep.equal({
          type: 'hello',
          version: 1,
        });
      }
    });

    describe('a hello that says who the client is (§4.1, issue #14)', () => {
      const SECRET = 'abcdefghijklmnop';

      it('reads its name and secret, of any UTF-8, and ignores other keys of auth', () => {
        for (const [name, secret] of [
          ['kiosk', SECRET],
          ['', ''],
          ['Reykjavík', 'ünïcödé secret ✓'],
        ] as const) {
          expect(
            decodeClientMessage(
              pack({ type: 'hello', version: 1, auth: { name, secret, x: [1] } }),
            ),
          ).to.deep.equal({ type: 'hello', version: 1, auth: { name, secret } });
        }
        expect(
          decodeClientMessage(
            pack({ type: 'hello', version: 1, id: 4, auth: { name: 'a', secret: 'b' } }),
          ),
        ).to.deep.equal({ type: 'hello', version: 1, id: 4, auth: { name: 'a', secret: 'b' } });
      });

      for (const [what, auth] of [
        ['an auth that is not a map', 'kiosk'],
        ['an auth that is nil', null],
        ['an auth without a secret', { name: 'kiosk' }],
        ['an auth without a name', { secret: SECRET }],
        ['a name that is not a str', { name: 7, secret: SECRET }],
        ['a secret that is not a str', { name: 'kiosk', secret: null }],
        ['a secret as bin', { name: 'kiosk', secret: Buffer.from(SECRET) }],
      ] as const) {
        it(`rejects ${what} with ERR_BAD_MESSAGE, echoing the id, as a hello`, () => {
          expect(decodeClientMessage(pack({ type: 'hello', version: 1, id: 9, auth }))).to.include({
            type: 'rejected',
            code: 'ERR_BAD_MESSAGE',
            id: 9,
            claimed: 'hello',
          });
        });
      }

      it('rejects an auth map with a key that is not a str, or a key twice', () => {
        const start = '83 a4 74797065 a5 68656c6c6f a7 76657273696f6e 01 a4 61757468';
        for (const auth of [
          '83 a4 6e616d65 a1 61 a6 736563726574 a1 62 01 c0',
          '83 a4 6e616d65 a1 61 a6 736563726574 a1 62 a4 6e616d65 a1 63',
        ]) {
          expect(decodeClientMessage(hex(`${start} ${auth}`)), auth).to.include({
            type: 'rejected',
            code: 'ERR_BAD_MESSAGE',
            claimed: 'hello',
          });
        }
      });

      it('rejects an auth map with a key it does not define twice, as the message map is (§3.2)', () => {
        const start = '83 a4 74797065 a5 68656c6c6f a7 76657273696f6e 01 a4 61757468';
        const credential = 'a4 6e616d65 a1 61 a6 736563726574 a1 62';
        for (const auth of [
          `84 ${credential} a1 78 01 a1 78 02`,
          `84 a1 78 01 ${credential} a1 78 01`,
          `84 ${credential} a1 78 01 d9 01 78 02`, // the same bytes, once as str 8
        ]) {
          expect(decodeClientMessage(hex(`${start} ${auth}`)), auth).to.include({
            type: 'rejected',
            code: 'ERR_BAD_MESSAGE',
            claimed: 'hello',
          });
        }
        // Two keys it does not define, each once, are ignored.
        expect(
          decodeClientMessage(hex(`${start} 84 ${credential} a1 78 01 a1 79 01`)),
        ).to.deep.equal({ type: 'hello', version: 1, auth: { name: 'a', secret: 'b' } });
      });

      it('writes a hello with its credential as the map of §4.1, read back the same', () => {
        const hello = {
          type: 'hello',
          version: 1,
          auth: { name: 'kiosk', secret: SECRET },
        } as const;
        const frame = encodeMessage(hello);
        expect(bodyOf(frame)).to.deep.equal(pack(hello));
        expect(decodeClientMessage(bodyOf(frame))).to.deep.equal(hello);
      });
    });

    describe('prototype keys', () => {
      const prototypeKeys = () => Object.getOwnPropertyNames(Object.prototype).sort();
      const before = prototypeKeys();

      afterEach(() => {
        // Whatever happened, leave no trace for the specs that follow.
        for (const key of Object.getOwnPropertyNames(Object.prototype)) {
          if (!before.includes(key)) delete (Object.prototype as Record<string, unknown>)[key];
        }
      });

      it('does not let a __proto__ key pollute Object.prototype or change the result', () => {
        const body = pack(
          new Map<string, unknown>([
            ['type', 'read'],
            ['id', 9],
            ['reading', 'rainfall'],
            ['__proto__', { polluted: true, type: 'hello', version: 1 }],
          ]),
        );
        expect(decodeClientMessage(body)).to.deep.equal(validRead);
        expect(prototypeKeys()).to.deep.equal(before);
        expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
      });

      it('does not take fields from a __proto__ key as the message', () => {
        const body = pack(new Map<string, unknown>([['__proto__', { type: 'hello', version: 1 }]]));
        expect(decodeClientMessage(body)).to.include({ type: 'rejected', code: 'ERR_BAD_MESSAGE' });
        expect(prototypeKeys()).to.deep.equal(before);
      });

      it('does not let a constructor key pollute Object.prototype or change the result', () => {
        const body = pack(
          new Map<string, unknown>([
            ['constructor', { prototype: { polluted: true } }],
            ['type', 'read'],
            ['id', 9],
            ['reading', 'rainfall'],
          ]),
        );
        expect(decodeClientMessage(body)).to.deep.equal(validRead);
        expect(prototypeKeys()).to.deep.equal(before);
        expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
      });
    });

    it('gives the verdict of the §6.3 checks, in their order, for any map of fields (property)', () => {
      // A model of §3–§6.3 over the value msgpackr writes: integers as ints, other numbers as
      // float 64, strings as strs. It says what the first failing check of the frame alone gives.
      const isId = (value: unknown): value is number =>
        Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_REQUEST_ID;
      const model = (fields: Record<string, unknown>): unknown => {
        const id = isId(fields['id']) ? fields['id'] : null;
        const { type, version, reading, station, auth } = fields;
        if (type === 'hello') {
          const badHello = { type: 'rejected', code: 'ERR_BAD_MESSAGE', id, claimed: 'hello' };
          if (!isId(version)) return badHello;
          const hello = id === null ? { type, version } : { type, version, id };
          if (auth === undefined) return hello;
          const isMap = typeof auth === 'object' && auth !== null && !Array.isArray(auth);
          const { name, secret } = (isMap ? auth : {}) as Record<string, unknown>;
          if (typeof name !== 'string' || typeof secret !== 'string') return badHello;
          return { ...hello, auth: { name, secret } };
        }
        if (type !== 'read') return { type: 'rejected', code: 'ERR_BAD_MESSAGE', id };
        if (id === null) return { type: 'rejected', code: 'ERR_BAD_MESSAGE', id, claimed: 'read' };
        if (
          typeof reading !== 'string' ||
          (station !== undefined && station !== null && typeof station !== 'string')
        ) {
          return { type: 'rejected', code: 'ERR_BAD_MESSAGE', id, claimed: 'read' };
        }
        if (!(READINGS as readonly string[]).includes(reading)) {
          return { type: 'rejected', code: 'ERR_UNKNOWN_READING', id, claimed: 'read' };
        }
        return typeof station === 'string' ? { type, id, reading, station } : { type, id, reading };
      };
      const anyValue = fc.oneof(
        fc.constantFrom('hello', 'read', 'write', '', ...READINGS, 'humidity', 'seattle'),
        fc.integer({ min: -10, max: 10 }),
        fc.constantFrom(MAX_REQUEST_ID, MAX_REQUEST_ID + 1, -(2 ** 40), 2 ** 40, 1.5, -0.25),
        fc.constantFrom(null, true, false),
        fc.string({ maxLength: 8 }),
        fc.array(fc.integer(), { maxLength: 3 }),
      );
      const fieldsArb = fc.dictionary(
        fc.constantFrom('type', 'id', 'version', 'reading', 'station', 'auth', 'extra'),
        fc.oneof(
          anyValue,
          fc.dictionary(fc.constantFrom('name', 'secret', 'extra'), anyValue, { maxKeys: 3 }),
        ),
        { maxKeys: 7 },
      );
      fc.assert(
        fc.property(fieldsArb, (fields) => {
          const result = decodeClientMessage(pack(fields));
          const { message: _, ...verdict } = result as Rejected;
          expect(
            result.type === 'rejected' ? verdict : result,
            JSON.stringify(fields),
          ).to.deep.equal(model(fields));
        }),
        { numRuns: 3000 },
      );
    });

    it('gives a valid message or a coded rejection for any bytes (property)', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 1100 }), (bytes) => {
          const result = decodeClientMessage(bytes);
          expect(isValidClientMessage(result) || isCodedRejection(result), JSON.stringify(result))
            .to.be.true;
        }),
        { numRuns: 3000 },
      );
    });

    it('gives a valid message or a coded rejection for any mutation of a valid body (property)', () => {
      const mutation = fc.oneof(
        fc.record({
          kind: fc.constant('set' as const),
          at: fc.nat(),
          byte: fc.integer({ min: 0, max: 255 }),
        }),
        fc.record({
          kind: fc.constant('insert' as const),
          at: fc.nat(),
          byte: fc.integer({ min: 0, max: 255 }),
        }),
        fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      );
      fc.assert(
        fc.property(
          clientMessageArb,
          fc.array(mutation, { minLength: 1, maxLength: 6 }),
          (message, mutations) => {
            const bytes = [...bodyOf(encodeMessage(message))];
            for (const change of mutations) {
              const at = change.at % (bytes.length + 1);
              if (change.kind === 'set' && at < bytes.length) bytes[at] = change.byte;
              if (change.kind === 'insert') bytes.splice(at, 0, change.byte);
              if (change.kind === 'delete') bytes.splice(at, 1);
              if (change.kind === 'cut') bytes.length = at;
            }
            const result = decodeClientMessage(Uint8Array.from(bytes));
            expect(isValidClientMessage(result) || isCodedRejection(result), JSON.stringify(result))
              .to.be.true;
            // Garbage leaves no state behind in the decoder: the next good body still decodes.
            expect(decodeClientMessage(bodyOf(encodeMessage(message)))).to.deep.equal(message);
          },
        ),
        { numRuns: 3000 },
      );
    });

    it('decodes a body that sits inside a larger buffer, at an offset', () => {
      const body = pack({ ...validRead, station: 'Reykjavík' });
      const padded = Buffer.concat([hex('ffffff'), body, hex('ffff')]);
      const inside = new Uint8Array(padded.buffer, padded.byteOffset + 3, body.length);
      expect(decodeClientMessage(inside)).to.deep.equal({ ...validRead, station: 'Reykjavík' });
    });
  });

  describe('decodeServerMessage', () => {
    const malformed: readonly [string, Buffer][] = [
      ['an empty body', Buffer.alloc(0)],
      ['bytes that are not MessagePack', hex('c1')],
      [
        'trailing bytes after one value',
        Buffer.concat([pack({ type: 'error', id: null, code: 'X', message: '' }), hex('c0')]),
      ],
      ['an array instead of a map', pack(['error', null, 'ERR_INTERNAL', 'm'])],
      ['an unknown type', pack({ type: 'goodbye' })],
      // Regression: a BigInt type made JSON.stringify throw a TypeError instead.
      ['a type that is a 64-bit integer', hex('81 a474797065 cf0000000000000005')],
      // Regression: JSON.stringify of a type nested 3000 deep threw a RangeError instead.
      ['a type nested 3000 arrays deep', nestedType(3000)],
      ['a value nested too deep to read', nestedType(100_000)],
      ['a welcome without a station', pack({ ...WELCOME, station: undefined })],
      [
        'a welcome whose latitude is a string',
        pack({ ...WELCOME, station: { ...WELCOME.station, latitude: '47' } }),
      ],
      ['a welcome without units', pack({ ...WELCOME, units: null })],
      [
        'a reading reply with an unknown reading',
        pack({ ...PINNED_READING_REPLY, reading: 'humidity' }),
      ],
      ['a reading reply whose value is a string', pack({ ...PINNED_READING_REPLY, value: '12' })],
      ['a reading reply without an id', pack({ ...PINNED_READING_REPLY, id: undefined })],
      [
        'an error reply whose id is a string',
        pack({ type: 'error', id: '1', code: 'ERR_INTERNAL', message: 'm' }),
      ],
      ['an error reply without a code', pack({ type: 'error', id: 1, message: 'm' })],
      ['an error reply without a message', pack({ type: 'error', id: 1, code: 'ERR_INTERNAL' })],
    ];

    for (const [what, body] of malformed) {
      it(`throws ERR_PROTOCOL for ${what}`, () => {
        expectProtocolError(body);
      });
    }

    it('names a bad field of a listed station by its place in the welcome', () => {
      const body = pack({
        ...WELCOME,
        stations: [WELCOME.station, WELCOME.station, { ...WELCOME.station, latitude: '47' }],
      });
      expect(() => decodeServerMessage(body))
        .to.throw(MeteoError)
        .with.property('message')
        .that.includes('welcome.stations[2].latitude')
        .and.does.not.include('undefined');
    });

    it('names a bad field of the default station and of the units by their paths', () => {
      const badStation = pack({ ...WELCOME, station: { ...WELCOME.station, name: 3 } });
      expect(() => decodeServerMessage(badStation))
        .to.throw(MeteoError)
        .with.property('message')
        .that.includes('welcome.station.name');
      const badUnits = pack({ ...WELCOME, units: { temperature: '°C', pressure: 'hPa' } });
      expect(() => decodeServerMessage(badUnits))
        .to.throw(MeteoError)
        .with.property('message')
        .that.includes('welcome.units.rainfall');
    });

    it('keeps an error code it does not know as a string', () => {
      const body = pack({ type: 'error', id: 3, code: 'ERR_FROM_A_NEWER_SERVER', message: 'hm' });
      expect(decodeServerMessage(body)).to.deep.equal({
        type: 'error',
        id: 3,
        code: 'ERR_FROM_A_NEWER_SERVER',
        message: 'hm',
      });
    });

    it('reads a reading value the peer wrote as an integer', () => {
      // Our server always writes float 64, but a number is a number on the way in.
      const decoded = decodeServerMessage(pack({ ...PINNED_READING_REPLY, value: 12 }));
      expect(decoded).to.deep.equal(PINNED_READING_REPLY);
    });

    it('returns a message or throws ERR_PROTOCOL for any map of server fields (property)', () => {
      const field = fc.constantFrom(
        'type',
        'id',
        'version',
        'server',
        'station',
        'units',
        'reading',
        'value',
        'unit',
        'observedAt',
        'code',
        'message',
      );
      const map = fc.tuple(
        fc.oneof(fc.constantFrom('welcome', 'reading', 'error'), fc.jsonValue({ maxDepth: 2 })),
        fc.dictionary(field, fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.date()), { maxKeys: 8 }),
      );
      fc.assert(
        fc.property(map, ([type, fields]) => {
          try {
            decodeServerMessage(pack({ ...fields, type }));
          } catch (err) {
            expect(err).to.be.instanceOf(MeteoError);
            expect((err as MeteoError).code).to.equal('ERR_PROTOCOL');
          }
        }),
        { numRuns: 2000 },
      );
    });

    it('returns a message or throws ERR_PROTOCOL for any bytes (property)', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          try {
            decodeServerMessage(bytes);
          } catch (err) {
            expect(err).to.be.instanceOf(MeteoError);
            expect((err as MeteoError).code).to.equal('ERR_PROTOCOL');
          }
        }),
        { numRuns: 2000 },
      );
    });
  });
});
