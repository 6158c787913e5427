import { performance } from 'node:perf_hooks';
import type { ConnectionLimits } from '../machines/connectionMachine.js';

/** What a watchdog tells the connection machine; the machine decides what each means in its state. */
export type WatchdogEvent =
  | { readonly type: 'HANDSHAKE_TIMEOUT' }
  | { readonly type: 'IDLE_TIMEOUT' }
  | { readonly type: 'WRITE_TIMEOUT' }
  /** The write that waited has been taken whole. */
  | { readonly type: 'DRAINED' };

/** Where a watchdog's events go: the connection's actor. */
export interface WatchdogTarget {
  send(event: WatchdogEvent): void;
}

/**
 * The time and the timers a watchdog runs on. A spec hands in XState's
 * `SimulatedClock` (which is one), so it can move time itself instead of
 * sleeping and hoping the machine keeps up.
 */
export interface WatchdogClock {
  /** Milliseconds, on the same scale as the times given to `received()`. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

/**
 * The real clock: performance.now(), and timers that do not keep the process
 * alive (a connection's timers never should). One shared object, so the
 * clock costs a connection nothing.
 */
const REAL_CLOCK: WatchdogClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};

/**
 * The handshake, idle and write timers of one connection. They are lazy, as
 * the timers of a busy server must be: a request only stamps a time, and a
 * timer, when it fires, looks at the stamps and either raises its event or
 * sleeps until the next deadline. So no timer is set or cleared per request
 * (an XState delay per request would be both, docs/PERFORMANCE.md).
 */
export class Watchdog {
  readonly #limits: ConnectionLimits;
  readonly #target: WatchdogTarget;
  readonly #clock: WatchdogClock;
  #lastReceivedAt: number;
  /** When HANDSHAKE_TIMEOUT is due, or null once it has been raised. */
  #handshakeDeadline: number | null;
  /** One timer for the handshake deadline and the idle checks. */
  #timer: unknown;
  /** The write the machine waits for, by number (0: none), and since when. */
  #writes = 0;
  #waitingWrite = 0;
  #writeWaitingSince: number | null = null;
  #writeTimer: unknown;
  #stopped = false;

  constructor(limits: ConnectionLimits, target: WatchdogTarget, clock: WatchdogClock = REAL_CLOCK) {
    this.#limits = limits;
    this.#target = target;
    this.#clock = clock;
    this.#lastReceivedAt = clock.now();
    this.#handshakeDeadline = this.#lastReceivedAt + limits.handshakeTimeoutMs;
    this.#arm(Math.min(limits.handshakeTimeoutMs, limits.idleTimeoutMs));
  }

  /** A request arrived at `at` (performance.now(), or the clock's `now()`). */
  received(at: number): void {
    this.#lastReceivedAt = at;
  }

  /** Numbers a write, so that its callback can tell whether it is the one waited for. */
  nextWrite(): number {
    return ++this.#writes;
  }

  /** Write `write` was not taken at once: DRAINED when it is, WRITE_TIMEOUT if that takes too long. */
  writeWaiting(write: number): void {
    this.#waitingWrite = write;
    this.#writeWaitingSince = this.#clock.now();
    this.#writeTimer ??= this.#clock.setTimeout(
      () => this.#checkWrite(),
      this.#limits.writeTimeoutMs,
    );
  }

  /** The socket has taken write `write` whole. */
  written(write: number): void {
    if (write !== this.#waitingWrite) return;
    this.#waitingWrite = 0;
    this.#writeWaitingSince = null;
    if (!this.#stopped) this.#target.send({ type: 'DRAINED' });
  }

  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#clock.clearTimeout(this.#writeTimer);
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(this.#check, ms);
  }

  readonly #check = (): void => {
    if (this.#stopped) return;
    const now = this.#clock.now();
    if (this.#handshakeDeadline !== null && now >= this.#handshakeDeadline) {
      this.#handshakeDeadline = null;
      // The machine knows whether the hello came; the timer only says the time is up.
      this.#target.send({ type: 'HANDSHAKE_TIMEOUT' });
    }
    if (now - this.#lastReceivedAt >= this.#limits.idleTimeoutMs) {
      this.#lastReceivedAt = now;
      this.#target.send({ type: 'IDLE_TIMEOUT' });
    }
    const idleDue = this.#lastReceivedAt + this.#limits.idleTimeoutMs;
    const due =
      this.#handshakeDeadline === null ? idleDue : Math.min(idleDue, this.#handshakeDeadline);
    this.#arm(Math.max(1, due - now));
  };

  /** A method, not an arrow kept in a field: most connections never wait on a write, and need no closure for it. */
  #checkWrite(): void {
    this.#writeTimer = undefined;
    if (this.#stopped || this.#writeWaitingSince === null) return;
    const waitedMs = this.#clock.now() - this.#writeWaitingSince;
    if (waitedMs >= this.#limits.writeTimeoutMs) {
      this.#target.send({ type: 'WRITE_TIMEOUT' });
    } else {
      this.#writeTimer = this.#clock.setTimeout(
        () => this.#checkWrite(),
        this.#limits.writeTimeoutMs - waitedMs,
      );
    }
  }
}
