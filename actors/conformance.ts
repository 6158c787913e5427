/**
 * The conformance runner (docs/PROTOCOL.md §11): plays the vectors of
 * docs/protocol-vectors.json against a server, each on a fresh connection,
 * and says of each whether the server answered as the protocol says.
 *
 * One module on purpose, and nothing from the rest of the code base but the
 * error class: it carries its own framing and its own small MessagePack
 * reader (the specification's formats, so that it can tell a float 64 from
 * an integer), so that it can be ported to another language in an
 * afternoon, and so that a fault in lib/ cannot hide itself from the kit.
 */
import { connect } from 'node:net';
import { MeteoError } from '../lib/errors.js';

/** One vector of the file; docs/protocol-vectors.json's `schema` says what each field means. */
export interface Vector {
  readonly name: string;
  /** The writes, in order, as hex. */
  readonly send: readonly string[];
  /** "every-byte": play the vector once per split point of its last write, as two writes. */
  readonly split?: 'every-byte';
  /** Half-close after the last write (the default), or leave the closing to the server. */
  readonly end?: boolean;
  /** The frames the server sends, in order; then it closes. */
  readonly expect: readonly unknown[];
}

/** A vector as played: a split vector becomes one case per split point. */
export interface Case {
  readonly name: string;
  readonly writes: readonly Buffer[];
  readonly end: boolean;
  readonly expect: readonly unknown[];
}

export interface RunSettings {
  readonly host: string;
  readonly port: number;
  /** How long one case may take, connect to close. */
  readonly timeoutMs: number;
  /** The pause between two writes of a case, so that the server likely reads them apart. */
  readonly pauseMs: number;
}

/** What one case gave: null when it passed, else why it failed. */
export interface Outcome {
  readonly name: string;
  readonly failure: string | null;
}

/** The largest frame body a server sends (§2). */
const MAX_REPLY_BODY = 65_536;

function badFile(message: string): MeteoError {
  return new MeteoError('ERR_BAD_VECTOR_FILE', message);
}

