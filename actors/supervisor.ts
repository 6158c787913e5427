/**
 * The connection supervisor: the one owner of the open connections, as
 * Ranch's `ranch_conns_sup` is. It holds the one registry (and so the one
 * count) of open connections, enforces `--max-connections`, starts a
 * connection actor for each socket it admits, is told by each when it ends,
 * and runs the drain. Nothing else counts connections or closes them.
 *
 * A socket over the limit is refused with a coded error (docs/PROTOCOL.md
 * §7) and kept until its peer has read it, for at most the close linger.
 * Those sockets are bounded too: at `maxRefusing` the supervisor asks the
 * acceptor to stop accepting until they are gone, so that a flood above the
 * limit costs a bounded number of sockets and bytes (README, "When things
 * go wrong").
 */
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { encodeMessage, errorReply } from '../lib/protocol.js';
import type { Telemetry } from '../lib/telemetry.js';
import type { Transport } from '../lib/transport.js';
import { type Connection, closeGracefully } from './connection.js';

/** Refused sockets still lingering at which the acceptor stops accepting. */
export const MAX_REFUSING = 1_000;

/**
 * At most one "connection refused" log line this often: a flood must not
 * become a flood of log lines. The line says how many were refused since the
 * last one.
 */
const REFUSAL_LOG_INTERVAL_MS = 1_000;

/** What the supervisor tells the acceptor. */
export type SupervisorEvent =
  /** So many refused sockets linger that accepting must stop. */
  | { readonly type: 'REFUSALS_FULL' }
  /** The refused sockets are gone: accepting may resume. */
  | { readonly type: 'REFUSALS_CLEARED' }
  /** Draining, and the last connection has closed. */
  | { readonly type: 'ALL_CLOSED' };

export interface SupervisorOptions {
  readonly maxConnections: number;
  /** Refused sockets that may linger at once; default MAX_REFUSING. */
  readonly maxRefusing?: number;
  /** Starts the connection actor for an admitted socket; its end must reach `closed()`, once. */
  readonly start: (transport: Transport, number: number) => Connection;
  readonly log: Logger;
  readonly telemetry: Telemetry;
  readonly notify: (event: SupervisorEvent) => void;
}

export class ConnectionSupervisor {
  readonly #options: SupervisorOptions;
  readonly #maxRefusing: number;
  /** The open connections, by number: the registry, and its size the count. */
  readonly #open = new Map<number, Connection>();
  readonly #refusing = new Set<Duplex>();
  #accepted = 0;
  #draining = false;
  #refusalsFull = false;
  /** Refusals not yet logged, and when the last refusal line was written. */
  #unlogged = 0;
  #loggedAt = Number.NEGATIVE_INFINITY;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#maxRefusing = options.maxRefusing ?? MAX_REFUSING;
  }

  /** Connections open now. */
  get open(): number {
    return this.#open.size;
  }

  /** Refused sockets still lingering. */
  get refusing(): number {
    return this.#refusing.size;
  }

  /** The open connections, oldest first. */
  connections(): IterableIterator<Connection> {
    return this.#open.values();
  }

  /** A new socket: served if there is room, else refused with a coded error. */
  admit(transport: Transport): void {
    if (this.#draining) {
      this.refuse(transport, 'ERR_SHUTTING_DOWN', 'the server is shutting down');
      return;
    }
    const { maxConnections } = this.#options;
    if (this.#open.size >= maxConnections) {
      this.refuse(
        transport,
        'ERR_TOO_MANY_CONNECTIONS',
        `the server is at its limit of ${maxConnections} connections; try again later`,
      );
      return;
    }
    const number = ++this.#accepted;
    let connection: Connection;
    try {
      connection = this.#options.start(transport, number);
    } catch (err) {
      // No actor owns this socket: close it here, and let the fault reach the caller.
      transport.stream.destroy();
      throw err;
    }
    this.#open.set(number, connection);
  }

  /** Tells the peer why it is not served, and closes once it has read that (or after the linger). */
  refuse(transport: Transport, code: ErrorCode, message: string): void {
    const { stream, peer } = transport;
    this.#unlogged++;
    const now = performance.now();
    if (now - this.#loggedAt >= REFUSAL_LOG_INTERVAL_MS) {
      this.#options.log.warn('connection refused', { peer, code, refused: this.#unlogged });
      this.#unlogged = 0;
      this.#loggedAt = now;
    }
    this.#options.telemetry.connectionRejected(code);
    this.#options.telemetry.errorSent(code);
    this.#refusing.add(stream);
    stream.once('close', () => this.#refusalGone(stream));
    stream.on('error', () => {});
    stream.write(encodeMessage(errorReply(null, code, message)));
    closeGracefully(stream);
    if (!this.#refusalsFull && this.#refusing.size >= this.#maxRefusing) {
      this.#refusalsFull = true;
      this.#options.log.warn('too many refused connections; not accepting until they are gone', {
        refusing: this.#refusing.size,
      });
      this.#options.notify({ type: 'REFUSALS_FULL' });
    }
  }

  /** Every open connection answers what it has received, says ERR_SHUTTING_DOWN and closes. */
  drain(): void {
    this.#draining = true;
    for (const connection of this.#open.values()) connection.shutdown();
    if (this.#open.size === 0) this.#options.notify({ type: 'ALL_CLOSED' });
  }

  /** Closes every socket now, open or being refused, whatever it is doing. */
  abort(): void {
    if (this.#open.size > 0) {
      this.#options.log.warn('closing open connections', { open: this.#open.size });
    }
    for (const connection of this.#open.values()) connection.abort();
    for (const stream of this.#refusing) stream.destroy();
  }

  /** A connection has ended: its slot is free at once (docs/PROTOCOL.md §7). */
  closed(connection: Connection): void {
    this.#open.delete(connection.number);
    if (this.#draining && this.#open.size === 0) this.#options.notify({ type: 'ALL_CLOSED' });
  }

  #refusalGone(stream: Duplex): void {
    this.#refusing.delete(stream);
    if (this.#refusalsFull && this.#refusing.size === 0) {
      this.#refusalsFull = false;
      this.#options.log.info('accepting again');
      this.#options.notify({ type: 'REFUSALS_CLEARED' });
    }
  }
}
