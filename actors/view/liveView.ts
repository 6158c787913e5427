/**
 * The live view on the server's HTTP port (issue #13): the page at `/`, its
 * scripts and styles under `/assets/`, built from npm packages at
 * `npm run build` (actors/view/build.ts), and the feed's WebSocket at
 * FEED_PATH (actors/view/feed.ts). Nothing comes from anywhere else: the
 * page's Content-Security-Policy allows this server alone.
 *
 * Read-only, and for this server's own page only: a request must name the
 * server by one of its own names (`Host`; no DNS rebinding), and a WebSocket
 * must come from the server's own page (`Origin`; no cross-site WebSocket
 * hijacking). A program that is not a browser sends no Origin and may read
 * the feed (the benchmark's stand-in page does).
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import type { Route, UpgradeRoute } from '../http.js';
import { pathOf } from '../http.js';
import { relayAuthorities } from '../inspect.js';
import { type FeedOptions, type FeedSource, LiveFeed } from './feed.js';
import { FEED_PATH } from './protocol.js';

/** Where `npm run build` puts the page: dist/actors/view/assets/, beside this module once compiled. */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/** The page's entry, among the assets. */
const PAGE = 'index.html';

/** Bytes a page may send in one message: it only ever says which connection it watches. */
const MAX_PAGE_MESSAGE_BYTES = 1_024;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * What the browser may load and connect to: this server, nothing else.
 * Inline styles are allowed because Mermaid styles the SVG it draws with a
 * `<style>` element, and uPlot sizes its canvas with style attributes.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
} as const;

export interface LiveView {
  /** `/` and `/assets/*`, for the HTTP port's route table. */
  readonly routes: Readonly<Record<string, Route>>;
  /** FEED_PATH, for the HTTP port's upgrades. */
  readonly upgrades: Readonly<Record<string, UpgradeRoute>>;
  readonly feed: LiveFeed;
  /** Says which port the HTTP server got, so that the view knows its own names (`Host`, `Origin`). */
  listening(host: string, port: number): void;
  /** Closes every page's socket. */
  close(): void;
}

/** The asset files by name, listed once, when first asked for; none when the page was not built. */
function listAssets(dir: string): ReadonlyMap<string, string> {
  try {
    return new Map(
      readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isFile() && /^[\w.-]+$/.test(entry.name))
        .map((entry) => [entry.name, join(dir, entry.name)]),
    );
  } catch {
    return new Map();
  }
}

function refuse(response: ServerResponse, status: number, text: string): void {
  response
    .writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
    .end(`${text}\n`);
}

function serveFile(request: IncomingMessage, response: ServerResponse, path: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    refuse(response, 404, 'not found');
    return;
  }
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': size,
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  const stream = createReadStream(path);
  stream.on('error', () => response.destroy());
  stream.pipe(response);
}

/** The live view of a server, on the HTTP port the caller serves. */
export function createLiveView(
  source: FeedSource,
  options: FeedOptions & { readonly assetsDir?: string } = {},
): LiveView {
  const feed = new LiveFeed(source, options);
  const assetsDir = options.assetsDir ?? ASSETS_DIR;
  let assets: ReadonlyMap<string, string> | undefined;
  let authorities: ReadonlySet<string> = new Set();
  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_PAGE_MESSAGE_BYTES,
    perMessageDeflate: false,
  });

  /** A request that names the server by a name it does not have (DNS rebinding) gets nothing. */
  const ownHost = (request: IncomingMessage): boolean =>
    authorities.has((request.headers.host ?? '').toLowerCase());

  const asset = (name: string): Route => {
    return (request, response) => {
      if (!ownHost(request)) {
        refuse(response, 421, 'misdirected request: use the address the server printed');
        return;
      }
      assets ??= listAssets(assetsDir);
      const path = assets.get(name);
      if (path === undefined) {
        refuse(
          response,
          name === PAGE ? 503 : 404,
          name === PAGE ? 'the live view is not built: run npm run build' : 'not found',
        );
        return;
      }
      serveFile(request, response, path);
    };
  };
  const assetRoute: Route = (request, response) =>
    asset(pathOf(request).slice('/assets/'.length))(request, response);

  const upgrade: UpgradeRoute = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const origin = request.headers.origin;
    const fromOwnPage =
      origin === undefined ||
      (() => {
        try {
          const url = new URL(origin);
          return url.protocol === 'http:' && authorities.has(url.host);
        } catch {
          return false;
        }
      })();
    if (!ownHost(request) || !fromOwnPage) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (feed.full) {
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    sockets.handleUpgrade(request, socket, head, (page) => feed.attach(page));
  };

  return {
    routes: { '/': asset(PAGE), '/assets/*': assetRoute },
    upgrades: { [FEED_PATH]: upgrade },
    feed,
    listening(host, port) {
      authorities = new Set([...relayAuthorities(host, port)].map((name) => name.toLowerCase()));
    },
    close() {
      feed.stop();
      sockets.close();
    },
  };
}
