/**
 * What running the connection machine costs a request, without sockets or a
 * pool (issue #11). It drives N actors through request after request,
 * interleaved as a server with N busy connections interleaves them: RECEIVED
 * with one read, the sensor results (COMPUTED), and the write's report
 * (WRITTEN, sent from the effect listener as actors/connection.ts sends it).
 * Four ways, on the same fake world:
 *
 * - the connection machine compiled (lib/statechart), as the server runs
 *   every connection;
 * - the same machine on XState's interpreter, as XState runs it;
 * - the floor of the interpreter: a bare machine with three states, one
 *   effect per event, no guards and no context;
 * - no machine: the effects alone, in the same order.
 *
 *   node dist/bench/machineCost.js [--requests N] [--runs N]
 *
 * It prints the median µs per request of the runs for each. A measurement,
 * not a spec: docs/PERFORMANCE.md §11 reads it next to the server's figures.
 */
import { type AnyStateMachine, createActor, type EventObject, setup } from 'xstate';
import { commandLine, runProgram } from '../actors/cli/program.js';
import type { OptionTable } from '../lib/config.js';
import { PROTOCOL_VERSION, type ReadRequest, UNITS, type Welcome } from '../lib/protocol.js';
import type { SensorResult } from '../lib/sensors/result.js';
import { DEFAULT_STATION, stationInfo } from '../lib/sensors/station.js';
import { effect } from '../lib/statechart/actions.js';
import { compileMachine } from '../lib/statechart/compile.js';
import { MachineActor } from '../lib/statechart/runtime.js';
import { type ConnectionLimits, connectionMachine } from '../machines/connectionMachine.js';

const PROGRAM = 'meteo-machine-cost';

const OPTIONS = Object.freeze({
  requests: {
    kind: 'integer',
    flag: 'requests',
    min: 1_000,
    max: 10_000_000,
    default: 100_000,
    description: 'requests in one run, spread over the actors',
  },
  runs: {
    kind: 'integer',
    flag: 'runs',
    min: 1,
    max: 1_000,
    default: 15,
    description: 'runs of each; the median is printed',
  },
} as const satisfies OptionTable);

const USAGE = `Usage: node dist/bench/machineCost.js [--requests N] [--runs N]

What the connection machine costs a request: compiled, on XState's
interpreter, a bare three-state machine on the interpreter, and no machine,
driven by 1, 50 and 1,000 actors.

Options:
  --requests N  requests in one run, spread over the actors (default 100000)
  --runs N      runs of each; the median is printed (default 15)
  --help, -h    show this help and exit`;

const ACTOR_COUNTS = [1, 50, 1_000] as const;

const LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  maxQueuedRequests: 256,
  maxOutputBytes: 1 << 20,
  writeTimeoutMs: 30_000,
};

const WELCOME: Welcome = {
  type: 'welcome',
  version: PROTOCOL_VERSION,
  server: 'meteo-machine-cost',
  station: stationInfo(DEFAULT_STATION),
  stations: [stationInfo(DEFAULT_STATION)],
  units: UNITS,
};

const RESULT: readonly SensorResult[] = [{ value: 1013.25, observedAt: Date.UTC(2026, 10, 26) }];

/** What the driver needs of an actor, whichever way it runs. */
interface Driveable {
  send(event: EventObject): void;
  on(type: '*', handler: (effect: EventObject) => void): unknown;
  subscribe(observer: { error: (err: unknown) => void }): unknown;
  start(): unknown;
}

/** The world around one actor: a read waits for the driver's answer; a write is taken whole at once. */
class FakeWorld {
  reading = false;
  written = 0;

  constructor(readonly actor: Driveable) {
    actor.on('*', (effect) => {
      if (effect.type === 'read') this.reading = true;
      else if (effect.type === 'write') {
        this.written++;
        actor.send({ type: 'WRITTEN', bufferedBytes: 0 } as EventObject);
      }
    });
  }

  answer(): void {
    if (!this.reading) throw new Error('no read waits for its results');
    this.reading = false;
    this.actor.send({ type: 'COMPUTED', results: RESULT } as EventObject);
  }
}

