/**
 * What decoding one client frame body costs (issue #12): `decodeClientMessage`
 * runs once per request, on the connection's event loop, so a rule that
 * walks each body twice shows up in every figure of the benchmark (an
 * earlier attempt went from 0.2 to 0.8 µs). It decodes a few bodies, valid
 * and not, over and over, and prints the median of the runs for each.
 *
 *   node dist/bench/decodeCost.js [--decodes N] [--runs N]
 *
 * Bounded: `--decodes` per body per run, `--runs` runs. A measurement, not a
 * spec; spec/bench/decodeCost.spec.ts only checks that it runs.
 */
import { commandLine, runProgram } from '../actors/cli/program.js';
import { describeOptions, type OptionTable } from '../lib/config.js';
import { decodeClientMessage } from '../lib/protocol.js';

const PROGRAM = 'meteo-decode-cost';

const OPTIONS = Object.freeze({
  decodes: {
    kind: 'integer',
    flag: 'decodes',
    min: 1_000,
    max: 100_000_000,
    default: 1_000_000,
    description: 'decodes of each body in one run',
  },
  runs: {
    kind: 'integer',
    flag: 'runs',
    min: 1,
    max: 1_000,
    default: 11,
    description: 'runs of each body; the median is printed',
  },
} as const satisfies OptionTable);

const USAGE = `Usage: node dist/bench/decodeCost.js [--decodes N] [--runs N]

What decodeClientMessage costs per frame body: a hello, a read, a read that
names its station, and three bodies it refuses.

Options:
${describeOptions(OPTIONS)}`;

/** Bytes from hex written with spaces for readability. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** The bodies measured: the requests of docs/PROTOCOL.md §4.1 and §5.1, and three refusals. */
const BODIES: readonly (readonly [string, Buffer])[] = [
  ['hello', hex('82 a474797065 a568656c6c6f a776657273696f6e 01')],
  ['read', hex('83 a474797065 a472656164 a26964 07 a772656164696e67 a87261696e66616c6c')],
  [
    'read with station',
    hex(
      '84 a474797065 a472656164 a26964 07 a772656164696e67 a87261696e66616c6c a773746174696f6e a773656174746c65',
    ),
  ],
  [
    'read, unknown reading',
    hex('83 a474797065 a472656164 a26964 07 a772656164696e67 a868756d6964697479'),
  ],
  ['read, id a string', hex('83 a474797065 a472656164 a26964 a137 a772656164696e67 a3726169')],
  ['not MessagePack', hex('c1')],
];

/** µs per decode of each run, sorted; the result of each decode is kept so none is optimised away. */
function measure(body: Buffer, decodes: number, runs: number): number[] {
  const times: number[] = [];
  let kept = 0;
  for (let i = 0; i < decodes; i++) kept += decodeClientMessage(body).type.length;
  for (let run = 0; run < runs; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < decodes; i++) kept += decodeClientMessage(body).type.length;
    times.push(Number(process.hrtime.bigint() - start) / 1_000 / decodes);
  }
  if (kept === 0) throw new Error('nothing was decoded');
  return times.sort((a, b) => a - b);
}

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  const { decodes, runs } = options;
  process.stdout.write(
    `µs per decodeClientMessage, median (and best) of ${runs} runs of ${decodes.toLocaleString('en')} decodes; node ${process.version}\n\n`,
  );
  process.stdout.write('| body | bytes | median µs | best µs |\n');
  process.stdout.write('| --- | ---: | ---: | ---: |\n');
  for (const [name, body] of BODIES) {
    const times = measure(body, decodes, runs);
    const median = times[Math.floor(times.length / 2)] as number;
    process.stdout.write(
      `| ${name} | ${body.length} | ${median.toFixed(3)} | ${(times[0] as number).toFixed(3)} |\n`,
    );
  }
  return 0;
}

runProgram(PROGRAM, main);
