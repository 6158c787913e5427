/**
 * `npm start -- [options]`: the weather-station server. Thin: options in,
 * server up, signals handled, one readable line on any failure.
 */
import { describeOptions, resolveOptions, SERVER_OPTIONS } from '../../lib/config.js';
import { describeError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { startServer } from '../acceptor.js';

const USAGE = `Usage: npm start -- [options]

Serves minimum and maximum temperature, pressure and rainfall from a simulated
weather station over TCP (docs/PROTOCOL.md).

Options:
${describeOptions(SERVER_OPTIONS)}`;

const PROGRAM = 'meteo-server';

async function main(): Promise<number> {
  let resolution: ReturnType<typeof resolveOptions<typeof SERVER_OPTIONS>>;
  try {
    resolution = resolveOptions(SERVER_OPTIONS, process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${describeError(err)} (try --help)\n`);
    return 2;
  }
  if (resolution.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { options } = resolution;
  const log = createLogger((line) => process.stdout.write(`${line}\n`));
  process.on('unhandledRejection', (reason) =>
    log.error('unhandled rejection', { error: describeError(reason) }),
  );

  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ ...options, log });
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${describeError(err)}\n`);
    return 1;
  }
  log.info('listening', {
    address: server.address,
    port: server.port,
    threads: options.threads,
    seed: options.seed,
  });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // A second interrupt while draining means "now".
  process.once('SIGINT', () => {
    log.warn('second interrupt; exiting at once');
    process.exit(130);
  });
  log.info('shutting down', { signal });
  await server.stop();
  log.info('stopped');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${PROGRAM}: internal error: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
