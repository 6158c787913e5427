/**
 * The server program as the primary of a `--cluster` (actors/cluster.ts):
 * it starts the server processes, says where they listen, serves the HTTP
 * port for all of them, and stops them on a signal. Thin, as the programs are.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from '../../lib/log.js';
import { startPrimary } from '../cluster.js';
import { httpUrl } from '../http.js';
import type { LineSink } from './program.js';

export interface PrimaryProgramOptions {
  readonly log: Logger;
  readonly news: LineSink;
  readonly processes: number;
  /** Pool threads per server process. */
  readonly threads: number;
  readonly host: string;
  /** The HTTP port (/metrics, /healthz, /readyz); 0 for none. */
  readonly httpPort: number;
  /** How long the processes get to stop once asked, before they are killed. */
  readonly stopTimeoutMs: number;
}

/** Runs the primary until the server stops; resolves with the exit status. */
export async function runPrimary(options: PrimaryProgramOptions): Promise<number> {
  const { log, processes, threads, host } = options;
  const cores = availableParallelism();
  if (processes * (threads + 1) > cores) {
    // Each process has its main thread and its pool: more than the cores, and they take turns.
    log.warn('more threads than cores', { processes, threadsPerProcess: threads + 1, cores });
  }
  let primary: Awaited<ReturnType<typeof startPrimary>>;
  try {
    primary = await startPrimary({
      processes,
      host,
      stopTimeoutMs: options.stopTimeoutMs,
      log,
      ...(options.httpPort > 0 ? { httpPort: options.httpPort } : {}),
    });
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    options.news.write(
      `meteo-server: ${inUse ? 'ERR_ADDRESS_IN_USE' : 'ERR_LISTEN_FAILED'}: cannot serve HTTP on ${host}:${options.httpPort}${inUse ? ': the address is in use' : ''}`,
    );
    return 1;
  }

  let address: { readonly address: string; readonly port: number };
  try {
    address = await primary.listening;
  } catch {
    // A process could not start; it has said why, and the primary stopped the rest.
    return primary.ended;
  }
  process.on('SIGHUP', () => primary.reload());
  // Heard before the primary says it listens: whoever reads that line may signal at once, and a
  // signal with no listener yet would kill the primary where it stands, leaving its processes.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const page = primary.httpPort === null ? null : httpUrl(host, primary.httpPort);
  log.info(`listening on ${address.address}:${address.port}; ${processes} server processes`, {
    address: address.address,
    port: address.port,
    processes,
    threads,
    ...(page === null ? {} : { metrics: `${page}metrics` }),
  });

  const signal = await Promise.race([signalled, primary.ended.then(() => undefined)]);
  if (signal !== undefined) {
    process.once('SIGINT', () => {
      log.warn('second interrupt; exiting at once');
      process.exit(130);
    });
    log.info('shutting down', { signal, processes });
    // As a lone server: SIGTERM retires behind a balancer, Ctrl-C drains at once.
    void primary.stop(signal === 'SIGTERM' ? 'retire' : 'stop');
  }
  const status = await primary.ended;
  log.info('stopped', { status });
  return status;
}
