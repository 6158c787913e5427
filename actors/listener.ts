/**
 * The listener: the server's listening socket, and nothing else. It binds,
 * hands each accepted socket on as a transport, and stops and resumes
 * accepting when the acceptor says so (actors/server.ts wires it to the
 * acceptor machine's effects).
 *
 * Stopping closes the listening socket, and resuming listens again on the
 * address it had. Ranch stops calling accept() and lets the kernel's backlog
 * hold newcomers; Node cannot: libuv has no way to stop accepting on a
 * listening socket short of closing it (libuv/libuv#1937, "add
 * uv_listen_stop()", closed without it). So while stopped, a connection
 * attempt is refused by the kernel (ECONNREFUSED) rather than queued.
 *
 * With a certificate and key it serves TLS on the same port (issue #14): a
 * `tls.Server`, whose sockets are handed on once their handshake is done,
 * as the same transport, so the actors after it never know the difference.
 * A reload replaces the secure context for the handshakes to come
 * (`server.setSecureContext`); the connections already open keep theirs.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  createServer as createTlsServer,
  type TLSSocket,
  type Server as TlsServer,
} from 'node:tls';
import type { ErrorCode } from '../lib/errors.js';
import { describeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { type Transport, transport } from '../lib/transport.js';
import { type ServerTls, secureContextOf } from './tls.js';

/** What the listener tells the acceptor. */
export type ListenerEvent =
  | { readonly type: 'LISTENING'; readonly address: string; readonly port: number }
  | { readonly type: 'LISTEN_FAILED'; readonly code: ErrorCode; readonly message: string }
  | { readonly type: 'CONNECTION'; readonly transport: Transport };

export interface ListenerOptions {
  readonly host: string;
  /** 0 picks a free port; a resume listens again on the one picked. */
  readonly port: number;
  readonly log: Logger;
  readonly notify: (event: ListenerEvent) => void;
  /** Serve TLS with this certificate and key (and CA of client certificates); plain TCP when absent. */
  readonly tls?: ServerTls;
  /**
   * How long a TLS handshake may take before the socket is closed (the
   * server's handshake timeout). Node's own default is 120 s, which would
   * let sockets that never finish one pile up outside the connection limit.
   */
  readonly tlsHandshakeTimeoutMs?: number;
}

/** Half-open, so that a client's half-close is answered (docs/PROTOCOL.md §8.1); no Nagle delay. */
const SOCKET_OPTIONS = { allowHalfOpen: true, noDelay: true } as const;

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

export class Listener {
  readonly #options: ListenerOptions;
  #server: Server | TlsServer | undefined;
  /** The TLS it serves with: the options', until a reload replaces it. */
  #tls: ServerTls | undefined;
  /** The port bound at first, which a resume binds again. */
  #port: number;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#port = options.port;
    this.#tls = options.tls;
  }

  /** True when it serves TLS. */
  get secure(): boolean {
    return this.#tls !== undefined;
  }

  /**
   * Serves the handshakes to come with `tls` (a renewed certificate): the
   * open connections are not touched. Only for a listener that serves TLS;
   * whether clients need a certificate is fixed when it starts.
   */
  replaceTls(tls: ServerTls): void {
    if (this.#tls === undefined) throw new Error('this listener does not serve TLS');
    this.#tls = tls;
    if (this.#server !== undefined && 'setSecureContext' in this.#server) {
      this.#server.setSecureContext(secureContextOf(tls));
    }
  }

  /** Binds and starts accepting: LISTENING, or LISTEN_FAILED with ERR_ADDRESS_IN_USE or ERR_LISTEN_FAILED. */
  listen(): void {
    if (this.#server) return;
    const { host, notify, log } = this.#options;
    const server = this.#tls ? this.#tlsServer(this.#tls) : createServer(SOCKET_OPTIONS);
    this.#server = server;
    let listening = false;
    // A TLS socket is handed on once its handshake is done; what fails before is the TLS server's.
    server.on(this.#tls ? 'secureConnection' : 'connection', (socket: Socket) =>
      notify({ type: 'CONNECTION', transport: transport(socket, peerOf(socket)) }),
    );
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (listening) {
        // An accept failed (out of file descriptors, say); the listener carries on.
        log.warn('accept failed', { code: err.code, error: describeError(err) });
        return;
      }
      this.#server = undefined;
      const inUse = err.code === 'EADDRINUSE';
      notify({
        type: 'LISTEN_FAILED',
        code: inUse ? 'ERR_ADDRESS_IN_USE' : 'ERR_LISTEN_FAILED',
        message: `cannot listen on ${host}:${this.#port}: ${inUse ? 'the address is in use' : err.message}`,
      });
    });
    server.listen({ host, port: this.#port }, () => {
      listening = true;
      const address = server.address();
      if (address === null || typeof address !== 'object') return;
      this.#port = address.port;
      notify({ type: 'LISTENING', address: address.address, port: address.port });
    });
  }

  #tlsServer(tls: ServerTls): TlsServer {
    const mutual = tls.ca !== undefined;
    const server = createTlsServer({
      ...SOCKET_OPTIONS,
      ...secureContextOf(tls),
      // Mutual TLS: a client without a certificate from the CA is refused in the handshake.
      requestCert: mutual,
      rejectUnauthorized: mutual,
      ...(this.#options.tlsHandshakeTimeoutMs === undefined
        ? {}
        : { handshakeTimeout: this.#options.tlsHandshakeTimeoutMs }),
    });
    // Plain TCP to this port, a client that will not trust us, one without a certificate:
    // its socket is closed by Node, and the server carries on.
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) =>
      this.#options.log.debug('TLS handshake failed', {
        peer: peerOf(socket),
        code: err.code,
        error: describeError(err),
      }),
    );
    return server;
  }

  /** Whether the listening socket is open. */
  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Stops accepting: the listening socket closes; open connections are not touched. */
  close(): void {
    this.#server?.close();
    this.#server = undefined;
  }
}
