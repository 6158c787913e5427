/**
 * Prometheus metrics (prom-client): a Telemetry that counts into a registry,
 * gauges read from the sensor pool at scrape time, Node's default process
 * metrics, and a small HTTP server for /metrics. Names follow Prometheus
 * conventions: a `meteo_` prefix, base units, `_total` on counters.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { READINGS, type Reading } from '../lib/protocol.js';
import { AUTH_FAILURE_REASONS } from '../lib/session.js';
import type { Outcome, Telemetry } from '../lib/telemetry.js';

/** What the pool gauges read at each scrape. */
export interface PoolGauges {
  readonly queueSize: number;
  readonly utilization: number;
  readonly threads: readonly unknown[];
}

export interface Metrics {
  readonly registry: Registry;
  readonly telemetry: Telemetry;
  /** Points the pool gauges at the pool, once it exists. */
  watchPool(pool: PoolGauges): void;
  /** Points the open-connections gauge at the count of their owner (the supervisor). */
  watchConnections(open: () => number): void;
}

/** Request latency buckets, seconds: a loopback request takes tens of microseconds to milliseconds. */
const LATENCY_BUCKETS = [
  0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let pool: PoolGauges | undefined;
  let openConnections: (() => number) | undefined;

  new Gauge({
    name: 'meteo_connections',
    help: 'Connections open now.',
    registers: [registry],
    collect() {
      this.set(openConnections?.() ?? 0);
    },
  });
  const accepted = new Counter({
    name: 'meteo_connections_accepted_total',
    help: 'Connections accepted and served.',
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'meteo_connections_rejected_total',
    help: 'Connections turned away at the door, by the error code they were told.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const closed = new Counter({
    name: 'meteo_connections_closed_total',
    help: 'Connections ended, by reason: the error code that closed them, or client-ended / client-closed.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'meteo_requests_total',
    help: 'Read requests answered, by reading and outcome (ok, or the error code of the reply).',
    labelNames: ['reading', 'outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'meteo_request_duration_seconds',
    help: 'Time from a read request arriving to its reply being written, by reading.',
    labelNames: ['reading'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'meteo_error_replies_total',
    help: 'Error replies sent (frame, protocol, limit and sensor errors), by code.',
    labelNames: ['code'],
    registers: [registry],
  });
  new Gauge({
    name: 'meteo_pool_queue_depth',
    help: 'Sensor tasks waiting for a free worker thread.',
    registers: [registry],
    collect() {
      this.set(pool?.queueSize ?? 0);
    },
  });
  new Gauge({
    name: 'meteo_pool_utilization_ratio',
    help: 'Share of the worker threads’ time spent running sensor tasks since the pool started.',
    registers: [registry],
    collect() {
      this.set(pool?.utilization ?? 0);
    },
  });
  new Gauge({
    name: 'meteo_pool_threads',
    help: 'Worker threads in the sensor pool.',
    registers: [registry],
    collect() {
      this.set(pool?.threads.length ?? 0);
    },
  });
  // Every reading shows from the first scrape, with zero, rather than appearing when first asked for.
  for (const reading of READINGS) requests.inc({ reading, outcome: 'ok' }, 0);
  // Issue #14. The client label holds only names from the auth file, so it stays bounded.
  const clientRequests = new Counter({
    name: 'meteo_client_requests_total',
    help: 'Read requests answered to clients that said who they are, by client (a name from the auth file) and outcome.',
    labelNames: ['client', 'outcome'],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'meteo_auth_failures_total',
    help: 'Hellos refused ERR_AUTH_FAILED, by reason: missing, unknown-client, wrong-secret, cleartext, throttled.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of AUTH_FAILURE_REASONS) authFailures.inc({ reason }, 0);

  const telemetry: Telemetry = {
    connectionAccepted() {
      accepted.inc();
    },
    connectionRejected(code: string) {
      rejected.inc({ reason: code });
    },
    connectionClosed(reason: string) {
      closed.inc({ reason });
    },
    requestServed(
      _station: string,
      reading: Reading,
      outcome: Outcome,
      seconds: number,
      client?: string,
    ) {
      requests.inc({ reading, outcome });
      latency.observe({ reading }, seconds);
      if (client !== undefined) clientRequests.inc({ client, outcome });
    },
    errorSent(code: string) {
      errors.inc({ code });
    },
    authFailed(reason: string) {
      authFailures.inc({ reason });
    },
  };

  return {
    registry,
    telemetry,
    watchPool(watched) {
      pool = watched;
    },
    watchConnections(open) {
      openConnections = open;
    },
  };
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves the registry as Prometheus text at /metrics. */
export function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) =>
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
