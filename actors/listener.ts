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
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ErrorCode } from '../lib/errors.js';
import { describeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { type Transport, transport } from '../lib/transport.js';

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
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

export class Listener {
  readonly #options: ListenerOptions;
  #server: Server | undefined;
  /** The port bound at first, which a resume binds again. */
  #port: number;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#port = options.port;
  }

  /** Binds and starts accepting: LISTENING, or LISTEN_FAILED with ERR_ADDRESS_IN_USE or ERR_LISTEN_FAILED. */
  listen(): void {
    if (this.#server) return;
    const { host, notify, log } = this.#options;
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    this.#server = server;
    let listening = false;
    server.on('connection', (socket) =>
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

  /** Stops accepting: the listening socket closes; open connections are not touched. */
  close(): void {
    this.#server?.close();
    this.#server = undefined;
  }
}
