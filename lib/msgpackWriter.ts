/**
 * A small MessagePack writer, written from the specification
 * (https://github.com/msgpack/msgpack/blob/master/spec.md), for the few
 * formats the wire protocol uses (docs/PROTOCOL.md §3): maps, arrays,
 * UTF-8 strings, integers, nil, float 64 and the timestamp extension.
 *
 * It writes into one scratch buffer that it keeps and grows, and `copyOut`
 * hands back the bytes written as a new `Buffer`: one allocation and one
 * copy per call, however many values went in. Pure: no I/O, no timers.
 * Where the specification lets an encoder choose, it writes the smallest
 * format that holds the value, as the specification asks of serializers.
 */

/** Bytes the scratch buffer starts with: a welcome, or a batch of some 40 readings. */
const INITIAL_BYTES = 4096;

/**
 * A scratch buffer grown past this for one very large message is dropped
 * after that message, so a rare large one does not pin its memory for ever.
 */
const RETAINED_BYTES = 1 << 20;

/** The timestamp extension's type (spec "Timestamp extension type"): −1, as a byte. */
const TIMESTAMP_TYPE = 0xff;
const TWO_TO_32 = 0x1_0000_0000;
/** Seconds below 2^34 fit timestamp 64's 34 bits. */
const TWO_TO_34 = 0x4_0000_0000;

/**
 * Writes MessagePack values one after another into a reused buffer.
 *
 * Not reentrant: one message (or one batch) at a time, from `reset` to
 * `copyOut`. Each method writes one value, or one header that the caller
 * follows with that many values (`mapHeader(n)` then n keys and n values).
 */
