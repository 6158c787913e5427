/**
 * The load generator counts what goes wrong instead of measuring it: it is
 * pointed at fake servers that answer with errors, with the wrong ids, not
 * at all, or hang up, and must report each (issue #4: a benchmark that
 * silently measures error replies is worthless).
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import type { ThroughputResult } from '../../bench/results.js';
import { FrameDecoder, MAX_REQUEST_FRAME_BYTES } from '../../lib/framing.js';
import {
  decodeClientMessage,
  encodeMessage,
  errorReply,
  PROTOCOL_VERSION,
  type ServerMessage,
  UNITS,
} from '../../lib/protocol.js';
import { DEFAULT_STATION, stationInfo } from '../../lib/sensors/station.js';

const LOADGEN = 'dist/bench/loadgen.js';

/** How a fake server answers the n-th read of a connection (from 0), or undefined for silence. */
type Answer = (id: number, n: number, socket: Socket) => ServerMessage | undefined;

function fakeServer(answer: Answer): Server {
  return createServer((socket) => {
    const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
    let reads = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      for (const body of decoder.push(chunk).frames) {
        const message = decodeClientMessage(body);
        let reply: ServerMessage | undefined;
        if (message.type === 'hello') {
          reply = {
            type: 'welcome',
            version: PROTOCOL_VERSION,
            server: 'fake',
            station: stationInfo(DEFAULT_STATION),
            stations: [stationInfo(DEFAULT_STATION)],
            units: UNITS,
          };
        } else if (message.type === 'read') {
          reply = answer(message.id, reads++, socket);
        }
        if (reply && !socket.destroyed) socket.write(encodeMessage(reply));
      }
    });
  });
}

function reading(id: number): ServerMessage {
  return {
    type: 'reading',
    id,
    station: 'seattle',
    reading: 'pressure',
    value: 1013.2,
    unit: 'hPa',
    observedAt: new Date(),
  };
}

async function loadAgainst(answer: Answer): Promise<ThroughputResult> {
  const server = fakeServer(answer);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          LOADGEN,
          ...['--port', String(port), '--connections', '2', '--depth', '4'],
          ...['--warmup-ms', '50', '--duration-ms', '250', '--drain-ms', '300'],
        ],
        { timeout: 20_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    return JSON.parse(stdout) as ThroughputResult;
  } finally {
    server.close();
  }
}

describe('bench/loadgen: errors are counted, not measured', function () {
  this.timeout(30_000);

  it('counts nothing wrong when every read gets its reading, in order', async () => {
    const result = await loadAgainst((id) => reading(id));
    expect(result.errorTotal).to.equal(0);
    expect(result.requests).to.be.greaterThan(0);
    expect(result.latencyUs.count).to.equal(result.requests);
  });

  it('counts error replies by code, and leaves them out of requests and latency', async () => {
    const result = await loadAgainst((id, n) =>
      n % 5 === 4 ? errorReply(id, 'ERR_SENSOR_FAILED', 'the sensor read failed') : reading(id),
    );
    expect(result.errors.errorReplies['ERR_SENSOR_FAILED']).to.be.greaterThan(0);
    expect(result.errorTotal).to.be.greaterThan(0);
    expect(result.latencyUs.count).to.equal(result.requests);
  });

  it('counts a reading with the wrong id', async () => {
    const result = await loadAgainst((id, n) => reading(n === 10 ? id + 1 : id));
    expect(result.errors.wrongId).to.equal(2);
  });

  it('counts requests never answered', async () => {
    const result = await loadAgainst((id, n) => (n < 20 ? reading(id) : undefined));
    expect(result.errors.unanswered).to.equal(2 * 4);
  });

  it('counts a connection the server hangs up, and the requests it had in flight', async () => {
    const result = await loadAgainst((id, n, socket) => {
      if (n === 30) {
        socket.destroy();
        return undefined;
      }
      return reading(id);
    });
    expect(result.errors.connectionsLost).to.equal(2);
    expect(result.errors.unanswered).to.be.greaterThan(0);
  });
});
