/**
 * Reads just enough of a server reply to check it: its `type` and its `id`
 * (docs/PROTOCOL.md §5.2, §6.1), walking the MessagePack bytes without
 * building an object, a string or a Date. The load generator checks every
 * reply with it, so that checking costs it far less than the server spends
 * making the reply (a full decode with msgpackr would cost the load
 * generator about as much). Anything that is not a well-formed map is
 * reported as `REPLY_MALFORMED`, never thrown.
 */

/** What `scan` found: the kind of message. */
export const REPLY_MALFORMED = 0;
export const REPLY_READING = 1;
export const REPLY_ERROR = 2;
export const REPLY_WELCOME = 3;
/** A map with a `type` this scanner does not know, or without one. */
export const REPLY_OTHER = 4;

export type ReplyKind =
  | typeof REPLY_MALFORMED
  | typeof REPLY_READING
  | typeof REPLY_ERROR
  | typeof REPLY_WELCOME
  | typeof REPLY_OTHER;

/** `id` when the reply had none, or a nil one, or one that is not an unsigned integer. */
export const NO_ID = -1;

/** Deepest nesting skipped; the server's replies nest two levels at most. */
const MAX_DEPTH = 8;

const TYPE_NAMES: readonly (readonly [string, ReplyKind])[] = [
  ['reading', REPLY_READING],
  ['error', REPLY_ERROR],
  ['welcome', REPLY_WELCOME],
];

/** Bytes after an ext header's length field: the type byte and the data; −1 if the length was cut off. */
function extLength(dataLength: number): number {
  return dataLength < 0 ? -1 : dataLength + 1;
}

const KEY_OTHER = 0;
const KEY_TYPE = 1;
const KEY_ID = 2;

/**
 * One scanner per load generator; `scan` returns the kind and leaves the id
 * in `id`, so a reply costs no allocation.
 */
export class ReplyScanner {
  /** The id of the last reply scanned, or NO_ID. */
  id = NO_ID;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;

  scan(body: Uint8Array): ReplyKind {
    this.#buf = body;
    this.#pos = 0;
    this.id = NO_ID;
    let kind: ReplyKind = REPLY_OTHER;
    const entries = this.#mapHeader();
    if (entries < 0) return REPLY_MALFORMED;
    for (let i = 0; i < entries; i++) {
      const key = this.#key();
      if (key < 0) return REPLY_MALFORMED;
      if (key === KEY_TYPE) {
        const type = this.#typeValue();
        if (type < 0) return REPLY_MALFORMED;
        kind = type as ReplyKind;
      } else if (key === KEY_ID) {
        if (!this.#idValue()) return REPLY_MALFORMED;
      } else if (!this.#skip(0)) {
        return REPLY_MALFORMED;
      }
    }
    return this.#pos === body.length ? kind : REPLY_MALFORMED;
  }

  #byte(): number {
    const b = this.#buf[this.#pos++];
    return b === undefined ? -1 : b;
  }

  #uint(bytes: number): number {
    if (this.#pos + bytes > this.#buf.length) {
      this.#pos = this.#buf.length + 1;
      return -1;
    }
    let value = 0;
    for (let i = 0; i < bytes; i++) value = value * 256 + (this.#buf[this.#pos++] as number);
    return value;
  }

