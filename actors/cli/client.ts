/**
 * `npm run client -- [options]`: polls the station and prints the readings.
 * Thin: options in, client actors up, one readable line on any failure.
 */
import { CLIENT_OPTIONS, describeOptions } from '../../lib/config.js';
import { describeError } from '../../lib/errors.js';
import { runClient } from '../client.js';
import { type Inspection, startInspection } from '../inspect.js';
import { commandLine, reportEscapedFaults, runProgram } from './program.js';

const USAGE = `Usage: npm run client -- [options]

Connects to a meteo-actors server, checks it with the handshake, then polls
minimum and maximum temperature, pressure and rainfall on a fixed period.
Readings go to stdout; connection news and problems go to stderr.

Options:
${describeOptions(CLIENT_OPTIONS)}`;

const PROGRAM = 'meteo-client';

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, CLIENT_OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  reportEscapedFaults((what, err) =>
    process.stderr.write(`${PROGRAM}: ${what}: ${describeError(err)}\n`),
  );
  const { inspect, inspectPort, ...settings } = options;
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

runProgram(PROGRAM, main);
