/**
 * The server: wires the parts that each own one job (STYLE.md, "One role per
 * file"):
 *
 * - the acceptor actor (machines/acceptorMachine.ts): the front door's life,
 *   binding, listening, pausing, draining;
 * - the listener (actors/listener.ts): the listening socket;
 * - the supervisor (actors/supervisor.ts): the open connections, their one
 *   count and limit, refusals, the drain;
 * - a connection actor per socket (actors/connection.ts);
 * - the sensor pool (actors/sensorPool.ts), and the counters.
 *
 * The acceptor machine emits effects; this file performs them on the
 * listener and the supervisor, and turns what those report into events.
 */
import { type Actor, createActor, waitFor } from 'xstate';
import { defaultsOf, SERVER_OPTIONS } from '../lib/config.js';
import { describeError, MeteoError } from '../lib/errors.js';
import { type Logger, silentLogger } from '../lib/log.js';
import { PROTOCOL_VERSION, UNITS, type Welcome } from '../lib/protocol.js';
import { SIMULATED, type StationSetup } from '../lib/sensors/sources.js';
import { checkStation, DEFAULT_STATION, stationInfo } from '../lib/sensors/station.js';
import { ServerStats, type StatsSnapshot, type Telemetry, teeTelemetry } from '../lib/telemetry.js';
import { acceptorMachine } from '../machines/acceptorMachine.js';
import type { ConnectionLimits } from '../machines/connectionMachine.js';
import {
  type AuthFile,
  ClientAuth,
  exposureWarnings,
  type GuessLimits,
  loadAuthFile,
} from './auth.js';
import {
  type Connection,
  type ConnectionServices,
  connectionName,
  connectionTable,
  startConnection,
} from './connection.js';
import { type HttpServer, livenessRoute, readinessRoute, serveHttp } from './http.js';
import { Listener } from './listener.js';
import { createMetrics, metricsRoute, shareWithPrimary } from './metrics.js';
import type { ObserverFactory } from './observe.js';
import { SensorPool } from './sensorPool.js';
import { ConnectionSupervisor } from './supervisor.js';
import { daysLeft, loadServerTls, type ServerTls, type ServerTlsFiles } from './tls.js';
import type { FeedOptions, LiveFeed } from './view/feed.js';
import { createLiveView, type LiveView } from './view/liveView.js';

/** Server name and version sent in the welcome. */
export const SERVER_NAME = 'meteo-actors/0.1.0';
const SERVER_VERSION = SERVER_NAME.slice(SERVER_NAME.indexOf('/') + 1);

/** The limits a server has unless told otherwise: the defaults of its flags (lib/config.ts). */
const DEFAULTS = defaultsOf(SERVER_OPTIONS);

/** Gives the inspector observer for one root actor, by its name (`acceptor`, `connection.N`). */
export type InspectorFor = ObserverFactory;

