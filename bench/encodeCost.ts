/**
 * What encoding replies costs the server's main thread (issue #11): the
 * MessagePack writer lib/protocol.ts uses now (lib/msgpackWriter.ts), against
 * the msgpackr path it replaced. That path is kept here, and only here, to be
 * measured: msgpackr with a `Float64` extension that wrote 0xcb and eight
 * bytes through the undocumented allocator msgpackr hands to `pack`.
 *
 *   node dist/bench/encodeCost.js [--messages N] [--runs N]
 *
 * Three cases, each as the server meets it: one reading reply; a batch of 16
 * replies for one write (the old way: a frame per reply, then Buffer.concat;
 * the new: `encodeMessages`); a welcome. Before timing, it checks that both
 * ways give the same bytes, and fails if not. The runs of the two ways
 * alternate, and it prints the median ns per call of the runs. A
 * measurement, not a spec.
 */
import { addExtension, Packr, RESERVE_START_SPACE } from 'msgpackr';
import { commandLine, runProgram } from '../actors/cli/program.js';
import type { OptionTable } from '../lib/config.js';
import { writeFrameHeader } from '../lib/framing.js';
import {
  type ClientMessage,
  encodeMessage,
  encodeMessages,
  PROTOCOL_VERSION,
  READING_UNITS,
  READINGS,
  type ReadingReply,
  type ServerMessage,
  type StationInfo,
  UNITS,
  type Welcome,
} from '../lib/protocol.js';
import { DEFAULT_STATION, stationInfo } from '../lib/sensors/station.js';

const PROGRAM = 'meteo-encode-cost';

const OPTIONS = Object.freeze({
  messages: {
    kind: 'integer',
    flag: 'messages',
    min: 1_000,
    max: 10_000_000,
    default: 100_000,
    description: 'messages each way encodes in one run (a batch of 16 counts 16)',
  },
  runs: {
    kind: 'integer',
    flag: 'runs',
    min: 1,
    max: 101,
    default: 9,
    description: 'runs of each way; the median is printed',
  },
} as const satisfies OptionTable);

const USAGE = `Usage: node dist/bench/encodeCost.js [--messages N] [--runs N]

What encoding costs: the MessagePack writer of lib/protocol.ts against the
msgpackr path it replaced, for a reading reply, a batch of 16 and a welcome.`;

// ------------------------------------------------ the old encoder, as it was

class Float64 {
  constructor(readonly value: number) {}
}

type Allocate = (size: number) => { target: Uint8Array; targetView: DataView; position: number };

function packFloat64(float: Float64, allocate: Allocate): void {
  const { target, targetView, position } = allocate(9);
  target[position] = 0xcb;
  targetView.setFloat64(position + 1, float.value);
}

addExtension({
  Class: Float64,
  type: 1,
  pack: packFloat64 as unknown as (value: unknown) => Buffer,
  unpack(): never {
    throw new Error('MessagePack extension 1 is not part of the protocol');
  },
});

const packr = new Packr({ useRecords: false, variableMapSize: true });

function stationToWire(station: StationInfo): unknown {
  return {
    ...station,
    latitude: new Float64(station.latitude),
    longitude: new Float64(station.longitude),
    elevation: new Float64(station.elevation),
  };
}

function toWire(message: ServerMessage | ClientMessage): unknown {
  switch (message.type) {
    case 'reading':
      return {
        type: message.type,
        id: message.id,
        station: message.station,
        reading: message.reading,
        value: new Float64(message.value),
        unit: message.unit,
        observedAt: message.observedAt,
      };
    case 'welcome':
      return {
        ...message,
        station: stationToWire(message.station),
        stations: message.stations.map(stationToWire),
      };
    default:
      return message;
  }
}

function oldEncodeMessage(message: ServerMessage | ClientMessage): Buffer {
  return writeFrameHeader(packr.pack(toWire(message), RESERVE_START_SPACE | 4));
}

// ------------------------------------------------ the cases

const OBSERVED_AT = new Date(Date.UTC(2026, 10, 26, 21, 30));
const VALUES = [12, 1013.2, 0, 3.4, -1.5, 9.8, 1002, 0.2];

function readingReply(id: number): ReadingReply {
  const reading = READINGS[id % READINGS.length] ?? 'pressure';
  return {
    type: 'reading',
    id,
    station: DEFAULT_STATION.id,
    reading,
    value: VALUES[id % VALUES.length] ?? 0,
    unit: READING_UNITS[reading],
    observedAt: OBSERVED_AT,
  };
}

const WELCOME: Welcome = {
  type: 'welcome',
  version: PROTOCOL_VERSION,
  server: 'meteo-actors/0.1.0',
  station: stationInfo(DEFAULT_STATION),
  stations: [stationInfo(DEFAULT_STATION)],
  units: UNITS,
};

const ONE = readingReply(7);
const BATCH = Array.from({ length: 16 }, (_, i) => readingReply(100 + i));

interface Case {
  readonly name: string;
  /** Messages one call encodes. */
  readonly size: number;
  readonly old: () => Buffer;
  readonly current: () => Buffer;
}

const CASES: readonly Case[] = [
  {
    name: 'one reading reply',
    size: 1,
    old: () => oldEncodeMessage(ONE),
    current: () => encodeMessage(ONE),
  },
  {
    name: 'a batch of 16 reading replies',
    size: BATCH.length,
    old: () => Buffer.concat(BATCH.map(oldEncodeMessage)),
    current: () => encodeMessages(BATCH),
  },
  {
    name: 'a welcome',
    size: 1,
    old: () => oldEncodeMessage(WELCOME),
    current: () => encodeMessage(WELCOME),
  },
];

/** Bytes made, so that no call can be optimised away. */
let sink = 0;

/** ns per call of one run. */
function time(encode: () => Buffer, calls: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += encode().length;
  return Number(process.hrtime.bigint() - start) / calls;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  const { messages, runs } = options;
  for (const { name, old, current } of CASES) {
    if (!old().equals(current())) {
      process.stderr.write(`${PROGRAM}: the two ways give different bytes for ${name}\n`);
      return 1;
    }
  }
  process.stdout.write(
    `ns per call, median of ${runs} runs of ${messages.toLocaleString('en')} messages; node ${process.version}\n\n`,
  );
  process.stdout.write(
    '| case (ns per call) | msgpackr + Float64 extension | MessagePackWriter | new / old |\n',
  );
  process.stdout.write('| --- | ---: | ---: | ---: |\n');
  for (const { name, size, old, current } of CASES) {
    const calls = Math.max(1, Math.round(messages / size));
    // One run of each first, unmeasured, so both are compiled before timing.
    time(old, calls);
    time(current, calls);
    const olds: number[] = [];
    const currents: number[] = [];
    for (let run = 0; run < runs; run++) {
      // Alternate which goes first, so drift (a GC, a neighbour) falls on both alike.
      if (run % 2 === 0) {
        olds.push(time(old, calls));
        currents.push(time(current, calls));
      } else {
        currents.push(time(current, calls));
        olds.push(time(old, calls));
      }
    }
    const before = median(olds);
    const after = median(currents);
    process.stdout.write(
      `| ${name} | ${before.toFixed(0)} | ${after.toFixed(0)} | ${(after / before).toFixed(2)} |\n`,
    );
  }
  return sink > 0 ? 0 : 1;
}

runProgram(PROGRAM, main);
