/**
 * The lazy idle and write timers of a connection, on real timers kept short.
 */
import { expect } from 'chai';
import { Watchdog, type WatchdogEvent } from '../../actors/watchdog.js';
import { sleep } from '../helpers/wait.js';

const LIMITS = {
  handshakeTimeoutMs: 20,
  idleTimeoutMs: 60,
  maxQueuedRequests: 8,
  maxOutputBytes: 1_000,
  writeTimeoutMs: 60,
};

describe('actors/watchdog', () => {
  let raised: WatchdogEvent['type'][];
  let watchdog: Watchdog;

  let handshakes: number;

  beforeEach(() => {
    raised = [];
    handshakes = 0;
    watchdog = new Watchdog(LIMITS, (event) => {
      // Every connection gets exactly one HANDSHAKE_TIMEOUT; the other specs look past it.
      if (event.type === 'HANDSHAKE_TIMEOUT') handshakes++;
      else raised.push(event.type);
    });
  });

  it('raises HANDSHAKE_TIMEOUT once, at the handshake timeout, whatever came in', async () => {
    watchdog.received(performance.now());
    await sleep(10);
    expect(handshakes).to.equal(0);
    await sleep(30);
    expect(handshakes).to.equal(1);
    await sleep(60);
    expect(handshakes).to.equal(1);
  });

  afterEach(() => watchdog.stop());

  it('raises IDLE_TIMEOUT after the idle timeout without a request', async () => {
    await sleep(90);
    expect(raised).to.deep.equal(['IDLE_TIMEOUT']);
  });

  it('counts the idle time from the last request, without a timer per request', async () => {
    for (let i = 0; i < 4; i++) {
      await sleep(25);
      watchdog.received(performance.now());
    }
    expect(raised).to.deep.equal([]);
    await sleep(90);
    expect(raised).to.deep.equal(['IDLE_TIMEOUT']);
  });

  it('calls sent once the waiting write is taken, and raises nothing', async () => {
    let sent = 0;
    watchdog.received(performance.now());
    const write = watchdog.nextWrite();
    watchdog.writeWaiting(write, () => sent++);
    watchdog.written(write);
    watchdog.written(write);
    expect(sent).to.equal(1);
    watchdog.received(performance.now());
    await sleep(40);
    watchdog.received(performance.now());
    await sleep(40);
    expect(raised).to.deep.equal([]);
  });

  it('ignores the callback of a write that went out at once', () => {
    let sent = 0;
    const first = watchdog.nextWrite();
    const second = watchdog.nextWrite();
    watchdog.writeWaiting(second, () => sent++);
    watchdog.written(first);
    expect(sent).to.equal(0);
    watchdog.written(second);
    expect(sent).to.equal(1);
  });

  it('raises WRITE_TIMEOUT when a write waits for the write timeout', async () => {
    const write = watchdog.nextWrite();
    watchdog.writeWaiting(write, () => {});
    await sleep(40);
    watchdog.received(performance.now());
    await sleep(40);
    expect(raised).to.include('WRITE_TIMEOUT');
  });

  it('raises nothing once stopped', async () => {
    watchdog.stop();
    await sleep(90);
    expect(raised).to.deep.equal([]);
  });
});
