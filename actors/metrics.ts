/**
 * Prometheus metrics (prom-client): a Telemetry that counts into a registry,
 * gauges read from the sensor pool at scrape time, Node's default process
 * metrics, and the /metrics route of the server's HTTP port (actors/http.ts).
 * Names follow Prometheus conventions: a `meteo_` prefix, base units,
 * `_total` on counters, a `_info` gauge for the build (issue #16).
 *
 * Every series the server can count is there at 0 from the first scrape, so
 * that `rate()` and `increase()` see the first event as an increase rather
 * than as a series that appeared (issue #16). Labels are bounded: a station
 * label only ever names a served station, a code only a code of
 * lib/errors.ts.
 */
import type { ServerResponse } from 'node:http';
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client';
import type { ErrorCode } from '../lib/errors.js';
import { READINGS, type Reading } from '../lib/protocol.js';
import { AUTH_FAILURE_REASONS } from '../lib/session.js';
import type { Outcome, Telemetry } from '../lib/telemetry.js';
import type { Route } from './http.js';

/** The codes the server sends on the wire (docs/errors.md, "On the wire"): every `code` label. */
export const WIRE_CODES: readonly ErrorCode[] = [
  'ERR_FRAME_TOO_LARGE',
  'ERR_BAD_MESSAGE',
  'ERR_UNSUPPORTED_VERSION',
  'ERR_HANDSHAKE_REQUIRED',
  'ERR_ALREADY_GREETED',
  'ERR_UNKNOWN_READING',
  'ERR_UNKNOWN_STATION',
  'ERR_SENSOR_FAILED',
  'ERR_READING_UNAVAILABLE',
  'ERR_HANDSHAKE_TIMEOUT',
  'ERR_IDLE_TIMEOUT',
  'ERR_SLOW_READER',
  'ERR_TOO_MANY_CONNECTIONS',
  'ERR_SHUTTING_DOWN',
  'ERR_INTERNAL',
  'ERR_AUTH_FAILED',
];

/**
 * Why a connection that was served can end (docs/errors.md, the codes that
 * close, less the refusal at the door): the `reason` labels of
 * meteo_connections_closed_total.
 */
export const CLOSE_REASONS: readonly string[] = [
  'client-ended',
  'client-closed',
  'ERR_FRAME_TOO_LARGE',
  'ERR_UNSUPPORTED_VERSION',
  'ERR_HANDSHAKE_TIMEOUT',
  'ERR_IDLE_TIMEOUT',
  'ERR_SLOW_READER',
  'ERR_SHUTTING_DOWN',
  'ERR_INTERNAL',
  'ERR_AUTH_FAILED',
];

/**
 * Why a connection is turned away at the door. ERR_SHUTTING_DOWN is rare
 * since the supervisor owns the drain: only a socket accepted just before
 * the listener closed gets it.
 */
export const REJECT_REASONS: readonly ErrorCode[] = [
  'ERR_TOO_MANY_CONNECTIONS',
  'ERR_SHUTTING_DOWN',
];

/** How a read can end: the `outcome` labels made at start (any other code still counts when it happens). */
const READ_OUTCOMES: readonly Outcome[] = ['ok', 'ERR_SENSOR_FAILED', 'ERR_READING_UNAVAILABLE'];

/** The station label of a read at a station the server does not serve; never seen unless a bug. */
const UNKNOWN_STATION = 'unknown';

export interface MetricsOptions {
  /** The server's version, for meteo_build_info. */
  readonly version: string;
  /** The ids of the stations served: the only values of the `station` label. */
  readonly stations: readonly string[];
}

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

/**
 * Under --cluster, hands this server process's registry to the primary,
 * which asks for it at each scrape of its /metrics and adds every process's
 * figures up (prom-client's AggregatorRegistry, made for node:cluster). The
 * totals are the server's: `meteo_connections` is every open connection of
 * every process. No series carries a process label: a station's dashboard
 * wants the station's figures, and each process logs its own.
 */
export function shareWithPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one is what makes prom-client answer the primary's requests in a worker.
  new AggregatorRegistry();
}

/**
 * The primary's /metrics: every server process's figures added up, then the
 * primary's own (its restarts of them).
 */
export function clusterMetricsRoute(primaryRegistry: Registry): Route {
  const aggregator = new AggregatorRegistry();
  return (_request, response: ServerResponse) => {
    Promise.all([aggregator.clusterMetrics(), primaryRegistry.metrics()]).then(
      ([processes, primary]) =>
        response
          .writeHead(200, { 'content-type': aggregator.contentType })
          .end(`${processes}\n${primary}`),
      (err: unknown) =>
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  };
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const served = new Set(options.stations);
  let pool: PoolGauges | undefined;
  let openConnections: (() => number) | undefined;

  new Gauge({
    name: 'meteo_build_info',
    help: 'Always 1: the version of the server and of Node.js that runs it, as labels.',
    labelNames: ['version', 'node'],
    registers: [registry],
    // Under --cluster every process says the same: the primary shows it once.
    aggregator: 'first',
  }).set({ version: options.version, node: process.version }, 1);
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
    help: 'Read requests answered, by station, reading and outcome (ok, or the error code of the reply).',
    labelNames: ['station', 'reading', 'outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'meteo_request_duration_seconds',
    help: 'Time from a read request arriving to its reply being written, by station and reading.',
    labelNames: ['station', 'reading'],
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
    // Under --cluster, the mean over the processes (a sum of ratios means nothing).
    aggregator: 'average',
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
  // Every series shows from the first scrape, at zero, rather than appearing when first counted.
  for (const station of options.stations) {
    for (const reading of READINGS) {
      for (const outcome of READ_OUTCOMES) requests.inc({ station, reading, outcome }, 0);
      latency.zero({ station, reading });
    }
  }
  for (const reason of REJECT_REASONS) rejected.inc({ reason }, 0);
  for (const reason of CLOSE_REASONS) closed.inc({ reason }, 0);
  for (const code of WIRE_CODES) errors.inc({ code }, 0);
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
      at: string,
      reading: Reading,
      outcome: Outcome,
      seconds: number,
      client?: string,
    ) {
      const station = served.has(at) ? at : UNKNOWN_STATION;
      requests.inc({ station, reading, outcome });
      latency.observe({ station, reading }, seconds);
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

/** The /metrics route: the registry as Prometheus text. */
export function metricsRoute(registry: Registry): Route {
  return (_request, response: ServerResponse) => {
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) =>
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  };
}
