import { expect } from 'chai';
import fc from 'fast-check';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  frame,
  MAX_REQUEST_FRAME_BYTES,
} from '../../lib/framing.js';

function bodies(...texts: string[]): Buffer[] {
  return texts.map((text) => Buffer.from(text));
}

function stream(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts.map(frame));
}

/** Feeds `data` to a fresh decoder in the given chunks and returns every frame body. */
function decodeInChunks(
  data: Buffer,
  cuts: readonly number[],
  max = MAX_REQUEST_FRAME_BYTES,
): Buffer[] {
  const decoder = new FrameDecoder(max);
  const frames: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, data.length]) {
    const batch = decoder.push(data.subarray(start, cut));
    expect(batch.error).to.equal(undefined);
    frames.push(...batch.frames.map((body) => Buffer.from(body)));
    start = cut;
  }
  return frames;
}

describe('lib/framing', () => {
  const messages = bodies('alpha', '', 'γάμμα', 'x'.repeat(300));
  const data = stream(...messages);

  it('prefixes a body with its length as a 4-byte big-endian integer', () => {
    expect(frame(Buffer.from('abc')).toString('hex')).to.equal('00000003616263');
  });

  it('decodes a stream fed one byte at a time', () => {
    const cuts = Array.from({ length: data.length - 1 }, (_, i) => i + 1);
    expect(decodeInChunks(data, cuts)).to.deep.equal(messages);
  });

  it('decodes several frames that arrive in one chunk', () => {
    const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
    const batch = decoder.push(data);
    expect(batch.frames.map((body) => Buffer.from(body))).to.deep.equal(messages);
    expect(decoder.bufferedBytes).to.equal(0);
  });

  it('yields the same frames whatever offset the stream is split at', () => {
    for (let cut = 0; cut <= data.length; cut++) {
      expect(decodeInChunks(data, [cut]), `split at ${cut}`).to.deep.equal(messages);
    }
  });

  it('yields the same frames for any chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (payloads, rawCuts) => {
          const parts = payloads.map((payload) => Buffer.from(payload));
          const all = stream(...parts);
          const cuts = [...new Set(rawCuts.map((cut) => cut % (all.length + 1)))].sort(
            (a, b) => a - b,
          );
          expect(decodeInChunks(all, cuts)).to.deep.equal(parts);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps the bytes of an unfinished frame until the rest arrives', () => {
    const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
    const whole = frame(Buffer.from('hello'));
    expect(decoder.push(whole.subarray(0, 6)).frames).to.have.length(0);
    expect(decoder.bufferedBytes).to.equal(6);
    expect(decoder.push(whole.subarray(6)).frames.map(String)).to.deep.equal(['hello']);
    expect(decoder.bufferedBytes).to.equal(0);
  });

  it('refuses an oversized length prefix before buffering any of its body', () => {
    const decoder = new FrameDecoder(16);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(17);
    const batch = decoder.push(Buffer.concat([header, Buffer.alloc(10)]));
    expect(batch.frames).to.have.length(0);
    expect(batch.error?.code).to.equal('ERR_FRAME_TOO_LARGE');
    expect(decoder.bufferedBytes).to.equal(0);
  });

  it('refuses a huge length prefix that arrives a byte at a time', () => {
    const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
    const header = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const errors = [...header].map((byte) => decoder.push(Buffer.from([byte])).error);
    expect(errors.slice(0, 3)).to.deep.equal([undefined, undefined, undefined]);
    expect(errors[3]?.code).to.equal('ERR_FRAME_TOO_LARGE');
  });

  it('still yields the frames that came before an oversized prefix in the same chunk', () => {
    const decoder = new FrameDecoder(8);
    const batch = decoder.push(
      Buffer.concat([frame(Buffer.from('ok')), Buffer.from([0, 0, 1, 0]), Buffer.alloc(300)]),
    );
    expect(batch.frames.map(String)).to.deep.equal(['ok']);
    expect(batch.error?.code).to.equal('ERR_FRAME_TOO_LARGE');
  });

  it('yields nothing more once the stream has broken', () => {
    const decoder = new FrameDecoder(8);
    decoder.push(Buffer.from([0, 0, 1, 0]));
    const after = decoder.push(frame(Buffer.from('late')));
    expect(after.frames).to.have.length(0);
    expect(after.error?.code).to.equal('ERR_FRAME_TOO_LARGE');
  });

  it('accepts a body of exactly the maximum size', () => {
    const body = Buffer.alloc(MAX_REQUEST_FRAME_BYTES, 7);
    expect(decodeInChunks(frame(body), [3, 500])).to.deep.equal([body]);
  });
});
