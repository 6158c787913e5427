/**
 * What the server counts, as it happens: connections in and out, requests
 * by reading and outcome, errors by code. The actors call a `Telemetry`;
 * `ServerStats` keeps the counts in memory (specs and `RunningServer.stats()`
 * read them), and the Prometheus exporter is another implementation.
 */
import type { Reading } from './protocol.js';

/** How a request ended: `ok`, or the code of its error reply. */
export type Outcome = 'ok' | string;

export interface Telemetry {
  connectionAccepted(): void;
  /** A connection turned away at the door, with the code it was told. */
  connectionRejected(code: string): void;
  /** A connection over, with why (an error code, or `client-ended` / `client-closed`). */
  connectionClosed(reason: string): void;
  /**
   * One read answered: its station and reading, how it ended, and how long it
   * took, in seconds; and the client that asked, when it said who it is (a
   * name from the auth file, never text from the wire: issue #14).
   */
  requestServed(
    station: string,
    reading: Reading,
    outcome: Outcome,
    seconds: number,
    client?: string,
  ): void;
  /** One error reply sent, whatever it answered. */
  errorSent(code: string): void;
  /** A hello's credential refused, with why (`wrong-secret`, `unknown-client`...: issue #14). */
  authFailed?(reason: string): void;
}

export interface StatsSnapshot {
  readonly connections: {
    /** Open now: the supervisor's count (actors/supervisor.ts), the only one the server keeps. */
    readonly open: number;
    readonly accepted: number;
    readonly rejected: Readonly<Record<string, number>>;
    readonly closed: Readonly<Record<string, number>>;
  };
  /** Requests answered, by reading, then by outcome. */
  readonly requests: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Error replies sent, by code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Credentials refused, by reason; requests answered, by the client that asked (issue #14). */
  readonly auth: {
    readonly failures: Readonly<Record<string, number>>;
    readonly requests: Readonly<Record<string, number>>;
  };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Counts in memory. */
export class ServerStats implements Telemetry {
  #accepted = 0;
  readonly #rejected: Record<string, number> = {};
  readonly #closed: Record<string, number> = {};
  readonly #requests: Record<string, Record<string, number>> = {};
  readonly #errors: Record<string, number> = {};
  readonly #authFailures: Record<string, number> = {};
  readonly #clientRequests: Record<string, number> = {};

  connectionAccepted(): void {
    this.#accepted++;
  }

  connectionRejected(code: string): void {
    bump(this.#rejected, code);
  }

  connectionClosed(reason: string): void {
    bump(this.#closed, reason);
  }

  requestServed(
    _station: string,
    reading: Reading,
    outcome: Outcome,
    _seconds?: number,
    client?: string,
  ): void {
    this.#requests[reading] ??= {};
    bump(this.#requests[reading], outcome);
    if (client !== undefined) bump(this.#clientRequests, client);
  }

  authFailed(reason: string): void {
    bump(this.#authFailures, reason);
  }

  errorSent(code: string): void {
    bump(this.#errors, code);
  }

  /** The counts so far, with `open` the count of open connections as their owner keeps it. */
  snapshot(open: number): StatsSnapshot {
    return structuredClone({
      connections: {
        open,
        accepted: this.#accepted,
        rejected: this.#rejected,
        closed: this.#closed,
      },
      requests: this.#requests,
      errors: this.#errors,
      auth: { failures: this.#authFailures, requests: this.#clientRequests },
    });
  }
}

/** Several telemetries as one: each event goes to all of them. */
export function teeTelemetry(...sinks: readonly Telemetry[]): Telemetry {
  return {
    connectionAccepted: () => {
      for (const sink of sinks) sink.connectionAccepted();
    },
    connectionRejected: (code) => {
      for (const sink of sinks) sink.connectionRejected(code);
    },
    connectionClosed: (reason) => {
      for (const sink of sinks) sink.connectionClosed(reason);
    },
    requestServed: (station, reading, outcome, seconds, client) => {
      for (const sink of sinks) sink.requestServed(station, reading, outcome, seconds, client);
    },
    errorSent: (code) => {
      for (const sink of sinks) sink.errorSent(code);
    },
    authFailed: (reason) => {
      for (const sink of sinks) sink.authFailed?.(reason);
    },
  };
}
