/**
 * The lazy handshake, idle and write timers of a connection, on XState's
 * SimulatedClock: the spec moves time itself, a millisecond at a time, so
 * every timer fires exactly when it is due and no spec depends on how late
 * a busy machine runs a real timer.
 */
import { expect } from 'chai';
import { SimulatedClock } from 'xstate';
import { Watchdog, type WatchdogEvent } from '../../actors/watchdog.js';

const LIMITS = {
  handshakeTimeoutMs: 20,
  idleTimeoutMs: 60,
  maxQueuedRequests: 8,
  maxOutputBytes: 1_000,
  writeTimeoutMs: 60,
};

/** A SimulatedClock that counts the timers set and the ones still pending. */
class CountingClock extends SimulatedClock {
  timersSet = 0;
  readonly pending = new Set<number>();

  override setTimeout(fn: () => void, timeout: number): number {
    this.timersSet++;
    const id = super.setTimeout(() => {
      this.pending.delete(id);
      fn();
    }, timeout);
    this.pending.add(id);
    return id;
  }

  override clearTimeout(id: number): void {
    this.pending.delete(id);
    super.clearTimeout(id);
  }

  /** Moves time on by `ms`, a millisecond at a time, as on-time timers would see it. */
  advance(ms: number): void {
    for (let i = 0; i < ms; i++) this.increment(1);
  }
}

describe('actors/watchdog', () => {
  let clock: CountingClock;
  let raised: WatchdogEvent['type'][];
  let handshakes: number;
  let watchdog: Watchdog;

  beforeEach(() => {
    clock = new CountingClock();
    raised = [];
    handshakes = 0;
    watchdog = new Watchdog(
      LIMITS,
      {
        send(event) {
          // Every connection gets exactly one HANDSHAKE_TIMEOUT; the other specs look past it.
          if (event.type === 'HANDSHAKE_TIMEOUT') handshakes++;
          else raised.push(event.type);
        },
      },
      clock,
    );
  });

  afterEach(() => watchdog.stop());

  it('raises HANDSHAKE_TIMEOUT once, at the handshake timeout, whatever came in', () => {
    clock.advance(10);
    watchdog.received(clock.now());
    clock.advance(9);
    expect(handshakes, 'at 19 ms').to.equal(0);
    clock.advance(1);
    expect(handshakes, 'at 20 ms').to.equal(1);
    for (let i = 0; i < 10; i++) {
      clock.advance(30);
      watchdog.received(clock.now());
    }
    expect(handshakes, 'at 320 ms').to.equal(1);
  });

  it('raises IDLE_TIMEOUT after the idle timeout without a request', () => {
    clock.advance(59);
    expect(raised, 'at 59 ms').to.deep.equal([]);
    clock.advance(1);
    expect(raised, 'at 60 ms').to.deep.equal(['IDLE_TIMEOUT']);
    clock.advance(59);
    expect(raised, 'at 119 ms').to.deep.equal(['IDLE_TIMEOUT']);
  });

  it('counts the idle time from the last request', () => {
    for (let i = 0; i < 4; i++) {
      clock.advance(25);
      watchdog.received(clock.now());
    }
    // The last request came at 100 ms.
    clock.advance(59);
    expect(raised, 'at 159 ms').to.deep.equal([]);
    clock.advance(1);
    expect(raised, 'at 160 ms').to.deep.equal(['IDLE_TIMEOUT']);
  });

  it('sets no timer for a request', () => {
    const before = clock.timersSet;
    for (let i = 0; i < 1_000; i++) watchdog.received(clock.now());
    expect(clock.timersSet).to.equal(before);
    expect(clock.pending.size, 'the one lazy timer').to.equal(1);
  });

  it('says DRAINED once the waiting write is taken, and raises no timeout', () => {
    watchdog.received(clock.now());
    const write = watchdog.nextWrite();
    watchdog.writeWaiting(write);
    watchdog.written(write);
    watchdog.written(write);
    expect(raised).to.deep.equal(['DRAINED']);
    clock.advance(40);
    watchdog.received(clock.now());
    clock.advance(40);
    expect(raised).to.deep.equal(['DRAINED']);
  });

  it('ignores the callback of a write that went out at once', () => {
    const first = watchdog.nextWrite();
    const second = watchdog.nextWrite();
    watchdog.writeWaiting(second);
    watchdog.written(first);
    expect(raised).to.deep.equal([]);
    watchdog.written(second);
    expect(raised).to.deep.equal(['DRAINED']);
  });

  it('raises WRITE_TIMEOUT when a write waits for the write timeout, whatever else comes in', () => {
    const write = watchdog.nextWrite();
    watchdog.writeWaiting(write);
    clock.advance(40);
    watchdog.received(clock.now());
    clock.advance(19);
    expect(raised, 'at 59 ms').to.deep.equal([]);
    clock.advance(1);
    expect(raised, 'at 60 ms').to.deep.equal(['WRITE_TIMEOUT']);
  });

  it('times a later write from when it began to wait, on the timer the first one set', () => {
    const writeTimeouts = (): number => raised.filter((type) => type === 'WRITE_TIMEOUT').length;
    const first = watchdog.nextWrite();
    watchdog.writeWaiting(first);
    clock.advance(30);
    watchdog.written(first);
    clock.advance(10);
    const second = watchdog.nextWrite();
    watchdog.writeWaiting(second);
    // The second write waits from 40 ms: it is late at 100 ms, not at 60 ms.
    clock.advance(59);
    expect(writeTimeouts(), 'at 99 ms').to.equal(0);
    clock.advance(1);
    expect(writeTimeouts(), 'at 100 ms').to.equal(1);
  });

  it('raises nothing once stopped, and leaves no timer behind', () => {
    const write = watchdog.nextWrite();
    watchdog.writeWaiting(write);
    watchdog.stop();
    expect(clock.pending.size).to.equal(0);
    clock.advance(200);
    expect(raised).to.deep.equal([]);
    expect(handshakes).to.equal(0);
  });
});
