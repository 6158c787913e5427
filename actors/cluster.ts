/**
 * `--cluster N`: a primary process and N server processes that share the
 * listening port through node:cluster (issue #15). Each server process runs
 * its own acceptor, supervisor, connection actors and sensor pool; the
 * primary serves none of the protocol. It supervises them, as Erlang/OTP's
 * supervisors and systemd do:
 *
 * - a process that dies while serving is started again after a backoff, and
 *   the others serve on meanwhile;
 * - a process that dies in a loop (`CRASH_LOOP_EXITS` exits within
 *   `CRASH_LOOP_WINDOW_MS`) stops the whole server with status 1 and a log
 *   line that says why: restarting it again would only hide the fault;
 * - a process that fails before it ever listened (its port taken, a bad
 *   file) stops the whole server with that process's status: no restart can
 *   mend a start-up failure;
 * - asked to stop, it asks every process to stop the same way (retire behind
 *   a balancer, or drain at once), waits for them, and exits 0 when all did.
 *
 * It serves the HTTP port for the whole server: /metrics adds up every
 * process's figures (prom-client's AggregatorRegistry), /readyz answers 200
 * while at least one process takes connections and the server is not
 * stopping, /healthz 200. The primary talks to its processes by IPC
 * messages, never by signals: a Ctrl-C in a terminal already reaches every
 * process of the group, and a second SIGINT means "exit now" to a server.
 */
import cluster, { type Worker } from 'node:cluster';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../lib/log.js';
import { type HttpServer, livenessRoute, type Route, readinessRoute, serveHttp } from './http.js';
import { clusterMetricsRoute } from './metrics.js';

/** Exits of serving processes within the window that make a crash loop. */
export const CRASH_LOOP_EXITS = 5;
export const CRASH_LOOP_WINDOW_MS = 60_000;
/** The first restart waits this long; each exit within the window doubles it, up to the cap. */
const RESTART_BACKOFF_MS = 250;
const RESTART_BACKOFF_MAX_MS = 10_000;

/** What the primary tells a server process. */
export type PrimaryMessage =
  | { readonly type: 'meteo:stop'; readonly how: 'retire' | 'stop' }
  /** Read the TLS and auth files again (the primary got SIGHUP). */
  | { readonly type: 'meteo:reload' };

/** What a server process tells the primary. */
export type WorkerMessage =
  | { readonly type: 'meteo:listening'; readonly address: string; readonly port: number }
  | { readonly type: 'meteo:readiness'; readonly ready: boolean };

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'meteo:stop' || type === 'meteo:reload';
}

function isWorkerMessage(message: unknown): message is WorkerMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'meteo:listening' || type === 'meteo:readiness';
}

/**
 * The share of `--max-connections` that server process `index` (0-based) of
 * `processes` enforces: the limit is the whole server's, split so that the
 * shares add up to it exactly. The kernel or the primary hands each process
 * its connections in turn, so the shares fill alike.
 */
export function connectionShare(maxConnections: number, processes: number, index: number): number {
  const base = Math.floor(maxConnections / processes);
  return base + (index < maxConnections % processes ? 1 : 0);
}

export interface PrimaryOptions {
  readonly processes: number;
  /** How long to wait for the processes to stop once asked, before killing them. */
  readonly stopTimeoutMs: number;
  /** Serve /metrics, /healthz and /readyz on this port of `host` (0 picks one); none when absent. */
  readonly httpPort?: number;
  readonly host: string;
  readonly log: Logger;
}

export interface RunningPrimary {
  /** Resolves once every process listens, with where; rejects if the server ended first. */
  readonly listening: Promise<{ readonly address: string; readonly port: number }>;
  /** Where the HTTP port is served, when it is. */
  readonly httpPort: number | null;
  /** Asks every process to stop (`retire` behind a balancer, or `stop` at once); resolves with the exit status. */
  stop(how: 'retire' | 'stop'): Promise<number>;
  /** Asks every process to read its TLS and auth files again. */
  reload(): void;
  /** Resolves with the exit status once the server has stopped, whatever stopped it. */
  readonly ended: Promise<number>;
}

