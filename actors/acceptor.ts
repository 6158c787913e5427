/**
 * The acceptor actor and the server around it: a listening socket, the
 * sensor pool, and one connection actor per accepted socket, supervised here
 * (machines/acceptorMachine.ts says why they are not its children).
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  type Actor,
  type AnyActorRef,
  createActor,
  fromCallback,
  type InspectionEvent,
  type Observer,
  waitFor,
} from 'xstate';
import { defaultsOf, SERVER_OPTIONS } from '../lib/config.js';
import { describeError, MeteoError } from '../lib/errors.js';
import { type Logger, silentLogger } from '../lib/log.js';
import {
  encodeMessage,
  errorReply,
  PROTOCOL_VERSION,
  UNITS,
  type Welcome,
} from '../lib/protocol.js';
import { SIMULATED, type StationSetup } from '../lib/sensors/sources.js';
import { checkStation, DEFAULT_STATION, stationInfo } from '../lib/sensors/station.js';
import { ServerStats, type StatsSnapshot, type Telemetry, teeTelemetry } from '../lib/telemetry.js';
import { transport } from '../lib/transport.js';
import { type AcceptorEvent, acceptorMachine } from '../machines/acceptorMachine.js';
import type { ConnectionLimits } from '../machines/connectionMachine.js';
import { type ConnectionHandle, closeGracefully, startConnection } from './connection.js';
import { createMetrics, type MetricsServer, serveMetrics } from './metrics.js';
import { SensorPool } from './sensorPool.js';

/** Server name and version sent in the welcome. */
export const SERVER_NAME = 'meteo-actors/0.1.0';

/** The limits a server has unless told otherwise: the defaults of its flags (lib/config.ts). */
const DEFAULTS = defaultsOf(SERVER_OPTIONS);

export interface ServerSettings extends Partial<ConnectionLimits> {
  readonly host: string;
  readonly port: number;
  readonly threads: number;
  readonly seed: number;
  /** The stations served and their sources, the default first; the simulated Seattle station when absent. */
  readonly stations?: readonly StationSetup[];
  readonly maxConnections?: number;
  readonly drainTimeoutMs?: number;
  readonly log?: Logger;
  /** Told of every connection and request, besides the server's own counts (the Prometheus exporter). */
  readonly telemetry?: Telemetry;
  /** The clock the sensors read by (tests pin it). */
  readonly now?: () => number;
  /** The compiled sensor worker, when not the default (tests inject faulty ones). */
  readonly workerUrl?: URL;
  /** Sends the acceptor and the first `inspectConnections` connection actors to the XState inspector. */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /**
   * How many connection actors (the first ones) the inspector gets. The rest
   * share the acceptor's actor system and so still build their inspection
   * events, which are dropped here; without `inspect`, nothing is built.
   */
  readonly inspectConnections?: number;
  /** Serve Prometheus metrics on this port of `host` (0 picks a free one); none when absent. */
  readonly metricsPort?: number;
}

export interface RunningServer {
  readonly address: string;
  readonly port: number;
  readonly actor: Actor<typeof acceptorMachine>;
  /** The sensor pool (its threads can be inspected, and killed by fault-injection specs). */
  readonly sensors: SensorPool;
  /** What the server has counted since it started. */
  stats(): StatsSnapshot;
  /** Where /metrics is served, when it is. */
  readonly metricsPort: number | null;
  /**
   * Stops accepting, lets every request already received get its reply
   * (for at most the drain timeout), then closes the pool. Idempotent.
   */
  stop(): Promise<void>;
  /**
   * Settles with the fault if the acceptor itself fails (an action of its
   * own throws); it then accepts nothing more and has closed every
   * connection, and the program should stop. Never settles otherwise.
   */
  readonly failed: Promise<unknown>;
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

const CONNECTION_ID = /^connection\.(\d+)$/;

/**
 * The connection actors share the acceptor's actor system, and so its
 * inspector (XState attaches one per system): this lets through the
 * acceptor's own events and those of the first `count` connections, and
 * drops the rest, so that a thousand connections do not flood the inspector
 * page. The dropped events are still built: inspection has a cost per
 * connection, and is off unless asked for.
 */
function onlyFirstConnections(
  inspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void),
  count: number,
): Observer<InspectionEvent> {
  const next =
    typeof inspect === 'function' ? inspect : (event: InspectionEvent) => inspect.next?.(event);
  return {
    next(event) {
      const match = CONNECTION_ID.exec((event.actorRef as AnyActorRef).id);
      if (match === null || Number(match[1]) <= count) next(event);
    },
  };
}

