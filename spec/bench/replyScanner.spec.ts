import { expect } from 'chai';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  NO_ID,
  REPLY_ERROR,
  REPLY_MALFORMED,
  REPLY_OTHER,
  REPLY_READING,
  REPLY_WELCOME,
  ReplyScanner,
} from '../../bench/replyScanner.js';
import { FRAME_HEADER_BYTES } from '../../lib/framing.js';
import { encodeMessage, errorReply, PROTOCOL_VERSION, UNITS } from '../../lib/protocol.js';
import { DEFAULT_STATION, stationInfo } from '../../lib/sensors/station.js';

/** The body of a message as the server frames it. */
function body(message: Parameters<typeof encodeMessage>[0]): Buffer {
  return encodeMessage(message).subarray(FRAME_HEADER_BYTES);
}

function reading(id: number): Buffer {
  return body({
    type: 'reading',
    id,
    station: 'seattle',
    reading: 'pressure',
    value: 1013.2,
    unit: 'hPa',
    observedAt: new Date(Date.UTC(2026, 10, 26, 21, 30)),
  });
}

describe('bench/replyScanner', () => {
  const scanner = new ReplyScanner();

  it('reads the type and the id of a reading, for ids of every width', () => {
    for (const id of [0, 1, 127, 128, 255, 256, 65_535, 65_536, 0xffff_ffff]) {
      expect(scanner.scan(reading(id))).to.equal(REPLY_READING);
      expect(scanner.id).to.equal(id);
    }
  });

  it('reads error replies, with a nil id as NO_ID', () => {
    expect(
      scanner.scan(body(errorReply(9, 'ERR_SENSOR_FAILED', 'the sensor read failed'))),
    ).to.equal(REPLY_ERROR);
    expect(scanner.id).to.equal(9);
    expect(scanner.scan(body(errorReply(null, 'ERR_SHUTTING_DOWN', 'bye')))).to.equal(REPLY_ERROR);
    expect(scanner.id).to.equal(NO_ID);
  });

  it('reads a welcome, skipping its nested maps', () => {
    const welcome = body({
      type: 'welcome',
      version: PROTOCOL_VERSION,
      server: 'meteo-actors/0.1.0',
      station: stationInfo(DEFAULT_STATION),
      stations: [stationInfo(DEFAULT_STATION)],
      units: UNITS,
    });
    expect(scanner.scan(welcome)).to.equal(REPLY_WELCOME);
  });

  it('finds type and id in any order, among keys it does not know', () => {
    const packr = new Packr({ useRecords: false });
    const shuffled = packr.pack({ extra: [1, 'two', { three: 3.5 }], id: 70_000, type: 'reading' });
    expect(scanner.scan(shuffled)).to.equal(REPLY_READING);
    expect(scanner.id).to.equal(70_000);
    expect(scanner.scan(packr.pack({ type: 'pong', id: 1 }))).to.equal(REPLY_OTHER);
  });

  it('calls anything that is not one whole map malformed, and never throws', () => {
    const good = reading(7);
    for (let cut = 0; cut < good.length; cut++) {
      expect(scanner.scan(good.subarray(0, cut))).to.equal(REPLY_MALFORMED);
    }
    expect(scanner.scan(Buffer.concat([good, Buffer.from([0xc0])]))).to.equal(REPLY_MALFORMED);
    expect(scanner.scan(Buffer.from([0x93, 1, 2, 3]))).to.equal(REPLY_MALFORMED);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const kind = scanner.scan(bytes);
        return kind >= REPLY_MALFORMED && kind <= REPLY_OTHER;
      }),
    );
  });
});
