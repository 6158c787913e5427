#!/usr/bin/env node
/**
 * `npm start -- [options]` (or `meteo-server`): the weather-station server. Thin: options in,
 * server up, signals handled, one readable line on any failure.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import {
  describeOptions,
  httpPortOf,
  SERVER_OPTIONS,
  type ServerSecurity,
  serverSecurityOf,
} from '../../lib/config.js';
import { describeError, MeteoError } from '../../lib/errors.js';
import type { LogLevel } from '../../lib/log.js';
import { resolveStations, type StationSetup } from '../../lib/sensors/sources.js';
import { connectionShare, isPrimaryMessage, reportToPrimary } from '../cluster.js';
import { httpUrl, isLoopbackHost } from '../http.js';
import type { Inspection } from '../inspect.js';
import { createPinoLogger } from '../log.js';
import { type RunningServer, startServer } from '../server.js';
import { runPrimary } from './primary.js';
import {
  armTestFault,
  commandLine,
  isBrokenPipe,
  lineSink,
  onEscapedFault,
  runProgram,
  settleWithin,
  USAGE_ERROR,
} from './program.js';
import { startWatching } from './watch.js';

const USAGE = `Usage: npm start -- [options]

Serves minimum and maximum temperature, pressure and rainfall from a simulated
weather station over TCP (docs/PROTOCOL.md).

Options:
${describeOptions(SERVER_OPTIONS)}`;

const PROGRAM = 'meteo-server';

/** Start-up failures that are a bad value given by the user: status 2. */
const USAGE_CODES: readonly string[] = ['ERR_BAD_TLS_FILE', 'ERR_BAD_AUTH_FILE'];

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, SERVER_OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  const {
    inspect,
    inspectPort,
    trace,
    logLevel,
    httpPort: httpPortFlag,
    metricsPort,
    stations,
    source,
    replaySpeed,
    tlsCert,
    tlsKey,
    tlsCa,
    authFile,
    cluster: clusterFlag,
    ...settings
  } = options;
  // Nobody is left to tell when stderr itself fails: its lines are dropped.
  const news = lineSink(process.stderr);
  const processes = clusterFlag === 0 ? availableParallelism() : clusterFlag;
  /** This is one server process of a --cluster: its index among them. */
  const worker = cluster.isWorker
    ? { index: Number(process.env['METEO_CLUSTER_INDEX'] ?? 0), processes }
    : undefined;
  let setups: StationSetup[];
  let httpPort: number;
  let security: ServerSecurity;
  try {
    if (processes > 1 && (inspect || trace)) {
      throw new MeteoError(
        'ERR_BAD_FLAG',
        '--inspect and --trace watch the actors of one process; they cannot be used with --cluster',
      );
    }
    // --metrics-port is the former name of --http-port (README, "The server").
    httpPort = httpPortOf({ httpPort: httpPortFlag, metricsPort });
    security = serverSecurityOf({ tlsCert, tlsKey, tlsCa, authFile });
    setups = resolveStations(
      { stations, source, speed: replaySpeed },
      { readFile: (path) => readFileSync(path, 'utf8'), now: Date.now },
    );
  } catch (err) {
    news.write(`${PROGRAM}: ${describeError(err)}`);
    return USAGE_ERROR;
  }
  // A server whose log cannot be written (`| head` has gone, the disk is
  // full) says so once and serves on: its clients need it more than its log.
  const log = createPinoLogger({
    level: logLevel as LogLevel,
    onFailure: (err) =>
      news.write(
        `${PROGRAM}: ${isBrokenPipe(err) ? 'the log has no reader any more' : `cannot write the log: ${describeError(err)}`}; serving on without it`,
      ),
    // Under --cluster every line says which server process wrote it.
    ...(worker ? { base: { process: worker.index } } : {}),
  });
  if (processes > 1 && cluster.isPrimary) {
    return runPrimary({
      log,
      news,
      processes,
      threads: settings.threads,
      host: settings.host,
      httpPort,
      stopTimeoutMs: settings.readyGraceMs + settings.drainTimeoutMs + 5_000,
    });
  }
  let inspection: Inspection | undefined;
  let server: RunningServer | undefined;
  // Faults inside connections are caught by their actors. Anything else is a
  // bug: logged with its stack, the server drains for at most the drain
  // timeout, and exits 1 for a supervisor to restart it (issue #11 item 6).
  onEscapedFault((what, err) => {
    log.error(what, {
      code: 'ERR_INTERNAL',
      error: describeError(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    void (async () => {
      try {
        const running = server;
        if (running) await settleWithin(running.stop(), settings.drainTimeoutMs);
        await inspection?.stop();
      } finally {
        log.error('stopped after a crash', { code: 'ERR_INTERNAL' });
        process.exit(1);
      }
    })();
  });

  const watching = await startWatching(
    { program: 'server', inspect, inspectPort, host: settings.host, trace },
    news,
  );
  if (typeof watching === 'number') return watching;
  const { observe } = watching;
  inspection = watching.inspection;
  if (inspection) {
    log.info(`inspector: open ${inspection.url} in a browser`, {
      url: inspection.url,
      relay: inspection.startedRelay ? 'started' : 'joined',
      connections: settings.inspectConnections,
    });
  }

  try {
    server = await startServer({
      ...settings,
      stations: setups,
      log,
      ...(observe ? { inspect: observe } : {}),
      ...security,
      // A process of a --cluster enforces its share of the limit and hands its
      // metrics to the primary, which serves the HTTP port for all of them.
      ...(worker
        ? {
            maxConnections: connectionShare(settings.maxConnections, processes, worker.index),
            shareMetrics: true,
          }
        : httpPort > 0
          ? { httpPort }
          : {}),
    });
  } catch (err) {
    await inspection?.stop();
    news.write(`${PROGRAM}: ${describeError(err)}`);
    // A TLS or auth file that cannot be used is a bad value, as a bad flag is (issue #14).
    return err instanceof MeteoError && USAGE_CODES.includes(err.code) ? USAGE_ERROR : 1;
  }
  const running = server;
  // SIGHUP reloads the certificate and the auth file (issue #14): renewal needs no restart.
  const reload = (): void => {
    try {
      const { certificate, clients, revoked } = running.reload();
      log.info('reloaded', {
        ...(certificate ? { certificate: certificate.subject, validTo: certificate.validTo } : {}),
        ...(clients === null ? {} : { clients, revoked }),
      });
    } catch (err) {
      log.error('reload failed; serving on as before', {
        code: err instanceof MeteoError ? err.code : 'ERR_INTERNAL',
        error: describeError(err),
      });
    }
  };
  process.on('SIGHUP', reload);
  // Heard before the server says it listens: whoever reads that line may signal at once, and a
  // signal with no listener yet would kill the process where it stands, with no drain.
  const stopAsked = new Promise<{ signal: NodeJS.Signals }>((resolve) => {
    process.once('SIGINT', (signal) => resolve({ signal }));
    process.once('SIGTERM', (signal) => resolve({ signal }));
    // Under --cluster the primary asks by message what a signal asks of a lone server.
    process.on('message', (message) => {
      if (!isPrimaryMessage(message)) return;
      if (message.type === 'meteo:reload') reload();
      else resolve({ signal: message.how === 'retire' ? 'SIGTERM' : 'SIGINT' });
    });
  });

  const page = running.httpPort === null ? null : httpUrl(settings.host, running.httpPort);
  log.info(
    `listening on ${running.address}:${running.port}${page === null ? '' : `; live view at ${page}`}`,
    {
      address: running.address,
      port: running.port,
      threads: settings.threads,
      seed: settings.seed,
      stations: setups.map((setup) => setup.station.id).join(','),
      source,
      tls: running.secure,
      auth: security.authFile !== undefined,
      ...(page === null ? {} : { view: page, metrics: `${page}metrics` }),
    },
  );
  if (page !== null && !isLoopbackHost(settings.host)) {
    // The HTTP port takes no credentials (--auth-file guards the station's port only): say so where the operator looks.
    log.warn('the live view and /metrics are open to the network, with no authentication', {
      host: settings.host,
      url: page,
    });
  }
  armTestFault(process.env);
  if (worker) {
    reportToPrimary(
      { address: running.address, port: running.port },
      () => running.readiness().ready,
      running.actor,
    );
  }

  const stopped = await Promise.race([stopAsked, running.failed.then((error) => ({ error }))]);
  if ('error' in stopped) {
    // The acceptor has logged its fault and closed its connections; a
    // supervisor (systemd, a container runtime) can start the server again.
    await running.stop();
    await inspection?.stop();
    log.error('stopped after a fault', { code: 'ERR_INTERNAL' });
    return 1;
  }
  const { signal } = stopped;
  // A second interrupt while draining means "now".
  process.once('SIGINT', () => {
    log.warn('second interrupt; exiting at once');
    process.exit(130);
  });
  log.info('shutting down', { signal });
  // SIGTERM is how a supervisor or a load balancer's host stops a server: say "not ready"
  // for the ready grace first. Ctrl-C is a person who wants it stopped now.
  await (signal === 'SIGTERM' ? running.retire() : running.stop());
  await inspection?.stop();
  log.info('stopped');
  return 0;
}

runProgram(PROGRAM, main);