/** The floor of the interpreter: three states, an effect on each event, nothing else. */
const bareMachine = setup({
  types: { events: {} as { readonly type: 'RECEIVED' | 'COMPUTED' | 'WRITTEN' } },
  actions: {
    readSensors: effect(() => ({ type: 'read' })),
    writeReplies: effect(() => ({ type: 'write' })),
  },
}).createMachine({
  initial: 'awaiting-request',
  states: {
    'awaiting-request': { on: { RECEIVED: { target: 'computing', actions: 'readSensors' } } },
    computing: { on: { COMPUTED: { target: 'replying', actions: 'writeReplies' } } },
    replying: { on: { WRITTEN: 'awaiting-request' } },
  },
});

interface Driven {
  readonly worlds: readonly FakeWorld[];
  /** Receives one read request on the connection at `index`. */
  receive(index: number, request: ReadRequest): void;
  /** What an actor failed with, if one did. */
  readonly failure: () => unknown;
}

function drive(makeActor: () => Driveable, count: number, greet: boolean): Driven {
  let failure: unknown;
  const worlds = Array.from({ length: count }, () => {
    const world = new FakeWorld(makeActor());
    world.actor.subscribe({
      error: (err) => {
        failure ??= err;
      },
    });
    world.actor.start();
    if (greet) {
      const hello = { type: 'hello', version: PROTOCOL_VERSION };
      world.actor.send({ type: 'RECEIVED', messages: [hello], receivedAt: 0 } as EventObject);
    }
    return world;
  });
  return {
    worlds,
    receive: (index, request) =>
      worlds[index]?.actor.send({
        type: 'RECEIVED',
        messages: [request],
        receivedAt: 0,
      } as EventObject),
    failure: () => failure,
  };
}

const input = { welcome: WELCOME, limits: LIMITS };

function interpreted(machine: AnyStateMachine, count: number, greet: boolean): Driven {
  return drive(() => createActor(machine, { input }) as unknown as Driveable, count, greet);
}

function compiled(count: number): Driven {
  const table = compileMachine(connectionMachine);
  return drive(
    () =>
      new MachineActor<typeof connectionMachine>(table, {
        id: 'bench',
        input,
      }) as unknown as Driveable,
    count,
    true,
  );
}

/** No machine: the effects the machine asks for, performed directly in the same order. */
function noMachine(count: number): Driven {
  const worlds = Array.from({ length: count }, () => {
    const world = {
      reading: false,
      written: 0,
      answer() {
        world.reading = false;
        world.written++;
      },
    };
    return world as unknown as FakeWorld;
  });
  return {
    worlds,
    receive: (index) => {
      (worlds[index] as FakeWorld).reading = true;
    },
    failure: () => undefined,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** µs per request, median of the runs; checks every request got its reply. */
function measure(driven: Driven, requests: number, runs: number): number {
  const { worlds } = driven;
  const rounds = Math.max(1, Math.floor(requests / worlds.length));
  const round = (id: number): void => {
    const request: ReadRequest = { type: 'read', id, reading: 'pressure' };
    for (let i = 0; i < worlds.length; i++) driven.receive(i, request);
    for (const world of worlds) world.answer();
  };
  const before = worlds.map((world) => world.written);
  for (let r = 0; r < rounds; r++) round(r);
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) round(r);
    const elapsedUs = Number(process.hrtime.bigint() - start) / 1_000;
    times.push(elapsedUs / (rounds * worlds.length));
  }
  if (driven.failure() !== undefined) throw driven.failure();
  const expected = rounds * (runs + 1);
  worlds.forEach((world, i) => {
    if (world.written - (before[i] as number) < expected) {
      throw new Error(`a connection wrote ${world.written} replies for ${expected} requests`);
    }
  });
  return median(times);
}

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  const { requests, runs } = options;
  process.stdout.write(
    `µs per request (three events), median of ${runs} runs of ${requests.toLocaleString('en')} requests; node ${process.version}\n\n`,
  );
  process.stdout.write(
    '| actors | compiled | on the interpreter | bare machine, interpreter | no machine |\n',
  );
  process.stdout.write('| ---: | ---: | ---: | ---: | ---: |\n');
  for (const count of ACTOR_COUNTS) {
    const fast = measure(compiled(count), requests, runs);
    const slow = measure(interpreted(connectionMachine, count, true), requests, runs);
    const bare = measure(interpreted(bareMachine, count, false), requests, runs);
    const none = measure(noMachine(count), requests, runs);
    const cells = [fast, slow, bare, none].map((us) => us.toFixed(3));
    process.stdout.write(`| ${count.toLocaleString('en')} | ${cells.join(' | ')} |\n`);
  }
  return 0;
}

runProgram(PROGRAM, main);
