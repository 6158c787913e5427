/**
 * `npm run client -- [options]`: polls the station and prints the readings.
 * Thin: options in, client actors up, one readable line on any failure.
 */
import { CLIENT_OPTIONS, describeOptions, resolveOptions } from '../../lib/config.js';
import { describeError } from '../../lib/errors.js';
import { runClient } from '../client.js';
import { type Inspection, startInspection } from '../inspect.js';

const USAGE = `Usage: npm run client -- [options]

Connects to a meteo-actors server, checks it with the handshake, then polls
minimum and maximum temperature, pressure and rainfall on a fixed period.
Readings go to stdout; connection news and problems go to stderr.

Options:
${describeOptions(CLIENT_OPTIONS)}`;

const PROGRAM = 'meteo-client';

async function main(): Promise<number> {
  let resolution: ReturnType<typeof resolveOptions<typeof CLIENT_OPTIONS>>;
  try {
    resolution = resolveOptions(CLIENT_OPTIONS, process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${describeError(err)} (try --help)\n`);
    return 2;
  }
  if (resolution.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // Logged, never silent; the connections' actors carry on.
  process.on('unhandledRejection', (reason) =>
    process.stderr.write(`${PROGRAM}: unhandled rejection: ${describeError(reason)}\n`),
  );
  process.on('uncaughtException', (err) =>
    process.stderr.write(`${PROGRAM}: uncaught exception: ${describeError(err)}\n`),
  );
  const { inspect, inspectPort, ...settings } = resolution.options;
  let inspection: Inspection | undefined;
  if (inspect) {
    inspection = await startInspection(inspectPort);
    process.stderr.write(`inspector: open ${inspection.url} in a browser\n`);
  }
  const client = runClient(
    { ...settings, ...(inspection ? { inspect: inspection.observer } : {}) },
    {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    },
  );
  const stop = (): void => client.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const code = await client.finished;
  inspection?.stop();
  return code;
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