/** Starts the server; resolves once it listens, or rejects with ERR_ADDRESS_IN_USE or ERR_LISTEN_FAILED. */
export async function startServer(settings: ServerSettings): Promise<RunningServer> {
  const log = settings.log ?? silentLogger;
  const stations = settings.stations ?? [{ station: DEFAULT_STATION, source: SIMULATED }];
  const [defaultStation] = stations;
  if (defaultStation === undefined)
    throw new MeteoError('ERR_BAD_VALUE', 'a server needs a station');
  for (const setup of stations) checkStation(setup.station);
  if (new Set(stations.map((setup) => setup.station.id)).size !== stations.length) {
    throw new MeteoError('ERR_BAD_VALUE', 'two stations have the same id');
  }
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
    station: stationInfo(defaultStation.station),
    stations: stations.map((setup) => stationInfo(setup.station)),
    units: UNITS,
  };
  const connections = new Map<number, ConnectionHandle>();
  const stats = new ServerStats();
  const metrics = settings.metricsPort === undefined ? undefined : createMetrics();
  metrics?.watchPool(sensors);
  const sinks = [settings.telemetry, metrics?.telemetry].filter((sink) => sink !== undefined);
  const telemetry = sinks.length > 0 ? teeTelemetry(stats, ...sinks) : stats;
  const inspectConnections = settings.inspectConnections ?? DEFAULTS.inspectConnections;
  const limits: ConnectionLimits = {
    handshakeTimeoutMs: settings.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    maxQueuedRequests: settings.maxQueuedRequests ?? DEFAULTS.maxQueuedRequests,
    maxOutputBytes: settings.maxOutputBytes ?? DEFAULTS.maxOutputBytes,
    writeTimeoutMs: settings.writeTimeoutMs ?? DEFAULTS.writeTimeoutMs,
  };

  /** The listening socket, while the listener runs. */
  let listeningSocket: Server | undefined;
  const logic = acceptorMachine.provide({
    actors: {
      listener: fromCallback<AcceptorEvent>(({ sendBack }) => {
        const server = createServer({ allowHalfOpen: true, noDelay: true });
        listeningSocket = server;
        let listening = false;
        server.on('connection', (socket) =>
          sendBack({ type: 'CONNECTION', transport: transport(socket, peerOf(socket)) }),
        );
        server.on('error', (err: NodeJS.ErrnoException) => {
          if (listening) {
            // An accept failed (out of file descriptors, say); the listener carries on.
            log.warn('accept failed', { code: err.code, error: describeError(err) });
            return;
          }
          sendBack({
            type: 'LISTEN_FAILED',
            code: err.code === 'EADDRINUSE' ? 'ERR_ADDRESS_IN_USE' : 'ERR_LISTEN_FAILED',
            message: `cannot listen on ${settings.host}:${settings.port}: ${err.code === 'EADDRINUSE' ? 'the address is in use' : err.message}`,
          });
        });
        server.listen({ host: settings.host, port: settings.port }, () => {
          listening = true;
          const address = server.address();
          if (address && typeof address === 'object') {
            sendBack({ type: 'LISTENING', address: address.address, port: address.port });
          }
        });
        return () => {
          server.close();
          listeningSocket = undefined;
        };
      }),
    },
    actions: {
      startConnection: ({ self }, { transport, connection }) => {
        try {
          const handle = startConnection({
            transport,
            number: connection,
            welcome,
            sensors,
            limits,
            log,
            telemetry,
            parent: self,
            onClosed: () => connections.delete(connection),
          });
          connections.set(connection, handle);
        } catch (err) {
          // No actor owns this socket: close it here, then let the fault fail the acceptor.
          transport.stream.destroy();
          throw err;
        }
      },
      refuseConnection: (_, { transport, code, message }) => {
        log.warn('connection refused', { peer: transport.peer, code });
        telemetry.connectionRejected(code);
        telemetry.errorSent(code);
        transport.stream.on('error', () => {});
        transport.stream.write(encodeMessage(errorReply(null, code, message)));
        closeGracefully(transport.stream);
      },
      shutdownConnections: () => {
        for (const connection of connections.values()) connection.shutdown();
      },
      abortConnections: () => {
        log.warn('drain deadline passed; closing open connections', { open: connections.size });
        for (const connection of connections.values()) connection.abort();
      },
    },
  });

  const actor = createActor(logic, {
    id: 'acceptor',
    input: {
      maxConnections: settings.maxConnections ?? DEFAULTS.maxConnections,
      drainTimeoutMs: settings.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
    },
    ...(settings.inspect
      ? { inspect: onlyFirstConnections(settings.inspect, inspectConnections) }
      : {}),
  });
  let reportFailure: (err: unknown) => void = () => {};
  const failed = new Promise<unknown>((resolve) => {
    reportFailure = resolve;
  });
  actor.subscribe({
    error: (err) => {
      log.error('acceptor failed', { code: 'ERR_INTERNAL', error: describeError(err) });
      // XState does not stop the children of an actor that fails: stop the
      // listener and close the connections here, so that no client waits on
      // a server that no longer serves it.
      listeningSocket?.close();
      listeningSocket = undefined;
      for (const connection of connections.values()) connection.abort();
      reportFailure(err);
    },
  });
  actor.start();

  let ready: ReturnType<typeof actor.getSnapshot>;
  try {
    ready = await waitFor(
      actor,
      (snapshot) => snapshot.context.listening !== null || snapshot.status !== 'active',
      {
        timeout: Number.POSITIVE_INFINITY,
      },
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

  const shutdown = async (): Promise<void> => {
    actor.send({ type: 'SHUTDOWN' });
    await waitFor(actor, (snapshot) => snapshot.status !== 'active', {
      timeout: Number.POSITIVE_INFINITY,
    });
    await sensors.close();
  };

  let metricsServer: MetricsServer | undefined;
  if (metrics && settings.metricsPort !== undefined) {
    try {
      metricsServer = await serveMetrics(metrics.registry, settings.host, settings.metricsPort);
    } catch (err) {
      await shutdown();
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      throw new MeteoError(
        inUse ? 'ERR_ADDRESS_IN_USE' : 'ERR_LISTEN_FAILED',
        `cannot serve metrics on ${settings.host}:${settings.metricsPort}: ${inUse ? 'the address is in use' : describeError(err)}`,
      );
    }
  }

  let stopping: Promise<void> | undefined;
  return {
    address,
    port,
    actor,
    sensors,
    stats: () => stats.snapshot(),
    metricsPort: metricsServer?.port ?? null,
    failed,
    stop() {
      stopping ??= (async () => {
        await shutdown();
        await metricsServer?.close();
      })();
      return stopping;
    },
  };
}
