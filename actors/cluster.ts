/**
 * `--cluster N`: a primary process and N server processes that share the
 * listening port through node:cluster (issue #15). Each server process runs
 * its own acceptor, supervisor, connection actors and sensor pool; the
 * primary only supervises them, as Erlang/OTP's supervisors and systemd do:
 *
 * - a process that dies is started again after a backoff, and the others
 *   serve on meanwhile;
 * - a process that dies in a loop (`CRASH_LOOP_EXITS` exits within
 *   `CRASH_LOOP_WINDOW_MS`) stops the whole server with status 1 and a log
 *   line that says why: restarting it again would only hide the fault;
 * - asked to stop, it asks every process to stop the same way (retire, or
 *   drain at once), waits for them, and exits 0 when all of them did.
 *
 * The primary talks to its processes by IPC messages, never by signals: a
 * Ctrl-C in a terminal reaches every process of the group already, and a
 * second SIGINT means "exit now" to a server.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../lib/log.js';

/** Exits within the window that make a crash loop. */
export const CRASH_LOOP_EXITS = 5;
export const CRASH_LOOP_WINDOW_MS = 60_000;
/** The first restart waits this long; each exit within the window doubles it, up to the cap. */
const RESTART_BACKOFF_MS = 250;
const RESTART_BACKOFF_MAX_MS = 10_000;

/** What the primary tells a server process. */
export type PrimaryMessage = { readonly type: 'meteo:stop'; readonly how: 'retire' | 'stop' };

/** What a server process tells the primary. */
export type WorkerMessage =
  | { readonly type: 'meteo:listening'; readonly port: number }
  | { readonly type: 'meteo:readiness'; readonly ready: boolean };

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'meteo:stop'
  );
}

function isWorkerMessage(message: unknown): message is WorkerMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'meteo:listening' || type === 'meteo:readiness';
}

/**
 * The share of `--max-connections` server process `index` (0-based) of
 * `processes` enforces: the limit is the whole server's, split so that the
 * shares add up to it exactly.
 */
export function connectionShare(maxConnections: number, processes: number, index: number): number {
  const base = Math.floor(maxConnections / processes);
  return base + (index < maxConnections % processes ? 1 : 0);
}

export interface PrimaryOptions {
  readonly processes: number;
  /** Environment each server process gets, besides the primary's own and its index. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for the processes to stop once asked, before killing them. */
  readonly stopTimeoutMs: number;
  readonly log: Logger;
}

export interface RunningPrimary {
  /** Resolves with the port the processes listen on, once the first one does. */
  readonly listening: Promise<number>;
  /** Whether at least one process takes new connections and the primary is not stopping (/readyz). */
  ready(): boolean;
  /** The server processes running now. */
  workers(): Worker[];
  /** Asks every process to stop (`retire` behind a balancer, or `stop` at once); resolves with the exit status. */
  stop(how: 'retire' | 'stop'): Promise<number>;
  /** Resolves with the exit status when the cluster ends on its own (a crash loop). */
  readonly ended: Promise<number>;
}

/** Index of each server process, by worker id, so a restart keeps its share and its name. */
const indexOf = new Map<number, number>();

/** Starts `processes` server processes of the current program and supervises them. */
export function startPrimary(options: PrimaryOptions): RunningPrimary {
  const { log } = options;
  const exits: number[] = [];
  const readiness = new Map<number, boolean>();
  let stopping = false;
  let resolveListening: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve) => {
    resolveListening = resolve;
  });
  let end: (status: number) => void = () => {};
  const ended = new Promise<number>((resolve) => {
    end = resolve;
  });

  const fork = (index: number): void => {
    const worker = cluster.fork({ ...options.env, METEO_CLUSTER_INDEX: String(index) });
    indexOf.set(worker.id, index);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'meteo:listening') resolveListening(message.port);
      else readiness.set(worker.id, message.ready);
    });
  };

  const stopAll = async (how: 'retire' | 'stop'): Promise<number> => {
    stopping = true;
    const running = Object.values(cluster.workers ?? {}).filter(
      (worker): worker is Worker => worker !== undefined,
    );
    const statuses = running.map(
      (worker) =>
        new Promise<number>((resolve) => {
          if (worker.isDead()) {
            resolve(worker.process.exitCode ?? 1);
            return;
          }
          const timer = setTimeout(() => {
            log.warn('a server process did not stop in time; killing it', {
              process: indexOf.get(worker.id),
            });
            worker.process.kill('SIGKILL');
          }, options.stopTimeoutMs);
          worker.once('exit', (code) => {
            clearTimeout(timer);
            resolve(code ?? 1);
          });
          if (worker.isConnected())
            worker.send({ type: 'meteo:stop', how } satisfies PrimaryMessage);
        }),
    );
    const codes = await Promise.all(statuses);
    return codes.every((code) => code === 0) ? 0 : 1;
  };

  cluster.on('exit', (worker, code, signal) => {
    readiness.delete(worker.id);
    const index = indexOf.get(worker.id) ?? 0;
    indexOf.delete(worker.id);
    if (stopping) return;
    const now = Date.now();
    exits.push(now);
    while (exits.length > 0 && (exits[0] as number) < now - CRASH_LOOP_WINDOW_MS) exits.shift();
    if (exits.length >= CRASH_LOOP_EXITS) {
      log.error('server processes crash in a loop; stopping the server', {
        code: 'ERR_CRASH_LOOP',
        exits: exits.length,
        withinMs: CRASH_LOOP_WINDOW_MS,
        lastExit: code ?? signal ?? null,
      });
      void stopAll('stop').then(() => end(1));
      return;
    }
    const delayMs = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MS * 2 ** (exits.length - 1));
    log.warn('a server process died; starting another', {
      process: index,
      exit: code ?? signal ?? null,
      restartInMs: delayMs,
    });
    setTimeout(() => {
      if (!stopping) fork(index);
    }, delayMs).unref();
  });

  for (let index = 0; index < options.processes; index++) fork(index);

  return {
    listening,
    ended,
    ready: () => !stopping && [...readiness.values()].some((ready) => ready),
    workers: () =>
      Object.values(cluster.workers ?? {}).filter(
        (worker): worker is Worker => worker !== undefined,
      ),
    stop: stopAll,
  };
}
