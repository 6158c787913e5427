/**
 * What XState costs a request, without sockets or a pool (issue #4). It
 * drives N actors through request after request, interleaved as a server
 * with N busy connections interleaves them: a RECEIVED with one read, then
 * the sensor results, then the write, which the fake link takes at once.
 * Three ways, on the same fake link:
 *
 * - the connection machine (machines/connectionMachine.ts), as the server runs it;
 * - the floor of XState for this design: a bare machine with the same three
 *   states, one action per event, no guards and no context changes;
 * - no machine: the link's calls alone, in the same order.
 *
 *   node dist/bench/machineCost.js [--requests N] [--runs N]
 *
 * It prints the best µs per request of the runs for each. A measurement, not
 * a spec: docs/PERFORMANCE.md §9 reads it next to the server's figures.
 */
import { type AnyStateMachine, createActor, setup } from 'xstate';
import { commandLine, runProgram } from '../actors/cli/program.js';
import type { OptionTable } from '../lib/config.js';
import { PROTOCOL_VERSION, type ReadRequest, UNITS, type Welcome } from '../lib/protocol.js';
import type { SensorRead } from '../lib/sensors/batch.js';
import type { SensorResult } from '../lib/sensors/result.js';
import { DEFAULT_STATION, stationInfo } from '../lib/sensors/station.js';
import {
  type ConnectionLimits,
  type ConnectionLink,
  connectionMachine,
} from '../machines/connectionMachine.js';

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
    description: 'runs of each; the best is printed',
  },
} as const satisfies OptionTable);

const USAGE = `Usage: node dist/bench/machineCost.js [--requests N] [--runs N]

What XState costs a request: the connection machine, a bare three-state
machine and the link's calls alone, driven by 1, 50 and 1,000 actors.`;

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

/** A fake link: `read` keeps the callback for the driver to answer; `send` counts, and takes it all at once. */
class FakeLink implements ConnectionLink {
  pending: ((results: readonly SensorResult[]) => void) | undefined;
  sent = 0;
  readonly bufferedBytes = 0;
  read(_reads: readonly SensorRead[], done: (results: readonly SensorResult[]) => void): void {
    this.pending = done;
  }
  send(replies: readonly unknown[]): void {
    this.sent += replies.length;
  }
  /** Gives the results to the read that waits for them. */
  answer(results: readonly SensorResult[]): void {
    const done = this.pending;
    if (done === undefined) throw new Error('no read waits for its results');
    this.pending = undefined;
    done(results);
  }
  pauseReading(): void {}
  resumeReading(): void {}
  close(): void {}
}

interface BareEvents {
  readonly type: 'RECEIVED' | 'COMPUTED';
  readonly messages?: readonly ReadRequest[];
  readonly results?: readonly SensorResult[];
}

/** The floor: the connection machine's three states and its two events, with nothing else. */
const bareMachine = setup({
  types: {
    context: {} as { readonly link: FakeLink },
    events: {} as BareEvents,
    input: {} as { readonly link: FakeLink },
  },
  actions: {
    readSensors: ({ context, event, self }) => {
      const reads = (event.messages ?? []).map((request) => ({
        reading: request.reading,
        station: 0,
      }));
      context.link.read(reads, (results) => self.send({ type: 'COMPUTED', results }));
    },
    sendReplies: ({ context, event }) => context.link.send(event.results ?? []),
  },
}).createMachine({
  context: ({ input }) => ({ link: input.link }),
  initial: 'awaiting-request',
  states: {
    'awaiting-request': { on: { RECEIVED: { target: 'computing', actions: 'readSensors' } } },
    computing: { on: { COMPUTED: { target: 'replying', actions: 'sendReplies' } } },
    replying: { always: 'awaiting-request' },
  },
});

interface Driven {
  readonly links: readonly FakeLink[];
  /** Receives one read request on the connection at `index`. */
  receive(index: number, request: ReadRequest): void;
  /** What an actor failed with, if one did. */
  readonly failure: () => unknown;
}

function driveMachine(machine: AnyStateMachine, count: number, greet: boolean): Driven {
  const links = Array.from({ length: count }, () => new FakeLink());
  let failure: unknown;
  const actors = links.map((link) => {
    const actor = createActor(machine, {
      input: { connectionId: 'bench', welcome: WELCOME, link, limits: LIMITS },
    });
    actor.subscribe({
      error: (err) => {
        failure ??= err;
      },
    });
    actor.start();
    if (greet) {
      const hello = { type: 'hello', version: PROTOCOL_VERSION };
      actor.send({ type: 'RECEIVED', messages: [hello], receivedAt: 0 });
      link.answer([]);
    }
    return actor;
  });
  return {
    links,
    receive: (index, request) =>
      actors[index]?.send({ type: 'RECEIVED', messages: [request], receivedAt: 0 }),
    failure: () => failure,
  };
}

/** No machine: what the connection machine's actions call, in the same order, called directly. */
function driveLinks(count: number): Driven {
  const links = Array.from({ length: count }, () => new FakeLink());
  return {
    links,
    receive: (index, request) => {
      const link = links[index] as FakeLink;
      link.read([{ reading: request.reading, station: 0 }], (results) => link.send(results));
    },
    failure: () => undefined,
  };
}

/** µs per request of the best run; checks every request got its reply. */
function measure(driven: Driven, requests: number, runs: number): number {
  const { links } = driven;
  const rounds = Math.max(1, Math.floor(requests / links.length));
  const round = (id: number): void => {
    const request: ReadRequest = { type: 'read', id, reading: 'pressure' };
    for (let i = 0; i < links.length; i++) driven.receive(i, request);
    for (const link of links) link.answer(RESULT);
  };
  for (let r = 0; r < rounds; r++) round(r);
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < runs; run++) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) round(r);
    const elapsedUs = Number(process.hrtime.bigint() - start) / 1_000;
    best = Math.min(best, elapsedUs / (rounds * links.length));
  }
  if (driven.failure() !== undefined) throw driven.failure();
  const expected = rounds * (runs + 1);
  for (const link of links) {
    if (link.sent < expected) {
      throw new Error(`a connection sent ${link.sent} replies for ${expected} requests`);
    }
  }
  return best;
}

async function main(): Promise<number> {
  const options = commandLine(PROGRAM, OPTIONS, USAGE);
  if (typeof options === 'number') return options;
  const { requests, runs } = options;
  process.stdout.write(
    `µs per request, best of ${runs} runs of ${requests.toLocaleString('en')} requests; node ${process.version}\n\n`,
  );
  process.stdout.write(
    '| actors | connection machine | bare three-state machine | no machine (the link calls) |\n',
  );
  process.stdout.write('| ---: | ---: | ---: | ---: |\n');
  for (const count of ACTOR_COUNTS) {
    const full = measure(driveMachine(connectionMachine, count, true), requests, runs);
    const bare = measure(driveMachine(bareMachine, count, false), requests, runs);
    const none = measure(driveLinks(count), requests, runs);
    process.stdout.write(
      `| ${count.toLocaleString('en')} | ${full.toFixed(2)} | ${bare.toFixed(2)} | ${none.toFixed(2)} |\n`,
    );
  }
  return 0;
}

runProgram(PROGRAM, main);
