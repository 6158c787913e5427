#!/usr/bin/env node
/**
 * `npm run client -- [options]` (or `meteo-client`): polls the station and
 * prints the readings; `get READING...` asks once. Thin: options in, client
 * actors up, one readable line on any failure.
 */
import { readFileSync } from 'node:fs';
import {
  CLIENT_OPTIONS,
  type ClientSecurity,
  clientCommand,
  clientSecurityOf,
  describeOptions,
  SECRET_VARIABLE,
} from '../../lib/config.js';
import { describeError, MeteoError } from '../../lib/errors.js';
import type { Credential } from '../../lib/protocol.js';
import { parseAuthFile } from '../auth.js';
import { queryOnce, runClient, type ServerTarget } from '../client.js';
import { relayHostFor } from '../inspect.js';
import { loadClientTls } from '../tls.js';
import {
  armTestFault,
  commandLineWithArgs,
  isBrokenPipe,
  lineSink,
  onEscapedFault,
  runProgram,
  USAGE_ERROR,
} from './program.js';
import { startWatching } from './watch.js';

const USAGE = `Usage: npm run client -- [options]
       npm run client -- get READING... [options]

Connects to a meteo-actors server, checks it with the handshake, then polls
minimum and maximum temperature, pressure and rainfall on a fixed period.
Readings go to stdout; connection news and problems go to stderr.

With get, asks once and prints each reading named, one a line, and exits:
0 when it has them all, 1 otherwise. READING is min, max, pressure, rain
(or minTemperature, maxTemperature, rainfall), or all.

Options:
${describeOptions(CLIENT_OPTIONS)}`;

const PROGRAM = 'meteo-client';

/**
 * The TLS options and the credential the flags ask for, read from their
 * files: ERR_BAD_TLS_FILE or ERR_BAD_AUTH_FILE when one cannot be used.
 */
function readSecurity(
  security: ClientSecurity,
  env: Readonly<Record<string, string | undefined>>,
): Pick<ServerTarget, 'tls' | 'credential'> {
  const tls = security.tls ? loadClientTls(security.tls) : undefined;
  let credential: Credential | undefined;
  if (security.credential) {
    const { client, authFile } = security.credential;
    let secret = env[SECRET_VARIABLE] ?? '';
    if (authFile !== undefined) {
      let text: string;
      try {
        text = readFileSync(authFile, 'utf8');
      } catch (err) {
        throw new MeteoError(
          'ERR_BAD_AUTH_FILE',
          `cannot read the auth file ${authFile}: ${describeError(err)}`,
        );
      }
      const entry = parseAuthFile(text, authFile).find((line) => line.client === client);
      if (entry === undefined) {
        throw new MeteoError('ERR_BAD_AUTH_FILE', `${authFile} has no line for ${client}`);
      }
      secret = entry.secret;
    }
    credential = { name: client, secret };
  }
  return { ...(tls ? { tls } : {}), ...(credential ? { credential } : {}) };
}

async function main(): Promise<number> {
  const line = commandLineWithArgs(PROGRAM, CLIENT_OPTIONS, USAGE);
  if (typeof line === 'number') return line;
  const { options, args } = line;
  // Nobody is left to tell when stderr itself fails: its lines are dropped.
  const news = lineSink(process.stderr);
  let command: ReturnType<typeof clientCommand>;
  let security: ClientSecurity;
  try {
    command = clientCommand(args, options.raw);
    security = clientSecurityOf(options, process.env);
  } catch (err) {
    news.write(`${PROGRAM}: ${describeError(err)} (try --help)`);
    return USAGE_ERROR;
  }
  let target: Pick<ServerTarget, 'tls' | 'credential'>;
  try {
    target = readSecurity(security, process.env);
  } catch (err) {
    news.write(`${PROGRAM}: ${describeError(err)}`);
    return USAGE_ERROR;
  }
  let stopClient = (): void => {};
  // Readings go to stdout. When its reader has gone (`| head`), the client
  // stops polling and exits 0, as Unix tools do; any other failure to write
  // them is an error.
  const readings = lineSink(process.stdout, (err) => {
    if (!isBrokenPipe(err))
      news.write(`${PROGRAM}: cannot write the readings: ${describeError(err)}`);
    stopClient();
  });
  // A fault that escaped every handler is a bug: one line, and status 1. A
  // reader that has gone is not one (see above), however it reached here.
  onEscapedFault((what, err) => {
    if (isBrokenPipe(err)) process.exit(0);
    news.write(`${PROGRAM}: ${what}: ${describeError(err)}`);
    process.exit(1);
  });
  const {
    inspect,
    inspectPort,
    trace,
    raw,
    tls: _tls,
    ca: _ca,
    cert: _cert,
    key: _key,
    servername: _servername,
    insecureSkipVerify: _insecureSkipVerify,
    authFile: _authFile,
    name: _name,
    ...rest
  } = options;
  const settings = { ...rest, ...target };
  const watching = await startWatching(
    { program: 'client', inspect, inspectPort, host: relayHostFor(settings.host), trace },
    news,
  );
  if (typeof watching === 'number') return watching;
  const { observe, inspection } = watching;
  if (inspection) news.write(`inspector: open ${inspection.url} in a browser`);
  let code: number;
  if (command.kind === 'get') {
    code = await queryOnce(
      {
        ...settings,
        readings: command.readings,
        all: command.all,
        raw,
        ...(observe ? { inspect: observe } : {}),
      },
      { out: readings.write, err: (problem) => news.write(`${PROGRAM}: ${problem}`) },
    );
  } else {
    const client = runClient(
      { ...settings, ...(observe ? { inspect: observe } : {}) },
      { out: readings.write, err: news.write },
    );
    stopClient = () => client.stop();
    armTestFault(process.env);
    process.once('SIGINT', stopClient);
    process.once('SIGTERM', stopClient);
    code = await client.finished;
  }
  await inspection?.stop();
  if (readings.failure !== null) return isBrokenPipe(readings.failure) ? 0 : 1;
  return code;
}

runProgram(PROGRAM, main);