export interface ServerSettings extends Partial<ConnectionLimits> {
  readonly host: string;
  readonly port: number;
  readonly threads: number;
  readonly seed: number;
  /** The stations served and their sources, the default first; the simulated Seattle station when absent. */
  readonly stations?: readonly StationSetup[];
  readonly maxConnections?: number;
  /** Refused sockets that may linger before the server stops accepting (default 1,000). */
  readonly maxRefusing?: number;
  readonly drainTimeoutMs?: number;
  /** How long `retire()` says the server is not ready before it stops accepting (default 0). */
  readonly readyGraceMs?: number;
  readonly log?: Logger;
  /** Told of every connection and request, besides the server's own counts (the Prometheus exporter). */
  readonly telemetry?: Telemetry;
  /** The clock the sensors read by (tests pin it). */
  readonly now?: () => number;
  /** The compiled sensor worker, when not the default (tests inject faulty ones). */
  readonly workerUrl?: URL;
  /**
   * Watches the acceptor and the first `inspectConnections` connections, each
   * with the observer this gives for its name. Inspected or not, connections
   * run compiled; no inspection work is done for the others.
   */
  readonly inspect?: InspectorFor;
  readonly inspectConnections?: number;
  /**
   * Serve the HTTP port on this port of `host` (0 picks a free one): the live
   * view at `/` and Prometheus metrics at `/metrics`. None when absent.
   */
  readonly httpPort?: number;
  /**
   * A server process of a --cluster: it counts into Prometheus metrics with
   * no HTTP port of its own, and hands them to the primary, which serves the
   * whole server's (actors/cluster.ts).
   */
  readonly shareMetrics?: boolean;
  /** The live view's pace and bounds, when not the defaults (specs make them quicker). */
  readonly view?: FeedOptions;
  /** Serve TLS with these files (issue #14); plain TCP when absent. */
  readonly tls?: ServerTlsFiles;
  /** Require every client to say who it is, by a `name:secret` line of this file (issue #14). */
  readonly authFile?: string;
  /** How failed handshakes slow an address down (actors/auth.ts); specs shorten them. */
  readonly guessLimits?: GuessLimits;
}

/** What a reload read (RunningServer.reload). */
export interface Reloaded {
  /** The certificate now served, when the server serves TLS. */
  readonly certificate: { readonly subject: string; readonly validTo: string } | null;
  /** Clients in the auth file now, when the server has one. */
  readonly clients: number | null;
  /** Open connections ended because their client is no longer let in. */
  readonly revoked: number;
}

export interface RunningServer {
  readonly address: string;
  readonly port: number;
  readonly actor: Actor<typeof acceptorMachine>;
  /** The sensor pool (its threads can be inspected, and killed by fault-injection specs). */
  readonly sensors: SensorPool;
  /** The open connections, oldest first. */
  connections(): IterableIterator<Connection>;
  /** What the server has counted since it started. */
  stats(): StatsSnapshot;
  /** The HTTP port (the live view, /metrics), when it is served. */
  readonly httpPort: number | null;
  /** The live view's feed, when the HTTP port is served. */
  readonly view: LiveFeed | null;
  /** True when it serves TLS. */
  readonly secure: boolean;
  /**
   * Reads the TLS files and the auth file again (the CLI does on SIGHUP):
   * handshakes to come use the new certificate, hellos to come the new
   * clients, and the open connections of a client the file no longer lets
   * in (removed, or given another secret) are ended with ERR_AUTH_FAILED.
   * All or nothing: a file that cannot be used leaves everything as it was,
   * and the call throws its coded error (ERR_BAD_TLS_FILE, ERR_BAD_AUTH_FILE).
   */
  reload(): Reloaded;
  /**
   * Stops accepting, lets every request already received get its reply
   * (for at most the drain timeout), then closes the pool. Idempotent.
   */
  stop(): Promise<void>;
  /**
   * Stops as `stop()` does, behind a load balancer: first says it is not
   * ready (`readiness()`, /readyz) for the ready grace while it still
   * accepts, so the balancer sends no newcomer to a listener about to close.
   */
  retire(): Promise<void>;
  /** Whether the server takes new connections now, and if not, why (for /readyz). */
  readiness(): Readiness;
  /**
   * Settles with the fault if the acceptor fails while the server runs (it
   * could not listen again after a pause, or a fault in its own wiring); it
   * has then drained or closed every connection, and the program should
   * stop. Never settles otherwise.
   */
  readonly failed: Promise<unknown>;
}

/** Ready: the listener accepts and a sensor worker has loaded its module. Otherwise, why not. */
export type Readiness =
  | { readonly ready: true }
  | {
      readonly ready: false;
      readonly reason: 'paused' | 'retiring' | 'draining' | 'stopped' | 'no-sensor-worker';
    };