/** Starts `processes` server processes of the current program and supervises them. */
export async function startPrimary(options: PrimaryOptions): Promise<RunningPrimary> {
  const { log } = options;
  /** Per process: its index (its share and its name survive a restart), and what it said. */
  const index = new Map<number, number>();
  const listeningAt = new Map<number, { address: string; port: number }>();
  const readiness = new Map<number, boolean>();
  const everListened = new Set<number>();
  const exits: number[] = [];
  let stopping: Promise<number> | undefined;
  let endWith: (status: number) => void = () => {};
  const ended = new Promise<number>((resolve) => {
    endWith = resolve;
  });

  const registry = new Registry();
  new Gauge({
    name: 'meteo_cluster_processes',
    help: 'Server processes running now (--cluster).',
    registers: [registry],
    collect() {
      this.set(running().length);
    },
  });
  const restarts = new Counter({
    name: 'meteo_cluster_restarts_total',
    help: 'Server processes started again after one died (--cluster).',
    registers: [registry],
  });

  const running = (): Worker[] =>
    Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);

  const fork = (at: number): void => {
    const worker = cluster.fork({ METEO_CLUSTER_INDEX: String(at) });
    index.set(worker.id, at);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'meteo:listening') {
        everListened.add(at);
        listeningAt.set(worker.id, { address: message.address, port: message.port });
      } else {
        readiness.set(worker.id, message.ready);
      }
    });
  };

  /** Stops every process; the status is `failure` when a fault stops the server, else theirs. */
  const stop = (how: 'retire' | 'stop', failure?: number): Promise<number> => {
    stopping ??= (async () => {
      const statuses = running().map(
        (worker) =>
          new Promise<number>((resolve) => {
            const timer = setTimeout(() => {
              log.warn('a server process did not stop in time; killing it', {
                process: index.get(worker.id),
              });
              worker.process.kill('SIGKILL');
            }, options.stopTimeoutMs);
            worker.once('exit', (code) => {
              clearTimeout(timer);
              resolve(code ?? 1);
            });
            if (worker.isConnected()) {
              worker.send({ type: 'meteo:stop', how } satisfies PrimaryMessage);
            }
          }),
      );
      const codes = await Promise.all(statuses);
      const status = failure ?? (codes.every((code) => code === 0) ? 0 : 1);
      await http?.close();
      endWith(status);
      return status;
    })();
    return stopping;
  };

  cluster.on('exit', (worker, code, signal) => {
    const at = index.get(worker.id) ?? 0;
    index.delete(worker.id);
    listeningAt.delete(worker.id);
    readiness.delete(worker.id);
    if (stopping) return;
    if (!everListened.has(at)) {
      // It never served: a start-up failure that a restart cannot mend.
      log.error('a server process could not start; stopping the server', {
        process: at,
        exit: code ?? signal ?? null,
      });
      void stop('stop', code === 2 ? 2 : 1);
      return;
    }
    const now = Date.now();
    exits.push(now);
    while (exits.length > 0 && (exits[0] as number) < now - CRASH_LOOP_WINDOW_MS) exits.shift();
    if (exits.length >= CRASH_LOOP_EXITS) {
      log.error('server processes die in a loop; stopping the server', {
        code: 'ERR_CRASH_LOOP',
        exits: exits.length,
        withinMs: CRASH_LOOP_WINDOW_MS,
        lastExit: code ?? signal ?? null,
      });
      void stop('stop', 1);
      return;
    }
    const delayMs = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MS * 2 ** (exits.length - 1));
    log.warn('a server process died; starting another', {
      process: at,
      exit: code ?? signal ?? null,
      restartInMs: delayMs,
    });
    setTimeout(() => {
      if (stopping) return;
      restarts.inc();
      fork(at);
    }, delayMs).unref();
  });

  const routes: Record<string, Route> = {
    '/metrics': clusterMetricsRoute(registry),
    '/healthz': livenessRoute(),
    '/readyz': readinessRoute(() =>
      stopping === undefined && [...readiness.values()].some((ready) => ready)
        ? { ready: true }
        : { ready: false, reason: stopping === undefined ? 'no-ready-process' : 'stopping' },
    ),
  };
  const http: HttpServer | undefined =
    options.httpPort === undefined
      ? undefined
      : await serveHttp({ host: options.host, port: options.httpPort, routes });

  for (let at = 0; at < options.processes; at++) fork(at);

  const listening = new Promise<{ address: string; port: number }>((resolve, reject) => {
    const check = setInterval(() => {
      if (everListened.size === options.processes) {
        clearInterval(check);
        const [first] = listeningAt.values();
        if (first) resolve(first);
      }
    }, 20);
    void ended.then((status) => {
      clearInterval(check);
      reject(new Error(`the server stopped before it listened (status ${status})`));
    });
  });

  return {
    listening,
    httpPort: http?.port ?? null,
    stop: (how) => stop(how),
    reload: () => {
      for (const worker of running()) {
        if (worker.isConnected()) worker.send({ type: 'meteo:reload' } satisfies PrimaryMessage);
      }
    },
    ended,
  };
}

/**
 * In a server process: tells the primary where it listens and, from then on,
 * whenever it changes, whether it takes connections (its /readyz).
 */
export function reportToPrimary(
  listening: { readonly address: string; readonly port: number },
  ready: () => boolean,
  changes: { subscribe(listener: () => void): unknown },
): void {
  const send = (message: WorkerMessage): void => {
    if (process.connected) process.send?.(message);
  };
  send({ type: 'meteo:listening', address: listening.address, port: listening.port });
  let last: boolean | undefined;
  const report = (): void => {
    const now = ready();
    if (now === last) return;
    last = now;
    send({ type: 'meteo:readiness', ready: now });
  };
  report();
  changes.subscribe(report);
  // A pool that loses its last worker changes readiness without an acceptor event.
  setInterval(report, 1_000).unref();
}
