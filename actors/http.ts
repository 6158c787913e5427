/**
 * The server's HTTP port: one small server for everything that is not the
 * weather protocol (README, "Watch it run"). It knows nothing of what it
 * serves: a route table maps a path to a handler, and another maps a path
 * to a WebSocket upgrade, so adding a route (issue #15's /healthz and
 * /readyz) is one line where the table is made, in actors/server.ts.
 *
 * Only GET and HEAD are served: nothing on this port changes the server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

/** Answers one request for its path. */
export type Route = (request: IncomingMessage, response: ServerResponse) => void;

/** Takes over the socket of a WebSocket upgrade for its path (or refuses it). */
export type UpgradeRoute = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface HttpOptions {
  readonly host: string;
  /** 0 lets the system choose a free port. */
  readonly port: number;
  /**
   * Handlers by path (no query string): `{ '/metrics': metricsRoute(registry) }`.
   * A path ending in `/*` takes every path under it (`/assets/*`).
   */
  readonly routes: Readonly<Record<string, Route>>;
  /** WebSocket upgrades by exact path. */
  readonly upgrades?: Readonly<Record<string, UpgradeRoute>>;
  /** Told when the server closes, to close what the upgrades took over (they are no longer HTTP's). */
  readonly onClose?: () => void;
}

export interface HttpServer {
  readonly port: number;
  /** Stops listening and closes every connection, kept-alive ones included; resolves once closed. */
  close(): Promise<void>;
}

/** Whether `host` is reached from this machine only (the server warns otherwise: no authentication yet). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The address to print for a server on `host:port`: on every interface
 * (`0.0.0.0`, `::`), the loopback one, which opens it on this machine.
 */
export function httpUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
}

/** `/healthz`: the process is alive and its event loop turns; always 200. */
export function livenessRoute(): Route {
  return (_request, response) => plain(response, 200, 'ok');
}

/**
 * `/readyz`: 200 while the server takes new connections, 503 with the reason
 * while it does not (retiring, draining, paused, no sensor worker loaded), as
 * JSON: `{"ready":false,"reason":"retiring"}`. A load balancer's health
 * check sends clients only where it says 200 (deploy/haproxy.cfg).
 */
export function readinessRoute(
  readiness: () => { readonly ready: boolean; readonly reason?: string },
): Route {
  return (_request, response) => {
    const state = readiness();
    response
      .writeHead(state.ready ? 200 : 503, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
      })
      .end(`${JSON.stringify(state)}\n`);
  };
}

/** The path of a request, without its query string. */
export function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

function plain(response: ServerResponse, status: number, text: string): void {
  response
    .writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
    .end(`${text}\n`);
}

/**
 * Listens on `host:port` and serves the routes. Rejects with the listen
 * error (its `code` says EADDRINUSE when the port is taken).
 */
export async function serveHttp(options: HttpOptions): Promise<HttpServer> {
  const entries = Object.entries(options.routes);
  const routes = new Map(entries.filter(([path]) => !path.endsWith('/*')));
  const prefixes = entries
    .filter(([path]) => path.endsWith('/*'))
    .map(([path, route]) => [path.slice(0, -1), route] as const);
  const upgrades = new Map(Object.entries(options.upgrades ?? {}));
  const find = (path: string): Route | undefined =>
    routes.get(path) ?? prefixes.find(([prefix]) => path.startsWith(prefix))?.[1];
  const server: Server = createServer((request, response) => {
    const route = find(pathOf(request));
    if (route === undefined) {
      plain(response, 404, `not found: try ${[...routes.keys()].join(' or ')}`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      plain(response, 405, 'only GET and HEAD are served here');
      return;
    }
    route(request, response);
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const upgrade = upgrades.get(pathOf(request));
    if (upgrade === undefined || request.method !== 'GET') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    upgrade(request, socket, head);
  });
  // A browser's idle keep-alive socket must not hold a stopping server open for its 5 s.
  server.keepAliveTimeout = 1_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        options.onClose?.();
      });
      return closing;
    },
  };
}
