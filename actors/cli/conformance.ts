/**
 * `npm run conformance -- --host H --port P`: plays the protocol's
 * conformance vectors against a server, ours or anyone's (docs/PROTOCOL.md
 * §11). Thin: options in, actors/conformance.ts does the rest, one line per
 * case out, and the status says whether all passed.
 */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describeOptions, type OptionTable } from '../../lib/config.js';
import { describeError, MeteoError } from '../../lib/errors.js';
import { casesOf, parseVectors, runCases } from '../conformance.js';
import { commandLine, runProgram, USAGE_ERROR } from './program.js';

const PROGRAM = 'meteo-conformance';

/** The vectors that ship with the protocol, found from dist/actors/cli/. */
const VECTORS = fileURLToPath(new URL('../../../docs/protocol-vectors.json', import.meta.url));

export const CONFORMANCE_OPTIONS = Object.freeze({
  host: {
    kind: 'string',
    flag: 'host',
    default: '127.0.0.1',
    description: 'address of the server under test; the runner talks to no other',
  },
  port: {
    kind: 'integer',
    flag: 'port',
    min: 1,
    max: 65_535,
    default: 7_210,
    description: 'port of the server under test',
  },
  vectors: {
    kind: 'string',
    flag: 'vectors',
    default: VECTORS,
    defaultText: 'docs/protocol-vectors.json',
    description: 'the vectors file to play',
  },
  match: {
    kind: 'string',
    flag: 'match',
    default: '*',
    defaultText: 'all',
    description: 'play only the vectors whose name contains this text',
  },
  timeoutMs: {
    kind: 'integer',
    flag: 'timeout',
    min: 100,
    max: 600_000,
    default: 5_000,
    description: 'milliseconds one vector may take, connect to close, before it fails',
  },
  pauseMs: {
    kind: 'integer',
    flag: 'pause',
    min: 0,
    max: 10_000,
    default: 10,
    description: 'milliseconds between two writes of one vector',
  },
} as const satisfies OptionTable);

const USAGE = `Usage: npm run conformance -- [options]

Plays every conformance vector of the meteo-actors protocol against a running
server, each on a new connection, and prints "PASS name" or "FAIL name: why"
for each, then "N passed, N failed". Exits 0 when all pass, 1 when any fails,
2 for a bad command line or vectors file. The server must serve a default
station "seattle" with all four readings (docs/PROTOCOL.md §11).

Options:
${describeOptions(CONFORMANCE_OPTIONS)}`;

/** Resolves once a connection to the server opens (and closes it), or rejects with ERR_CONNECT_FAILED. */
function reachable(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const fail = (why: string): void => {
      socket.destroy();
      reject(new MeteoError('ERR_CONNECT_FAILED', `cannot connect to ${host}:${port} (${why})`));
    };
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => fail(`no answer in ${timeoutMs} ms`));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
  });
}

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, CONFORMANCE_OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  const { host, port, match, timeoutMs, pauseMs } = options;
  let cases: ReturnType<typeof casesOf>;
  try {
    const text = await readFile(options.vectors, 'utf8').catch((err: unknown) => {
      throw new MeteoError(
        'ERR_BAD_VECTOR_FILE',
        `cannot read ${options.vectors}: ${describeError(err)}`,
      );
    });
    cases = casesOf(parseVectors(text)).filter(
      (test) => match === '*' || test.name.includes(match),
    );
    await reachable(host, port, timeoutMs);
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${describeError(err)}\n`);
    return err instanceof MeteoError && err.code === 'ERR_CONNECT_FAILED' ? 1 : USAGE_ERROR;
  }
  const { passed, failed } = await runCases(cases, { host, port, timeoutMs, pauseMs }, (outcome) =>
    process.stdout.write(
      outcome.failure === null
        ? `PASS ${outcome.name}\n`
        : `FAIL ${outcome.name}: ${outcome.failure}\n`,
    ),
  );
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

runProgram(PROGRAM, main);
