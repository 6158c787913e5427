/**
 * The compiled connection machine (lib/statechart) against XState's own
 * interpreter: a model-based property test. fast-check generates sequences
 * of events (requests, pipelined batches, bad frames, timeouts, SHUTDOWN
 * mid-batch, the peer closing mid-write, slow writes), both actors get each
 * one, and after every event they must agree on the state value, the
 * context, the status and the effects emitted, in order. The same property
 * is then run against tables broken on purpose, and must catch each one.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { type Actor, createActor } from 'xstate';
import { PROTOCOL_VERSION, READINGS, UNITS, type Welcome } from '../../../lib/protocol.js';
import type { SensorResult } from '../../../lib/sensors/result.js';
import { readsOf } from '../../../lib/session.js';
import {
  type CompiledMachine,
  type CompiledTransition,
  compileMachine,
} from '../../../lib/statechart/compile.js';
import { MachineActor } from '../../../lib/statechart/runtime.js';
import {
  type ConnectionEffect,
  type ConnectionEvent,
  type ConnectionLimits,
  connectionMachine,
} from '../../../machines/connectionMachine.js';

/** Sequences per property run: at least 1,000 in CI (issue #11); METEO_EQUIVALENCE_RUNS overrides. */
const RUNS = Number(process.env['METEO_EQUIVALENCE_RUNS'] ?? 1_000);

const STATION = { id: 'test', name: 'Test', latitude: 47.6, longitude: -122.3, elevation: 56 };
const WELCOME: Welcome = {
  type: 'welcome',
  version: PROTOCOL_VERSION,
  server: 'meteo-actors/test',
  station: STATION,
  stations: [STATION, { ...STATION, id: 'second' }],
  units: UNITS,
};

/** Small limits, so that short sequences reach them: a queue of 3, 1,000 bytes unsent. */
const LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  maxQueuedRequests: 3,
  maxOutputBytes: 1_000,
  writeTimeoutMs: 30_000,
};

/** The two actors, fed the same events, and the effects each has emitted since the last check. */
interface Pair {
  readonly interpreted: Actor<typeof connectionMachine>;
  readonly compiled: MachineActor<typeof connectionMachine>;
  readonly effects: { interpreted: ConnectionEffect[]; compiled: ConnectionEffect[] };
  receivedAt: number;
}

function startPair(table: CompiledMachine): Pair {
  const input = { welcome: WELCOME, limits: LIMITS };
  const pair: Pair = {
    interpreted: createActor(connectionMachine, { input }),
    compiled: new MachineActor<typeof connectionMachine>(table, { id: 'connection.1', input }),
    effects: { interpreted: [], compiled: [] },
    receivedAt: 0,
  };
  pair.interpreted.on('*', (effect) => pair.effects.interpreted.push(effect));
  pair.compiled.on('*', (effect) => pair.effects.compiled.push(effect));
  // A failed actor reports to its observers; without one, XState rethrows the fault globally.
  pair.interpreted.subscribe({ error: () => {} });
  pair.compiled.subscribe({ error: () => {} });
  pair.interpreted.start();
  pair.compiled.start();
  return pair;
}

/** Every state value and effect type the sequences reached, so a spec can check they reach them all. */
const reached = new Set<string>();

function expectAgreement(pair: Pair, after: string): void {
  const expected = pair.interpreted.getSnapshot();
  reached.add(JSON.stringify(expected.value));
  for (const effect of pair.effects.interpreted) reached.add(effect.type);
  const actual = pair.compiled.getSnapshot();
  expect(actual.status, `status after ${after}`).to.equal(expected.status);
  if (expected.status !== 'error') {
    expect(actual.value, `state after ${after}`).to.deep.equal(expected.value);
    expect(actual.context, `context after ${after}`).to.deep.equal(expected.context);
  }
  expect(pair.effects.compiled, `effects of ${after}`).to.deep.equal(pair.effects.interpreted);
  pair.effects.interpreted.length = 0;
  pair.effects.compiled.length = 0;
}