/** A certificate that has expired, or will within a fortnight, is said at start and at each reload. */
function warnOfExpiry(log: Logger, tls: ServerTls): void {
  const days = daysLeft(tls.certificate);
  if (days >= 14) return;
  log.warn(days < 0 ? 'the TLS certificate has expired' : 'the TLS certificate expires soon', {
    subject: tls.certificate.subject,
    validTo: tls.certificate.validTo,
  });
}

function checkStations(stations: readonly StationSetup[]): void {
  if (stations.length === 0) throw new MeteoError('ERR_BAD_VALUE', 'a server needs a station');
  for (const setup of stations) checkStation(setup.station);
  if (new Set(stations.map((setup) => setup.station.id)).size !== stations.length) {
    throw new MeteoError('ERR_BAD_VALUE', 'two stations have the same id');
  }
}

/** Starts the server; resolves once it listens, or rejects with a coded error. */
export async function startServer(settings: ServerSettings): Promise<RunningServer> {
  const log = settings.log ?? silentLogger;
  const stations = settings.stations ?? [{ station: DEFAULT_STATION, source: SIMULATED }];
  checkStations(stations);
  // Files that cannot be used stop the server here, before anything starts (issue #14).
  const tlsFiles = settings.tls;
  const tls = tlsFiles === undefined ? undefined : loadServerTls(tlsFiles);
  const { authFile } = settings;
  const authRead: AuthFile | undefined =
    authFile === undefined ? undefined : loadAuthFile(authFile);
  // A machine the fast path cannot run stops the server here, before it listens.
  connectionTable();
  const sensors = new SensorPool({
    threads: settings.threads,
    seed: settings.seed,
    stations,
    ...(settings.now ? { now: settings.now } : {}),
    ...(settings.workerUrl ? { workerUrl: settings.workerUrl } : {}),
    onError: (err) =>
      log.error('sensor worker failed', { code: 'ERR_SENSOR_FAILED', error: describeError(err) }),
  });
  try {
    await sensors.ready();
  } catch (err) {
    await sensors.close();
    throw new MeteoError(
      'ERR_LISTEN_FAILED',
      `the sensor pool did not start: ${describeError(err)}`,
    );
  }
  const welcome: Welcome = {
    type: 'welcome',
    version: PROTOCOL_VERSION,
    server: SERVER_NAME,
    station: stationInfo((stations[0] as StationSetup).station),
    stations: stations.map((setup) => stationInfo(setup.station)),
    units: UNITS,
  };
  const stats = new ServerStats();
  const metrics =
    settings.httpPort === undefined && !settings.shareMetrics
      ? undefined
      : createMetrics({
          version: SERVER_VERSION,
          stations: stations.map((setup) => setup.station.id),
        });
  metrics?.watchPool(sensors);
  if (metrics && settings.shareMetrics) shareWithPrimary(metrics.registry);
  const sinks = [settings.telemetry, metrics?.telemetry].filter((sink) => sink !== undefined);
  const telemetry = sinks.length > 0 ? teeTelemetry(stats, ...sinks) : stats;
  const limits: ConnectionLimits = {
    handshakeTimeoutMs: settings.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    maxQueuedRequests: settings.maxQueuedRequests ?? DEFAULTS.maxQueuedRequests,
    maxOutputBytes: settings.maxOutputBytes ?? DEFAULTS.maxOutputBytes,
    writeTimeoutMs: settings.writeTimeoutMs ?? DEFAULTS.writeTimeoutMs,
  };
  const inspectConnections = settings.inspectConnections ?? DEFAULTS.inspectConnections;
  const auth = new ClientAuth({
    table: authRead?.table ?? null,
    log,
    telemetry,
    ...(settings.guessLimits ? { limits: settings.guessLimits } : {}),
  });

  const acceptor = createActor(acceptorMachine, {
    id: 'acceptor',
    input: {
      drainTimeoutMs: settings.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
      readyGraceMs: settings.readyGraceMs ?? 0,
    },
    ...(settings.inspect ? { inspect: settings.inspect('acceptor') } : {}),
  });
  const listener = new Listener({
    host: settings.host,
    port: settings.port,
    log,
    notify: (event) => acceptor.send(event),
    ...(tls ? { tls, tlsHandshakeTimeoutMs: limits.handshakeTimeoutMs } : {}),
  });
  const supervisor = new ConnectionSupervisor({
    maxConnections: settings.maxConnections ?? DEFAULTS.maxConnections,
    ...(settings.maxRefusing === undefined ? {} : { maxRefusing: settings.maxRefusing }),
    log,
    telemetry,
    notify: (event) => acceptor.send(event),
    start: (transport, number) =>
      startConnection(
        services,
        transport,
        number,
        settings.inspect && number <= inspectConnections
          ? settings.inspect(connectionName(number))
          : undefined,
      ),
  });
  const services: ConnectionServices = {
    welcome,
    sensors,
    limits,
    log,
    telemetry,
    ...(auth ? { auth } : {}),
    onClosed: (connection) => supervisor.closed(connection),
  };

  let reportFailure: (err: unknown) => void = () => {};
  const failed = new Promise<unknown>((resolve) => {
    reportFailure = resolve;
  });
  /** A fault in the front door's own wiring: nothing more is accepted, every connection is closed. */
  const failAcceptor = (err: unknown): void => {
    log.error('acceptor failed', { code: 'ERR_INTERNAL', error: describeError(err) });
    listener.close();
    supervisor.abort();
    acceptor.stop();
    reportFailure(err);
  };
  metrics?.watchConnections(() => supervisor.open);
  acceptor.on('*', (effect) => {
    try {
      switch (effect.type) {
        case 'listen':
          listener.listen();
          break;
        case 'stopListening':
          if (listener.listening) {
            log.info('stopped accepting', { port: acceptor.getSnapshot().context.listening?.port });
          }
          listener.close();
          break;
        case 'admit':
          supervisor.admit(effect.transport);
          break;
        case 'drainConnections':
          supervisor.drain();
          break;
        case 'abortConnections':
          supervisor.abort();
          break;
      }
    } catch (err) {
      failAcceptor(err);
    }
  });
  acceptor.subscribe({
    complete: () => {
      const { failure, listening } = acceptor.getSnapshot().context;
      if (failure !== null && listening !== null) {
        log.error('stopped listening', { code: failure.code, error: failure.message });
        reportFailure(new MeteoError(failure.code, failure.message));
      }
    },
    error: failAcceptor,
  });
  acceptor.start();

  let ready: ReturnType<typeof acceptor.getSnapshot>;
  try {
    ready = await waitFor(
      acceptor,
      (snapshot) => snapshot.context.listening !== null || snapshot.status !== 'active',
      { timeout: Number.POSITIVE_INFINITY },
    );
  } catch (err) {
    await sensors.close();
    throw new MeteoError(
      'ERR_LISTEN_FAILED',
      `the acceptor failed while starting: ${describeError(err)}`,
    );
  }
  if (ready.context.listening === null) {
    await sensors.close();
    const failure = ready.context.failure ?? {
      code: 'ERR_LISTEN_FAILED',
      message: 'the server stopped before it listened',
    };
    throw new MeteoError(failure.code, failure.message);
  }
  const { address, port } = ready.context.listening;
  for (const { message, fields } of exposureWarnings({
    host: settings.host,
    tls: tls !== undefined,
    authFile,
    authFileReadableByOthers: authRead?.readableByOthers ?? false,
  })) {
    log.warn(message, fields);
  }
  if (tls) warnOfExpiry(log, tls);

  const reload = (): Reloaded => {
    // Everything is read before anything is replaced: all or nothing.
    const nextTls = tlsFiles === undefined ? undefined : loadServerTls(tlsFiles);
    const nextAuth = authFile === undefined ? undefined : loadAuthFile(authFile).table;
    if (nextTls) {
      listener.replaceTls(nextTls);
      warnOfExpiry(log, nextTls);
    }
    let revoked = 0;
    if (nextAuth) {
      const gone = new Set(auth.replace(nextAuth));
      for (const connection of supervisor.connections()) {
        if (connection.client === null || !gone.has(connection.client)) continue;
        connection.revoke(`client ${connection.client} is no longer let in`);
        revoked++;
      }
    }
    return {
      certificate: nextTls
        ? { subject: nextTls.certificate.subject, validTo: nextTls.certificate.validTo }
        : null,
      clients: nextAuth?.size ?? null,
      revoked,
    };
  };

  const shutdown = async (how: 'SHUTDOWN' | 'RETIRE'): Promise<void> => {
    acceptor.send({ type: how });
    await waitFor(acceptor, (snapshot) => snapshot.status !== 'active', {
      timeout: Number.POSITIVE_INFINITY,
    }).catch(() => {});
    listener.close();
    await sensors.close();
  };

  const readiness = (): Readiness => {
    const snapshot = acceptor.getSnapshot();
    if (snapshot.status !== 'active') return { ready: false, reason: 'stopped' };
    if (snapshot.matches('paused')) return { ready: false, reason: 'paused' };
    if (snapshot.matches('retiring')) return { ready: false, reason: 'retiring' };
    if (!snapshot.matches('listening')) return { ready: false, reason: 'draining' };
    // A thread still loading its module (a replacement, after a crash) cannot read yet.
    if (sensors.loadedThreads === 0) return { ready: false, reason: 'no-sensor-worker' };
    return { ready: true };
  };

  // The HTTP port: /metrics, the health checks a load balancer or a
  // supervisor asks (issue #15), and the live view (issue #13), one line a route.
  let http: HttpServer | undefined;
  let view: LiveView | undefined;
  if (metrics && settings.httpPort !== undefined) {
    view = createLiveView(
      {
        server: SERVER_NAME,
        port,
        stations: welcome.stations.map(({ id, name }) => ({ id, name })),
        connections: () => supervisor.connections(),
        acceptorState: () => acceptor.getSnapshot().value,
        pool: sensors,
      },
      settings.view,
    );
    const live = view;
    try {
      http = await serveHttp({
        host: settings.host,
        port: settings.httpPort,
        routes: {
          '/metrics': metricsRoute(metrics.registry),
          '/healthz': livenessRoute(),
          '/readyz': readinessRoute(readiness),
          ...live.routes,
        },
        upgrades: live.upgrades,
        onClose: () => live.close(),
      });
    } catch (err) {
      await shutdown('SHUTDOWN');
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      throw new MeteoError(
        inUse ? 'ERR_ADDRESS_IN_USE' : 'ERR_LISTEN_FAILED',
        `cannot serve HTTP on ${settings.host}:${settings.httpPort}: ${inUse ? 'the address is in use' : describeError(err)}`,
      );
    }
    live.listening(settings.host, http.port);
  }

  let stopping: Promise<void> | undefined;
  const stopWith = (how: 'SHUTDOWN' | 'RETIRE'): Promise<void> => {
    // A retire already under way becomes a plain stop: drain now.
    if (stopping && how === 'SHUTDOWN') acceptor.send({ type: 'SHUTDOWN' });
    stopping ??= (async () => {
      // The page watches the drain, then goes with the HTTP port.
      await shutdown(how);
      await http?.close();
    })();
    return stopping;
  };
  return {
    address,
    port,
    actor: acceptor,
    sensors,
    connections: () => supervisor.connections(),
    stats: () => stats.snapshot(supervisor.open),
    httpPort: http?.port ?? null,
    view: view?.feed ?? null,
    secure: tls !== undefined,
    reload,
    failed,
    readiness,
    stop: () => stopWith('SHUTDOWN'),
    retire: () => stopWith('RETIRE'),
  };
}