/** The vectors of a vectors file's text; throws ERR_BAD_VECTOR_FILE when it is not one. */
export function parseVectors(text: string): Vector[] {
  let file: { vectors?: unknown };
  try {
    file = JSON.parse(text) as { vectors?: unknown };
  } catch (err) {
    throw badFile(`not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(file.vectors)) throw badFile('no "vectors" array');
  const names = new Set<string>();
  return file.vectors.map((vector: Partial<Vector>, i) => {
    const at = `vector ${i} (${JSON.stringify(vector?.name)})`;
    if (typeof vector?.name !== 'string' || names.has(vector.name)) {
      throw badFile(`${at}: "name" must be a string no other vector has`);
    }
    names.add(vector.name);
    const hex = /^([0-9a-f]{2})+$/;
    if (
      !Array.isArray(vector.send) ||
      !vector.send.every((w) => typeof w === 'string' && hex.test(w))
    ) {
      throw badFile(`${at}: "send" must be an array of lowercase hex strings of whole bytes`);
    }
    if (!Array.isArray(vector.expect)) throw badFile(`${at}: "expect" must be an array`);
    if (vector.split !== undefined && (vector.split !== 'every-byte' || vector.send.length === 0)) {
      throw badFile(`${at}: "split" must be "every-byte", on a vector that sends something`);
    }
    if (vector.end !== undefined && typeof vector.end !== 'boolean') {
      throw badFile(`${at}: "end" must be true or false`);
    }
    return vector as Vector;
  });
}

/** The cases to play: a vector, or for a split vector one case per split point of its last write. */
export function casesOf(vectors: readonly Vector[]): Case[] {
  return vectors.flatMap((vector) => {
    const writes = vector.send.map((hex) => Buffer.from(hex, 'hex'));
    const base = { end: vector.end ?? true, expect: vector.expect };
    if (vector.split !== 'every-byte') return [{ ...base, name: vector.name, writes }];
    const last = writes.at(-1) as Buffer;
    return Array.from({ length: last.length - 1 }, (_, i) => ({
      ...base,
      name: `${vector.name} @${i + 1}`,
      writes: [...writes.slice(0, -1), last.subarray(0, i + 1), last.subarray(i + 1)],
    }));
  });
}

// ---------------------------------------------------------------- reading MessagePack

/** A float as sent, with its width: the kit checks that reading values are float 64. */
class Float {
  constructor(
    readonly bits: 32 | 64,
    readonly value: number,
  ) {}
}

/** An extension value: its type and data. */
class Ext {
  constructor(
    readonly type: number,
    readonly data: Buffer,
  ) {}
}

type Value = null | boolean | number | string | Buffer | Float | Ext | Value[] | Map<Value, Value>;

/** Reads one MessagePack value of `body` from `at`; throws on anything the specification does not allow. */
function readValue(body: Buffer, cursor: { at: number }): Value {
  const take = (n: number): Buffer => {
    if (cursor.at + n > body.length) throw new Error('a value runs past the end of the frame');
    cursor.at += n;
    return body.subarray(cursor.at - n, cursor.at);
  };
  const uint = (n: number): number => take(n).readUIntBE(0, n);
  const byte = take(1)[0] as number;
  const many = (n: number, read: () => void): void => {
    for (let i = 0; i < n; i++) read();
  };
  const array = (n: number): Value[] => {
    const out: Value[] = [];
    many(n, () => out.push(readValue(body, cursor)));
    return out;
  };
  const map = (n: number): Map<Value, Value> => {
    const out = new Map<Value, Value>();
    many(n, () => out.set(readValue(body, cursor), readValue(body, cursor)));
    return out;
  };
  const ext = (n: number): Ext => {
    const type = take(1).readInt8(0);
    return new Ext(type, take(n));
  };
  if (byte <= 0x7f) return byte; // positive fixint
  if (byte <= 0x8f) return map(byte & 0x0f);
  if (byte <= 0x9f) return array(byte & 0x0f);
  if (byte <= 0xbf) return take(byte & 0x1f).toString('utf8'); // fixstr
  if (byte >= 0xe0) return byte - 0x100; // negative fixint
  if (byte === 0xc0) return null;
  if (byte === 0xc2 || byte === 0xc3) return byte === 0xc3;
  if (byte >= 0xc4 && byte <= 0xc6) return Buffer.from(take(uint(1 << (byte - 0xc4)))); // bin
  if (byte >= 0xc7 && byte <= 0xc9) return ext(uint(1 << (byte - 0xc7))); // ext 8, 16, 32
  if (byte === 0xca) return new Float(32, take(4).readFloatBE(0));
  if (byte === 0xcb) return new Float(64, take(8).readDoubleBE(0));
  if (byte >= 0xcc && byte <= 0xd3) {
    // uint 8–64, then int 8–64: big-endian, the int ones two's complement.
    const width = 1 << ((byte - 0xcc) & 3);
    const bits = BigInt(`0x${take(width).toString('hex')}`);
    return Number(byte >= 0xd0 ? BigInt.asIntN(8 * width, bits) : bits);
  }
  if (byte >= 0xd4 && byte <= 0xd8) return ext(1 << (byte - 0xd4)); // fixext 1–16
  if (byte >= 0xd9 && byte <= 0xdb) return take(uint(1 << (byte - 0xd9))).toString('utf8');
  if (byte === 0xdc || byte === 0xdd) return array(uint(byte === 0xdc ? 2 : 4));
  if (byte === 0xde || byte === 0xdf) return map(uint(byte === 0xde ? 2 : 4));
  throw new Error('the byte 0xc1, which MessagePack never uses');
}

/** The name of a value's MessagePack type, as `{ "format": ... }` in a vector names it. */
function formatOf(value: Value): string {
  if (value === null) return 'nil';
  if (value instanceof Float) return `float ${value.bits}`;
  if (value instanceof Ext) {
    const widths: Record<number, string> = { 4: '32', 8: '64', 12: '96' };
    return value.type === -1 && widths[value.data.length]
      ? `timestamp ${widths[value.data.length]}`
      : 'ext';
  }
  if (Buffer.isBuffer(value)) return 'bin';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Map) return 'map';
  return { boolean: 'bool', number: 'int', string: 'str' }[typeof value as 'boolean'];
}

/** Why `actual` does not match `expected` (docs/protocol-vectors.json's `schema`), or null when it does. */
function mismatch(expected: unknown, actual: Value, path: string): string | null {
  const got = (): string => `${path}: expected ${JSON.stringify(expected)}, got ${show(actual)}`;
  if (expected === null || typeof expected !== 'object') return expected === actual ? null : got();
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length < expected.length) return got();
    for (const [i, element] of expected.entries()) {
      const why = mismatch(element, actual[i] as Value, `${path}[${i}]`);
      if (why) return why;
    }
    return null;
  }
  const fields = Object.entries(expected);
  if (fields.length === 1 && fields[0]?.[0] === 'format') {
    return formatOf(actual) === fields[0][1]
      ? null
      : `${path}: expected a ${fields[0][1]}, got ${show(actual)}`;
  }
  if (!(actual instanceof Map)) return got();
  for (const [key, value] of fields) {
    if (!actual.has(key)) return `${path}.${key}: missing`;
    const why = mismatch(value, actual.get(key) as Value, `${path}.${key}`);
    if (why) return why;
  }
  return null;
}

/** A value for a failure line: JSON-like, with each number's format. */
function show(value: Value): string {
  if (value instanceof Map) {
    return `{${[...value].map(([k, v]) => `${show(k)}: ${show(v)}`).join(', ')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  if (value instanceof Float) return `${value.value} (float ${value.bits})`;
  if (value instanceof Ext) return `(${formatOf(value)} ${value.data.toString('hex')})`;
  if (Buffer.isBuffer(value)) return `(bin ${value.toString('hex')})`;
  return JSON.stringify(value);
}

// ---------------------------------------------------------------- playing a case

/**
 * Plays one case on its own connection: connects, makes its writes (pausing
 * between them), half-closes unless told not to, and reads frames until the
 * server closes. Resolves with why it failed, or null.
 */
export function playCase(test: Case, settings: RunSettings): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: settings.host, port: settings.port });
    socket.setNoDelay(true);
    const frames: Value[] = [];
    let buffered = Buffer.alloc(0);
    let settled = false;
    const finish = (failure: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(failure);
    };
    const timer = setTimeout(
      () =>
        finish(
          `timed out after ${settings.timeoutMs} ms, with ${frames.length} of ${test.expect.length} replies`,
        ),
      settings.timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4) {
        const length = buffered.readUInt32BE(0);
        if (length > MAX_REPLY_BODY)
          return finish(`reply ${frames.length + 1} declares ${length} bytes`);
        if (buffered.length < 4 + length) break;
        const body = buffered.subarray(4, 4 + length);
        buffered = buffered.subarray(4 + length);
        try {
          const cursor = { at: 0 };
          frames.push(readValue(body, cursor));
          if (cursor.at !== body.length) throw new Error('bytes follow the value');
        } catch (err) {
          return finish(
            `reply ${frames.length + 1} is not one MessagePack value: ${(err as Error).message}`,
          );
        }
      }
    });
    let connected = false;
    let problem = '';
    socket.on('error', (err: NodeJS.ErrnoException) => {
      problem = err.code ?? err.message;
    });
    // The end of the stream, or a reset: either way the server has closed.
    const closed = (): void =>
      finish(
        connected
          ? verdict(test, frames, buffered.length)
          : `cannot connect to ${settings.host}:${settings.port} (${problem})`,
      );
    socket.once('end', closed);
    socket.once('close', closed);
    socket.once('connect', async () => {
      connected = true;
      for (const [i, write] of test.writes.entries()) {
        if (i > 0) await new Promise((wait) => setTimeout(wait, settings.pauseMs));
        if (settled || socket.destroyed) return;
        socket.write(write);
      }
      if (test.end) socket.end();
    });
  });
}

/** Whether the frames received before the close are the ones expected. */
function verdict(test: Case, frames: readonly Value[], leftOver: number): string | null {
  for (const [i, expected] of test.expect.entries()) {
    if (i >= frames.length) {
      return `the server closed after ${frames.length} of ${test.expect.length} replies; the next expected was ${JSON.stringify(expected)}`;
    }
    const why = mismatch(expected, frames[i] as Value, `reply ${i + 1}`);
    if (why) return why;
  }
  if (frames.length > test.expect.length) {
    return `reply ${test.expect.length + 1} was not expected: ${show(frames[test.expect.length] as Value)}`;
  }
  return leftOver > 0 ? `the server closed inside a frame (${leftOver} bytes of it)` : null;
}

/** Plays every case, one after another, each on its own connection; `report` hears of each as it ends. */
export async function runCases(
  cases: readonly Case[],
  settings: RunSettings,
  report: (outcome: Outcome) => void,
): Promise<{ passed: number; failed: number }> {
  let passed = 0;
  for (const test of cases) {
    const failure = await playCase(test, settings);
    if (failure === null) passed++;
    report({ name: test.name, failure });
  }
  return { passed, failed: cases.length - passed };
}