export class MessagePackWriter {
  #buffer: Buffer;
  #view: DataView;
  #position = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.#buffer = Buffer.allocUnsafe(initialBytes);
    this.#view = viewOf(this.#buffer);
  }

  /** Bytes written since the last `reset`. */
  get length(): number {
    return this.#position;
  }

  /** Starts over: what was written is forgotten (earlier `copyOut` results are not touched). */
  reset(): void {
    this.#position = 0;
  }

  /** The bytes written since the last `reset`, as a Buffer of their own. */
  copyOut(): Buffer {
    const out = Buffer.allocUnsafe(this.#position);
    this.#buffer.copy(out, 0, 0, this.#position);
    if (this.#buffer.length > RETAINED_BYTES) {
      this.#buffer = Buffer.allocUnsafe(INITIAL_BYTES);
      this.#view = viewOf(this.#buffer);
    }
    this.#position = 0;
    return out;
  }

  /**
   * Leaves `bytes` bytes to be filled in later (a length prefix, say) and
   * returns where they start, for `setUint32At`.
   */
  skip(bytes: number): number {
    this.#ensure(bytes);
    const at = this.#position;
    this.#position += bytes;
    return at;
  }

  /** Writes `value` as a big-endian unsigned 32-bit integer over bytes already skipped. */
  setUint32At(at: number, value: number): void {
    this.#view.setUint32(at, value);
  }

  /**
   * Bytes already encoded, copied as they are: a constant key, or a run of
   * constant keys and values, made once with `encodeConstant`.
   */
  raw(bytes: Uint8Array): void {
    const length = bytes.length;
    this.#ensure(length);
    const buffer = this.#buffer;
    let at = this.#position;
    // A loop beats TypedArray#set for the few bytes of a key.
    for (let i = 0; i < length; i++) buffer[at++] = bytes[i] as number;
    this.#position = at;
  }

  /** nil (0xc0). */
  nil(): void {
    this.#ensure(1);
    this.#buffer[this.#position++] = 0xc0;
  }

  /** A map of `entries` pairs: fixmap, map 16 or map 32. */
  mapHeader(entries: number): void {
    this.#header(entries, 0x80, 0xde);
  }

  /** An array of `items` values: fixarray, array 16 or array 32. */
  arrayHeader(items: number): void {
    this.#header(items, 0x90, 0xdc);
  }

  /**
   * An integer, in the smallest of positive fixint, uint 8/16/32, negative
   * fixint and int 8/16/32 that holds it. The protocol's integers are 32-bit
   * (docs/PROTOCOL.md §3); any other number (a fraction, or beyond 32 bits)
   * is written as float 64, so it still reads back as the same number.
   */
  integer(value: number): void {
    this.#ensure(9);
    const buffer = this.#buffer;
    let at = this.#position;
    if (value >>> 0 === value) {
      if (value < 0x80) {
        buffer[at++] = value;
      } else if (value < 0x100) {
        buffer[at++] = 0xcc;
        buffer[at++] = value;
      } else if (value < 0x1_0000) {
        buffer[at++] = 0xcd;
        buffer[at++] = value >>> 8;
        buffer[at++] = value & 0xff;
      } else {
        buffer[at++] = 0xce;
        this.#view.setUint32(at, value);
        at += 4;
      }
    } else if (value >> 0 === value) {
      if (value >= -0x20) {
        buffer[at++] = value & 0xff;
      } else if (value >= -0x80) {
        buffer[at++] = 0xd0;
        buffer[at++] = value & 0xff;
      } else if (value >= -0x8000) {
        buffer[at++] = 0xd1;
        this.#view.setInt16(at, value);
        at += 2;
      } else {
        buffer[at++] = 0xd2;
        this.#view.setInt32(at, value);
        at += 4;
      }
    } else {
      this.#position = at;
      this.float64(value);
      return;
    }
    this.#position = at;
  }

  /**
   * float 64: marker 0xcb, then the IEEE-754 double big-endian, whatever the
   * value, whole ones included (docs/PROTOCOL.md §3: 12.0 is never `0c`).
   */
  float64(value: number): void {
    this.#ensure(9);
    const at = this.#position;
    this.#buffer[at] = 0xcb;
    this.#view.setFloat64(at + 1, value);
    this.#position = at + 9;
  }

  /**
   * A string as UTF-8: fixstr, str 8, str 16 or str 32 by its length in
   * bytes. A lone surrogate, which UTF-8 cannot carry, is written as U+FFFD
   * (`ef bf bd`), as `TextEncoder` and `Buffer` write it.
   */
  string(value: string): void {
    const units = value.length;
    // Each UTF-16 unit takes 1 to 3 bytes, so the header is sized for the
    // least (one per unit) and moved up in the rare case the bytes need more.
    const guessed = units < 0x20 ? 1 : units < 0x100 ? 2 : units < 0x1_0000 ? 3 : 5;
    this.#ensure(5 + units * 3);
    const buffer = this.#buffer;
    const start = this.#position + guessed;
    let bytes: number;
    if (units < 0x40) {
      // Short strings (every key, and most values): a loop is faster than a call into C++.
      let at = start;
      for (let i = 0; i < units; i++) {
        let c = value.charCodeAt(i);
        if (c < 0x80) {
          buffer[at++] = c;
        } else if (c < 0x800) {
          buffer[at++] = 0xc0 | (c >> 6);
          buffer[at++] = 0x80 | (c & 0x3f);
        } else if ((c & 0xfc00) === 0xd800 && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
          c = 0x1_0000 + ((c & 0x3ff) << 10) + (value.charCodeAt(++i) & 0x3ff);
          buffer[at++] = 0xf0 | (c >> 18);
          buffer[at++] = 0x80 | ((c >> 12) & 0x3f);
          buffer[at++] = 0x80 | ((c >> 6) & 0x3f);
          buffer[at++] = 0x80 | (c & 0x3f);
        } else if ((c & 0xf800) === 0xd800) {
          buffer[at++] = 0xef;
          buffer[at++] = 0xbf;
          buffer[at++] = 0xbd;
        } else {
          buffer[at++] = 0xe0 | (c >> 12);
          buffer[at++] = 0x80 | ((c >> 6) & 0x3f);
          buffer[at++] = 0x80 | (c & 0x3f);
        }
      }
      bytes = at - start;
    } else {
      bytes = buffer.write(value, start, 'utf8');
    }
    const header = bytes < 0x20 ? 1 : bytes < 0x100 ? 2 : bytes < 0x1_0000 ? 3 : 5;
    if (header !== guessed) buffer.copyWithin(this.#position + header, start, start + bytes);
    let at = this.#position;
    if (header === 1) {
      buffer[at++] = 0xa0 | bytes;
    } else if (header === 2) {
      buffer[at++] = 0xd9;
      buffer[at++] = bytes;
    } else if (header === 3) {
      buffer[at++] = 0xda;
      buffer[at++] = bytes >>> 8;
      buffer[at++] = bytes & 0xff;
    } else {
      buffer[at++] = 0xdb;
      this.#view.setUint32(at, bytes);
      at += 4;
    }
    this.#position = at + bytes;
  }

  /**
   * A time as the timestamp extension (type −1), in the form the
   * specification gives for it: timestamp 32 (`d6 ff`, seconds as uint 32)
   * for whole seconds from 1970 to 2106; timestamp 64 (`d7 ff`, 30 bits of
   * nanoseconds and 34 of seconds) for any other time from 1970 to 2514;
   * timestamp 96 (`c7 0c ff`, nanoseconds as uint 32 and seconds as int 64)
   * for the rest, times before 1970 included.
   *
   * @throws RangeError for an invalid Date, which no timestamp can carry.
   */
  timestamp(time: Date): void {
    const ms = time.getTime();
    if (Number.isNaN(ms)) throw new RangeError('an invalid Date has no MessagePack timestamp');
    const seconds = Math.floor(ms / 1000);
    const nanoseconds = (ms - seconds * 1000) * 1_000_000;
    this.#ensure(15);
    const buffer = this.#buffer;
    const view = this.#view;
    const at = this.#position;
    if (seconds >= 0 && seconds < TWO_TO_34) {
      if (nanoseconds === 0 && seconds < TWO_TO_32) {
        buffer[at] = 0xd6;
        buffer[at + 1] = TIMESTAMP_TYPE;
        view.setUint32(at + 2, seconds);
        this.#position = at + 6;
      } else {
        // nanoseconds << 2 would overflow an int32: multiply instead.
        const high = Math.floor(seconds / TWO_TO_32);
        buffer[at] = 0xd7;
        buffer[at + 1] = TIMESTAMP_TYPE;
        view.setUint32(at + 2, nanoseconds * 4 + high);
        view.setUint32(at + 6, seconds - high * TWO_TO_32);
        this.#position = at + 10;
      }
    } else {
      // A Date's seconds fit 44 bits, so the int 64 is written as two halves without BigInt.
      const high = Math.floor(seconds / TWO_TO_32);
      buffer[at] = 0xc7;
      buffer[at + 1] = 12;
      buffer[at + 2] = TIMESTAMP_TYPE;
      view.setUint32(at + 3, nanoseconds);
      view.setInt32(at + 7, high);
      view.setUint32(at + 11, seconds - high * TWO_TO_32);
      this.#position = at + 15;
    }
  }

  #header(count: number, fix: number, marker16: number): void {
    this.#ensure(5);
    const buffer = this.#buffer;
    let at = this.#position;
    if (count < 0x10) {
      buffer[at++] = fix | count;
    } else if (count < 0x1_0000) {
      buffer[at++] = marker16;
      buffer[at++] = count >>> 8;
      buffer[at++] = count & 0xff;
    } else {
      // map 32 (0xdf) and array 32 (0xdd) follow their 16-bit forms.
      buffer[at++] = marker16 + 1;
      this.#view.setUint32(at, count);
      at += 4;
    }
    this.#position = at;
  }

  /** Makes room for `bytes` more bytes, doubling the buffer as often as needed. */
  #ensure(bytes: number): void {
    const needed = this.#position + bytes;
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buffer.copy(grown, 0, 0, this.#position);
    this.#buffer = grown;
    this.#view = viewOf(grown);
  }
}

function viewOf(buffer: Buffer): DataView {
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * The bytes of constant values (map keys, or a run of keys and constant
 * values), encoded once so that a message copies them instead of encoding
 * them again: `write` fills a fresh writer.
 */
export function encodeConstant(write: (writer: MessagePackWriter) => void): Uint8Array {
  const writer = new MessagePackWriter(64);
  write(writer);
  return new Uint8Array(writer.copyOut());
}