function isComputing(pair: Pair): boolean {
  const { value } = pair.interpreted.getSnapshot();
  return typeof value === 'object' && Object.values(value).includes('computing');
}

/** Sends one event to both actors, built from the interpreter's state when it depends on it. */
class Send implements fc.Command<Pair, Pair> {
  constructor(
    readonly label: string,
    readonly build: (pair: Pair) => ConnectionEvent,
    readonly when: (pair: Pair) => boolean = () => true,
  ) {}

  check(pair: Readonly<Pair>): boolean {
    return pair.interpreted.getSnapshot().status === 'active' && this.when(pair as Pair);
  }

  run(pair: Pair): void {
    const event = this.build(pair);
    pair.interpreted.send(event);
    pair.compiled.send(event);
    expectAgreement(pair, this.label);
  }

  toString(): string {
    return this.label;
  }
}

const message = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ type: 'hello' as const, version: PROTOCOL_VERSION }) },
  { weight: 1, arbitrary: fc.constant({ type: 'hello' as const, version: 7 }) },
  {
    weight: 8,
    arbitrary: fc.record({
      type: fc.constant('read' as const),
      id: fc.nat(20),
      reading: fc.constantFrom(...READINGS),
      station: fc.constantFrom(undefined, 'test', 'second', 'nowhere'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('rejected' as const),
      id: fc.option(fc.nat(20), { nil: null }),
      code: fc.constantFrom('ERR_BAD_MESSAGE' as const, 'ERR_UNKNOWN_READING' as const),
      message: fc.constant('rejected by the decoder'),
    }),
  },
);

const received = fc.array(message, { minLength: 1, maxLength: 5 }).map(
  (messages) =>
    new Send(`RECEIVED ${JSON.stringify(messages)}`, (pair) => ({
      type: 'RECEIVED',
      messages: messages.map((one) =>
        one.type === 'read' && one.station === undefined
          ? { type: 'read', id: one.id, reading: one.reading }
          : one,
      ),
      receivedAt: ++pair.receivedAt,
    })),
);

/** The sensor results for the batch being computed: a value or a failure per read, sometimes one short. */
const computed = fc
  .record({ failures: fc.array(fc.boolean(), { maxLength: 8 }), short: fc.boolean() })
  .map(
    ({ failures, short }) =>
      new Send(
        `COMPUTED failures=${JSON.stringify(failures)}${short ? ' short' : ''}`,
        (pair) => {
          const reads = readsOf(pair.interpreted.getSnapshot().context.batch);
          const results = reads.map(
            (_, i): SensorResult =>
              failures[i]
                ? { code: 'ERR_SENSOR_FAILED', message: 'a failing sensor' }
                : { value: 1000 + i + 0.5, observedAt: Date.UTC(2026, 10, 26, 13, i) },
          );
          return { type: 'COMPUTED', results: short ? results.slice(1) : results };
        },
        isComputing,
      ),
  );

const written = fc
  .constantFrom(0, 0, 0, 40, 5_000)
  .map(
    (bufferedBytes) =>
      new Send(`WRITTEN ${bufferedBytes}`, () => ({ type: 'WRITTEN', bufferedBytes })),
  );

const simple = (event: ConnectionEvent) => fc.constant(new Send(event.type, () => event));

/** Events the wiring never sends where they arrive here: both actors must fail alike. */
const unexpected = fc.constantFrom(
  new Send(
    'COMPUTED (not computing)',
    () => ({ type: 'COMPUTED', results: [] }),
    (pair) => !isComputing(pair),
  ),
  new Send('BOGUS', () => ({ type: 'BOGUS' }) as unknown as ConnectionEvent),
);

