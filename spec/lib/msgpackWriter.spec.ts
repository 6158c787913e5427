import { expect } from 'chai';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { encodeConstant, MessagePackWriter } from '../../lib/msgpackWriter.js';

/*
 * The expected bytes are written out from the MessagePack specification
 * (https://github.com/msgpack/msgpack/blob/master/spec.md). msgpackr, which
 * decodes the protocol, serves as a second reader, and as an oracle where it
 * writes the same format (integers, strings, timestamps: the smallest form).
 */

const oracle = new Packr({ useRecords: false, variableMapSize: true });
const reader = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** What `write` puts in a fresh writer, as hex. */
function written(write: (writer: MessagePackWriter) => void, initialBytes?: number): string {
  const writer = new MessagePackWriter(initialBytes);
  write(writer);
  return writer.copyOut().toString('hex');
}

function hex(text: string): string {
  return text.replace(/\s+/g, '');
}

const SECOND = 1000;
const TWO_TO_32 = 2 ** 32;
const TWO_TO_34 = 2 ** 34;
/** The first and last instants a JavaScript Date can hold. */
const DATE_MIN_MS = -8.64e15;
const DATE_MAX_MS = 8.64e15;

describe('lib/msgpackWriter', () => {
  describe('nil, integers and float 64', () => {
    it('writes nil as c0', () => {
      expect(written((w) => w.nil())).to.equal('c0');
    });

    const integers: readonly [number, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, 'cc 80'],
      [255, 'cc ff'],
      [256, 'cd 0100'],
      [65_535, 'cd ffff'],
      [65_536, 'ce 00010000'],
      [2 ** 32 - 1, 'ce ffffffff'],
      [-1, 'ff'],
      [-32, 'e0'],
      [-33, 'd0 df'],
      [-128, 'd0 80'],
      [-129, 'd1 ff7f'],
      [-32_768, 'd1 8000'],
      [-32_769, 'd2 ffff7fff'],
      [-(2 ** 31), 'd2 80000000'],
    ];
    for (const [value, bytes] of integers) {
      it(`writes the integer ${value} in its smallest form, ${bytes}`, () => {
        expect(written((w) => w.integer(value))).to.equal(hex(bytes));
      });
    }

    it('writes a number that is no 32-bit integer, given as an integer, as float 64', () => {
      for (const value of [2 ** 32, -(2 ** 31) - 1, 1.5, Number.NaN]) {
        const bytes = Buffer.alloc(9);
        bytes[0] = 0xcb;
        bytes.writeDoubleBE(value, 1);
        expect(
          written((w) => w.integer(value)),
          String(value),
        ).to.equal(bytes.toString('hex'));
      }
    });

    it('writes any 32-bit integer as msgpackr does, and it reads back the same (property)', () => {
      const int32 = fc.oneof(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: -200, max: 70_000 }),
      );
      fc.assert(
        fc.property(int32, (value) => {
          const bytes = written((w) => w.integer(value));
          expect(bytes).to.equal(oracle.pack(value).toString('hex'));
          expect(reader.unpack(Buffer.from(bytes, 'hex'))).to.equal(value);
        }),
        { numRuns: 2000 },
      );
    });

    const floats: readonly [number, string][] = [
      [0, 'cb 0000000000000000'],
      [-0, 'cb 8000000000000000'],
      [12, 'cb 4028000000000000'],
      [1, 'cb 3ff0000000000000'],
      [47.6062, 'cb 4047cd97f62b6ae8'],
      [Number.POSITIVE_INFINITY, 'cb 7ff0000000000000'],
      [Number.NaN, 'cb 7ff8000000000000'],
    ];
    for (const [value, bytes] of floats) {
      it(`writes ${Object.is(value, -0) ? '-0' : value} as float 64, ${bytes}, even when whole`, () => {
        expect(written((w) => w.float64(value))).to.equal(hex(bytes));
      });
    }

    it('writes any double as 0xcb and its eight big-endian bytes (property)', () => {
      fc.assert(
        fc.property(fc.double(), (value) => {
          const bytes = Buffer.from(
            written((w) => w.float64(value)),
            'hex',
          );
          expect(bytes.length).to.equal(9);
          expect(bytes[0]).to.equal(0xcb);
          expect(Object.is(bytes.readDoubleBE(1), value)).to.equal(true);
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('strings', () => {
    const header = (bytes: number): string =>
      bytes < 0x20
        ? (0xa0 | bytes).toString(16)
        : bytes < 0x100
          ? `d9${bytes.toString(16).padStart(2, '0')}`
          : bytes < 0x1_0000
            ? `da${bytes.toString(16).padStart(4, '0')}`
            : `db${bytes.toString(16).padStart(8, '0')}`;

    const lengths: readonly [string, string][] = [
      ['', 'a0'],
      ['x'.repeat(31), 'bf'],
      ['x'.repeat(32), 'd9 20'],
      ['x'.repeat(255), 'd9 ff'],
      ['x'.repeat(256), 'da 0100'],
      ['x'.repeat(65_535), 'da ffff'],
      ['x'.repeat(65_536), 'db 00010000'],
    ];
    for (const [value, bytes] of lengths) {
      it(`writes a string of ${value.length} ASCII bytes with header ${bytes}`, () => {
        expect(written((w) => w.string(value))).to.equal(
          hex(bytes) + Buffer.from(value).toString('hex'),
        );
      });
    }

    it('writes °C as c2 b0 43 (docs/PROTOCOL.md §3)', () => {
      expect(written((w) => w.string('°C'))).to.equal('a3c2b043');
    });

    it('sizes the header by bytes, not characters, when UTF-8 makes a string longer', () => {
      // 11 characters, 33 bytes: str 8; 86 characters, 258 bytes: str 16; 21,846 characters,
      // 65,538 bytes: str 32. Short ones go through the writer's loop, long ones through Buffer.
      for (const value of ['€'.repeat(11), '°'.repeat(16), '€'.repeat(86), '€'.repeat(21_846)]) {
        const utf8 = Buffer.from(value, 'utf8');
        expect(
          written((w) => w.string(value)),
          `${value.length} characters`,
        ).to.equal(header(utf8.length) + utf8.toString('hex'));
      }
    });

    it('writes a surrogate pair as one four-byte character, and a lone surrogate as U+FFFD', () => {
      expect(written((w) => w.string('😀'))).to.equal('a4f09f9880');
      expect(written((w) => w.string('a\ud800b'))).to.equal('a561efbfbd62');
      expect(written((w) => w.string('\udc00'))).to.equal('a3efbfbd');
      expect(written((w) => w.string(`${'y'.repeat(70)}\ud800`))).to.equal(
        `d949${'79'.repeat(70)}efbfbd`,
      );
    });

    it('writes any string as its UTF-8 bytes under the smallest header, as msgpackr does (property)', () => {
      const anyString = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'binary', minLength: 60, maxLength: 400 }),
        fc.string({ unit: 'grapheme', maxLength: 100 }),
      );
      fc.assert(
        fc.property(anyString, (value) => {
          const utf8 = Buffer.from(value, 'utf8');
          const bytes = written((w) => w.string(value));
          expect(bytes).to.equal(header(utf8.length) + utf8.toString('hex'));
          expect(bytes).to.equal(oracle.pack(value).toString('hex'));
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('maps and arrays', () => {
    const headers: readonly [number, string, string][] = [
      [0, '80', '90'],
      [15, '8f', '9f'],
      [16, 'de 0010', 'dc 0010'],
      [65_535, 'de ffff', 'dc ffff'],
      [65_536, 'df 00010000', 'dd 00010000'],
    ];
    for (const [count, map, array] of headers) {
      it(`writes a map of ${count} entries as ${map}, an array of ${count} as ${array}`, () => {
        expect(written((w) => w.mapHeader(count))).to.equal(hex(map));
        expect(written((w) => w.arrayHeader(count))).to.equal(hex(array));
      });
    }

    it('writes a map and an array that msgpackr reads back', () => {
      const bytes = written((w) => {
        w.mapHeader(2);
        w.string('list');
        w.arrayHeader(3);
        w.integer(1);
        w.nil();
        w.float64(2.5);
        w.string('name');
        w.string('°C');
      });
      expect(reader.unpack(Buffer.from(bytes, 'hex'))).to.deep.equal({
        list: [1, null, 2.5],
        name: '°C',
      });
    });
  });

  describe('timestamps', () => {
    // [instant in ms since the epoch, form, bytes]: the edges of each form of the specification's
    // "Timestamp extension type", and the first and last instants a Date holds.
    const edges: readonly [number, string, string][] = [
      [0, 'timestamp 32', 'd6 ff 00000000'],
      [1_795_728_600 * SECOND, 'timestamp 32', 'd6 ff 6b08a4d8'],
      [(TWO_TO_32 - 1) * SECOND, 'timestamp 32', 'd6 ff ffffffff'],
      [1, 'timestamp 64', 'd7 ff 003d0900 00000000'],
      [(TWO_TO_32 - 1) * SECOND + 999, 'timestamp 64', 'd7 ff ee2e1f00 ffffffff'],
      [TWO_TO_32 * SECOND, 'timestamp 64', 'd7 ff 00000001 00000000'],
      [(TWO_TO_34 - 1) * SECOND, 'timestamp 64', 'd7 ff 00000003 ffffffff'],
      [(TWO_TO_34 - 1) * SECOND + 999, 'timestamp 64', 'd7 ff ee2e1f03 ffffffff'],
      [TWO_TO_34 * SECOND, 'timestamp 96', 'c7 0c ff 00000000 0000000400000000'],
      [-1, 'timestamp 96', 'c7 0c ff 3b8b87c0 ffffffffffffffff'],
      [-SECOND, 'timestamp 96', 'c7 0c ff 00000000 ffffffffffffffff'],
      [DATE_MAX_MS, 'timestamp 96', 'c7 0c ff 00000000 000007dba8218000'],
      [DATE_MIN_MS, 'timestamp 96', 'c7 0c ff 00000000 fffff82457de8000'],
    ];
    for (const [ms, form, bytes] of edges) {
      it(`writes ${new Date(ms).toISOString()} as ${form}, ${bytes}, which reads back the same`, () => {
        const out = written((w) => w.timestamp(new Date(ms)));
        expect(out).to.equal(hex(bytes));
        expect((reader.unpack(Buffer.from(out, 'hex')) as Date).getTime()).to.equal(ms);
      });
    }

    it('chooses the form the specification gives for any instant, and reads back the same (property)', () => {
      const instant = fc.oneof(
        fc.integer({ min: DATE_MIN_MS, max: DATE_MAX_MS }),
        fc.integer({ min: -2 * SECOND, max: 2 * SECOND }),
        fc.integer({ min: (TWO_TO_32 - 2) * SECOND, max: (TWO_TO_32 + 2) * SECOND }),
        fc.integer({ min: (TWO_TO_34 - 2) * SECOND, max: (TWO_TO_34 + 2) * SECOND }),
        fc.integer({ min: 0, max: TWO_TO_32 - 1 }).map((seconds) => seconds * SECOND),
      );
      fc.assert(
        fc.property(instant, (ms) => {
          const bytes = Buffer.from(
            written((w) => w.timestamp(new Date(ms))),
            'hex',
          );
          const seconds = Math.floor(ms / SECOND);
          const whole = ms % SECOND === 0;
          const form =
            seconds >= 0 && seconds < TWO_TO_34
              ? whole && seconds < TWO_TO_32
                ? 'd6ff'
                : 'd7ff'
              : 'c70cff';
          expect(bytes.subarray(0, form.length / 2).toString('hex')).to.equal(form);
          expect(bytes.equals(oracle.pack(new Date(ms))), 'as msgpackr writes it').to.equal(true);
          expect((reader.unpack(bytes) as Date).getTime()).to.equal(ms);
        }),
        { numRuns: 3000 },
      );
    });

    it('refuses an invalid Date with a RangeError, since no timestamp holds it', () => {
      expect(() => new MessagePackWriter().timestamp(new Date(Number.NaN))).to.throw(RangeError);
    });
  });

  describe('the buffer', () => {
    it('grows past its first size and loses nothing already written', () => {
      const write = (w: MessagePackWriter): void => {
        w.arrayHeader(500);
        for (let i = 0; i < 500; i++) w.string(`value ${i} °C`);
      };
      expect(written(write, 8)).to.equal(written(write, 1 << 16));
    });

    it('hands out copies: a later message does not change an earlier one', () => {
      const writer = new MessagePackWriter(16);
      writer.string('first');
      const first = writer.copyOut();
      writer.string('second, and longer than the first buffer');
      writer.copyOut();
      expect(first.toString('hex')).to.equal('a56669727374');
    });

    it('starts over after copyOut and after reset', () => {
      const writer = new MessagePackWriter();
      writer.nil();
      writer.copyOut();
      writer.integer(1);
      writer.reset();
      writer.integer(2);
      expect(writer.copyOut().toString('hex')).to.equal('02');
    });

    it('after a message larger than it keeps, still writes the next one whole', () => {
      const writer = new MessagePackWriter();
      const large = 'z'.repeat(3 << 20);
      writer.string(large);
      expect(writer.copyOut().length).to.equal(5 + large.length);
      writer.string('small');
      expect(writer.copyOut().toString('hex')).to.equal('a5736d616c6c');
    });

    it('fills in skipped bytes with setUint32At, big-endian', () => {
      const writer = new MessagePackWriter();
      const at = writer.skip(4);
      writer.string('abc');
      writer.setUint32At(at, writer.length - 4);
      expect(writer.copyOut().toString('hex')).to.equal('00000004a3616263');
    });
  });

  describe('encodeConstant', () => {
    it('gives the bytes once, and raw copies them in', () => {
      const key = encodeConstant((w) => w.string('observedAt'));
      expect(Buffer.from(key).toString('hex')).to.equal('aa6f627365727665644174');
      expect(
        written((w) => {
          w.mapHeader(1);
          w.raw(key);
          w.nil();
        }),
      ).to.equal('81aa6f627365727665644174c0');
    });
  });
});
