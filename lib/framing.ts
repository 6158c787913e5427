/**
 * Length-prefixed framing (docs/PROTOCOL.md §2): a 4-byte big-endian unsigned
 * body length, then the body. Pure: no sockets, no timers.
 */
import { MeteoError } from './errors.js';

export const FRAME_HEADER_BYTES = 4;

/**
 * Largest body a client may send. Requests are under 100 bytes; a small cap
 * bounds both the memory a connection can pin and the nesting depth a
 * hostile MessagePack body can reach (docs/PROTOCOL.md §2).
 */
export const MAX_REQUEST_FRAME_BYTES = 1024;

/** Largest body the server sends; the client checks it the same way. */
export const MAX_REPLY_FRAME_BYTES = 64 * 1024;

/** What one `push` produced: the whole frames, then the error that stopped decoding, if any. */
export interface FrameBatch {
  readonly frames: Buffer[];
  readonly error: MeteoError | undefined;
}

/**
 * Turns a byte stream into frame bodies. `push` takes whatever a read
 * returned (one byte, or many frames at once) and yields every frame it
 * completes; the bytes of an unfinished frame are kept for the next push.
 *
 * The declared length is checked against the maximum before any of the body
 * is buffered, so an oversized prefix costs nothing but its four bytes. After
 * that error the stream can no longer be trusted and the decoder yields
 * nothing more.
 */
export class FrameDecoder {
  readonly #maxBodyBytes: number;
  /** Made the first time a length prefix arrives split: most connections never need it. */
  #header: Buffer | undefined;
  #headerFill = 0;
  #body: Buffer | undefined;
  #bodyFill = 0;
  #error: MeteoError | undefined;

  constructor(maxBodyBytes: number) {
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.#body ? FRAME_HEADER_BYTES + this.#bodyFill : this.#headerFill;
  }

  /** The error that stopped decoding, once there is one. */
  get error(): MeteoError | undefined {
    return this.#error;
  }

  push(chunk: Uint8Array): FrameBatch {
    const frames: Buffer[] = [];
    if (this.#error) return { frames, error: this.#error };
    const data = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let offset = 0;
    while (offset < data.length) {
      if (this.#body) {
        const copied = data.copy(this.#body, this.#bodyFill, offset);
        this.#bodyFill += copied;
        offset += copied;
        if (this.#bodyFill === this.#body.length) {
          frames.push(this.#body);
          this.#body = undefined;
          this.#bodyFill = 0;
        }
        continue;
      }
      let size: number;
      if (this.#headerFill === 0 && data.length - offset >= FRAME_HEADER_BYTES) {
        // Fast path: the whole header is in this chunk.
        size = data.readUInt32BE(offset);
        offset += FRAME_HEADER_BYTES;
      } else {
        this.#header ??= Buffer.alloc(FRAME_HEADER_BYTES);
        const copied = data.copy(
          this.#header,
          this.#headerFill,
          offset,
          offset + FRAME_HEADER_BYTES - this.#headerFill,
        );
        this.#headerFill += copied;
        offset += copied;
        if (this.#headerFill < FRAME_HEADER_BYTES) break;
        size = this.#header.readUInt32BE(0);
        this.#headerFill = 0;
      }
      if (size > this.#maxBodyBytes) {
        this.#error = new MeteoError(
          'ERR_FRAME_TOO_LARGE',
          `frame declares ${size} bytes; the maximum is ${this.#maxBodyBytes}`,
        );
        return { frames, error: this.#error };
      }
      if (data.length - offset >= size) {
        // Fast path: the whole body is in this chunk; share its memory.
        frames.push(data.subarray(offset, offset + size));
        offset += size;
      } else {
        this.#body = Buffer.allocUnsafe(size);
        this.#bodyFill = 0;
      }
    }
    return { frames, error: undefined };
  }
}

/** Writes the 4-byte length prefix into the first bytes of `frame`, whose body follows them. */
export function writeFrameHeader(frame: Buffer): Buffer {
  frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 0);
  return frame;
}

/** A whole frame for `body`: the length prefix, then the body. */
export function frame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out.set(body, FRAME_HEADER_BYTES);
  return writeFrameHeader(out);
}