const commands = fc.commands(
  [
    received,
    received,
    received,
    computed,
    computed,
    computed,
    written,
    written,
    simple({ type: 'DRAINED' }),
    simple({ type: 'SHUTDOWN' }),
    simple({ type: 'PEER_ENDED' }),
    simple({ type: 'HANDSHAKE_TIMEOUT' }),
    simple({ type: 'IDLE_TIMEOUT' }),
    simple({ type: 'WRITE_TIMEOUT' }),
    simple({
      type: 'BAD_STREAM',
      code: 'ERR_FRAME_TOO_LARGE',
      message: 'frame declares 4096 bytes',
    }),
    simple({ type: 'END', code: 'ERR_AUTH_FAILED', message: 'the client is no longer let in' }),
    fc.constant(new Send('PEER_CLOSED', () => ({ type: 'PEER_CLOSED' }))),
    unexpected,
  ],
  { maxCommands: 50, size: 'max' },
);

function equivalence(table: CompiledMachine) {
  return fc.property(commands, (sequence) => {
    const pair = startPair(table);
    expectAgreement(pair, 'start');
    fc.modelRun(() => ({ model: pair, real: pair }), sequence);
  });
}

/** A table with some transitions rewritten by `change`, as a bug in the compiler would. */
function tampered(
  table: CompiledMachine,
  change: (
    stateId: string,
    eventType: string | null,
    list: readonly CompiledTransition[],
  ) => readonly CompiledTransition[] | undefined,
): CompiledMachine {
  const idOf = (state: number): string => table.states[state]?.id ?? '';
  return {
    ...table,
    candidates: (state, eventType) => {
      const list = table.candidates(state, eventType);
      return change(idOf(state), eventType, list) ?? list;
    },
    eventless: (state) => {
      const list = table.eventless(state);
      return change(idOf(state), null, list) ?? list;
    },
  };
}

const stateIndex = (table: CompiledMachine, id: string): number =>
  table.states.findIndex((state) => state.id === id);

describe('lib/statechart: the compiled connection machine against XState', () => {
  const table = compileMachine(connectionMachine);

  it(`agrees with XState's interpreter after every event of ${RUNS} random sequences`, () => {
    reached.clear();
    fc.assert(equivalence(table), { numRuns: RUNS });
    // The sequences are worth something only if they reach every state and every effect
    // (every state an actor can rest in: one with an unguarded eventless way out never holds it).
    const resting = table.states.filter((state) =>
      table.eventless(state.index).every((transition) => transition.guard !== null),
    );
    const everything = [
      ...resting.map((state) => JSON.stringify(state.value)),
      ...['read', 'write', 'pauseReading', 'resumeReading', 'close'],
    ];
    expect([...reached].sort()).to.include.members(everything);
  });

  describe('catches a table broken on purpose', () => {
    const broken: Record<string, CompiledMachine> = {
      'a flushed write that goes to closing instead of awaiting-request': tampered(
        table,
        (state, event, list) =>
          state === 'connection.serving.replying' && event === 'WRITTEN'
            ? list.map((transition) =>
                transition.guard?.name === 'outputFlushed'
                  ? { ...transition, to: stateIndex(table, 'connection.closing') }
                  : transition,
              )
            : undefined,
      ),
      'a queue-depth guard that is always true': tampered(table, (_, event, list) =>
        event === 'RECEIVED'
          ? list.map((transition) =>
              transition.guard?.name === 'fillsQueue'
                ? { ...transition, guard: { ...transition.guard, check: () => true } }
                : transition,
            )
          : undefined,
      ),
      'a half-close that forgets to record itself': tampered(table, (_, event, list) =>
        event === 'PEER_ENDED'
          ? list.map((transition) => ({ ...transition, actions: [] }))
          : undefined,
      ),
      'eventless transitions taken in the wrong order': tampered(table, (state, event, list) =>
        event === null && state === 'connection.serving.awaiting-request'
          ? [...list].reverse()
          : undefined,
      ),
      'an action run twice': tampered(table, (_, event, list) =>
        event === 'COMPUTED'
          ? list.map((transition) => ({
              ...transition,
              actions: [...transition.actions, ...transition.actions],
            }))
          : undefined,
      ),
    };
    for (const [bug, brokenTable] of Object.entries(broken)) {
      it(`with ${bug}`, () => {
        const outcome = fc.check(equivalence(brokenTable), { numRuns: RUNS });
        expect(outcome.failed, bug).to.equal(true);
      });
    }
  });
});