  #mapHeader(): number {
    const b = this.#byte();
    if (b >= 0x80 && b <= 0x8f) return b & 0x0f;
    if (b === 0xde) return this.#uint(2);
    if (b === 0xdf) return this.#uint(4);
    return -1;
  }

  /** Length of a string at the cursor, the cursor left on its first byte; −1 if not a string. */
  #stringLength(): number {
    const b = this.#byte();
    if (b >= 0xa0 && b <= 0xbf) return b & 0x1f;
    if (b === 0xd9) return this.#uint(1);
    if (b === 0xda) return this.#uint(2);
    if (b === 0xdb) return this.#uint(4);
    return -1;
  }

  /** Whether the `length` bytes at the cursor spell `ascii`; moves past them either way. */
  #spells(length: number, ascii: string): boolean {
    const start = this.#pos;
    this.#pos += length;
    if (this.#pos > this.#buf.length || length !== ascii.length) return false;
    for (let i = 0; i < length; i++) {
      if (this.#buf[start + i] !== ascii.charCodeAt(i)) return false;
    }
    return true;
  }

  #key(): number {
    const length = this.#stringLength();
    if (length < 0) return -1;
    const start = this.#pos;
    if (this.#spells(length, 'type')) return KEY_TYPE;
    this.#pos = start;
    if (this.#spells(length, 'id')) return KEY_ID;
    return this.#pos > this.#buf.length ? -1 : KEY_OTHER;
  }

  #typeValue(): number {
    const length = this.#stringLength();
    if (length < 0) return -1;
    const start = this.#pos;
    for (const [name, kind] of TYPE_NAMES) {
      this.#pos = start;
      if (this.#spells(length, name)) return kind;
    }
    return this.#pos > this.#buf.length ? -1 : REPLY_OTHER;
  }

  /** Reads an id: an unsigned integer in any width, or nil (NO_ID); false if malformed. */
  #idValue(): boolean {
    const b = this.#byte();
    if (b < 0) return false;
    if (b <= 0x7f) {
      this.id = b;
      return true;
    }
    let value: number;
    switch (b) {
      case 0xc0:
        this.id = NO_ID;
        return true;
      case 0xcc:
        value = this.#uint(1);
        break;
      case 0xcd:
        value = this.#uint(2);
        break;
      case 0xce:
        value = this.#uint(4);
        break;
      case 0xcf:
        value = this.#uint(8);
        break;
      default:
        // A negative or non-integer id is no request's id; skip it, keep NO_ID.
        this.#pos--;
        return this.#skip(0);
    }
    if (value < 0) return false;
    this.id = value;
    return true;
  }

  /** Moves past one value of any type; false if it is malformed or runs off the end. */
  #skip(depth: number): boolean {
    if (depth > MAX_DEPTH) return false;
    const b = this.#byte();
    if (b < 0) return false;
    let length: number;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return true;
    if (b >= 0x80 && b <= 0x8f) return this.#skipEntries((b & 0x0f) * 2, depth);
    if (b >= 0x90 && b <= 0x9f) return this.#skipEntries(b & 0x0f, depth);
    if (b >= 0xa0 && b <= 0xbf) length = b & 0x1f;
    else {
      switch (b) {
        case 0xc4:
        case 0xd9:
          length = this.#uint(1);
          break;
        case 0xc5:
        case 0xda:
          length = this.#uint(2);
          break;
        case 0xc6:
        case 0xdb:
          length = this.#uint(4);
          break;
        // ext 8/16/32: the data length, then a type byte, then the data.
        case 0xc7:
          length = extLength(this.#uint(1));
          break;
        case 0xc8:
          length = extLength(this.#uint(2));
          break;
        case 0xc9:
          length = extLength(this.#uint(4));
          break;
        case 0xcc:
        case 0xd0:
          length = 1;
          break;
        case 0xcd:
        case 0xd1:
          length = 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          length = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          length = 8;
          break;
        case 0xd4:
          length = 2;
          break;
        case 0xd5:
          length = 3;
          break;
        case 0xd6:
          length = 5;
          break;
        case 0xd7:
          length = 9;
          break;
        case 0xd8:
          length = 17;
          break;
        case 0xdc:
          return this.#skipEntries(this.#uint(2), depth);
        case 0xdd:
          return this.#skipEntries(this.#uint(4), depth);
        case 0xde:
          return this.#skipEntries(this.#uint(2) * 2, depth);
        case 0xdf:
          return this.#skipEntries(this.#uint(4) * 2, depth);
        default:
          return false; // 0xc1, never used
      }
    }
    if (length < 0) return false;
    this.#pos += length;
    return this.#pos <= this.#buf.length;
  }

  #skipEntries(values: number, depth: number): boolean {
    if (values < 0) return false;
    for (let i = 0; i < values; i++) if (!this.#skip(depth + 1)) return false;
    return true;
  }
}
