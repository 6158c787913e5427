/**
 * The compiler: what it refuses, by name, and XState's algorithm on a machine
 * built to exercise it (nesting, re-entry, entry/exit order, wildcards,
 * eventless chains, parameters), checked against XState's interpreter.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { and, assign, createActor, raise, setup } from 'xstate';
import { MeteoError } from '../../../lib/errors.js';
import { effect, update } from '../../../lib/statechart/actions.js';
import { compileMachine } from '../../../lib/statechart/compile.js';
import { MachineActor } from '../../../lib/statechart/runtime.js';
import { acceptorMachine } from '../../../machines/acceptorMachine.js';
import { clientMachine } from '../../../machines/clientMachine.js';
import { connectionMachine } from '../../../machines/connectionMachine.js';

function refusal(build: () => unknown): string {
  try {
    build();
  } catch (err) {
    expect(err).to.be.instanceOf(MeteoError);
    expect(err).to.have.property('code', 'ERR_UNSUPPORTED_MACHINE');
    return (err as Error).message;
  }
  throw new Error('the compiler accepted the machine');
}

const plain = setup({});

describe('lib/statechart/compile', () => {
  describe('refuses what it cannot run exactly, naming it', () => {
    it('accepts the connection machine', () => {
      expect(compileMachine(connectionMachine).states.length).to.be.greaterThan(5);
    });

    it('refuses the acceptor machine: it has a delayed transition', () => {
      expect(refusal(() => compileMachine(acceptorMachine))).to.match(
        /state acceptor\.\w+ has delayed \(after\) transitions/,
      );
    });

    it('refuses the client machine: it invokes an actor', () => {
      expect(refusal(() => compileMachine(clientMachine))).to.match(/invokes an actor/);
    });

    const cases: Record<string, [() => unknown, RegExp]> = {
      'a parallel state': [
        () =>
          plain.createMachine({
            type: 'parallel',
            states: { a: {}, b: {} },
          }),
        /parallel state/,
      ],
      'a history state': [
        () =>
          plain.createMachine({
            initial: 'a',
            states: { a: { initial: 'x', states: { x: {}, h: { type: 'history' } } } },
          }),
        /history state/,
      ],
      'a final state below the top level': [
        () =>
          plain.createMachine({
            initial: 'a',
            states: { a: { initial: 'x', states: { x: { type: 'final' } } } },
          }),
        /final state .* not at the top level/,
      ],
      'an output': [
        () =>
          plain.createMachine({
            initial: 'a',
            output: () => 1,
            states: { a: { type: 'final' } },
          }),
        /output/,
      ],
      'a guard combinator': [
        () =>
          setup({ guards: { yes: () => true } }).createMachine({
            initial: 'a',
            states: { a: { on: { GO: { guard: and(['yes', 'yes']), target: 'b' } } }, b: {} },
          }),
        /guard .* not a plain predicate/,
      ],
      'a built-in action other than update() and effect()': [
        () =>
          setup({ actions: { bump: assign({}) } }).createMachine({
            initial: 'a',
            states: { a: { on: { GO: { actions: 'bump' } } } },
          }),
        /action bump .* built-in/,
      ],
      'a raise': [
        () =>
          plain.createMachine({
            initial: 'a',
            states: { a: { entry: raise({ type: 'GO' }) } },
          }),
        /built-in/,
      ],
      'an action nobody implemented': [
        () =>
          setup({}).createMachine({
            initial: 'a',
            states: { a: { on: { GO: { actions: 'missing' as never } } } },
          }),
        /action missing .* not implemented/,
      ],
    };
    for (const [feature, [build, named]] of Object.entries(cases)) {
      it(`refuses ${feature}`, () => {
        expect(refusal(() => compileMachine(build() as never))).to.match(named);
      });
    }
  });

  describe("runs XState's algorithm", () => {
    type Context = { readonly log: readonly string[]; readonly n: number };
    type Event =
      | { type: 'GO' }
      | { type: 'BACK' }
      | { type: 'AGAIN' }
      | { type: 'OUT' }
      | { type: 'IN' }
      | { type: 'x.y' }
      | { type: 'x.z' }
      | { type: 'OTHER' }
      | { type: 'COUNT'; by: number };
    const log = (entry: string) =>
      update<Context, Event, undefined, Event, never>(({ context }) => ({
        log: [...context.log, entry],
      }));
    /** Entry and exit of every state, the transitions' own actions, and effects, into one log. */
    const machine = setup({
      types: {
        context: {} as Context,
        events: {} as Event,
        emitted: {} as { type: 'said'; what: string },
      },
      actions: {
        enterRoot: log('enter root'),
        enterA: log('enter a'),
        exitA: log('exit a'),
        enterA1: log('enter a1'),
        exitA1: log('exit a1'),
        enterA2: log('enter a2'),
        exitA2: log('exit a2'),
        enterB: log('enter b'),
        exitB: log('exit b'),
        go: log('go'),
        count: update(({ context }, params: { by: number }) => ({ n: context.n + params.by })),
        say: effect(({ context }, params: { what: string }) => ({
          type: 'said',
          what: `${params.what} at ${context.n}`,
        })),
        note: ({ context }) => {
          if (context.n > 1_000) throw new Error('a plain action that fails');
        },
      },
      guards: {
        below: ({ context }, params: { limit: number }) => context.n < params.limit,
      },
    }).createMachine({
      id: 'm',
      context: { log: [], n: 0 },
      entry: 'enterRoot',
      initial: 'a',
      on: {
        OUT: { target: '.b', actions: 'go' },
        'x.*': { actions: { type: 'say', params: { what: 'any x' } } },
        '*': { actions: 'note' },
      },
      states: {
        a: {
          entry: 'enterA',
          exit: 'exitA',
          initial: 'a1',
          on: {
            AGAIN: { target: 'a', reenter: true, actions: 'go' },
            'x.y': { actions: { type: 'say', params: { what: 'x.y in a' } } },
          },
          states: {
            a1: {
              entry: 'enterA1',
              exit: 'exitA1',
              on: {
                GO: { target: 'a2', actions: 'go' },
                COUNT: [
                  {
                    guard: { type: 'below', params: { limit: 3 } },
                    actions: {
                      type: 'count',
                      params: ({ event }) => ({ by: event.type === 'COUNT' ? event.by : 0 }),
                    },
                  },
                  { actions: { type: 'say', params: { what: 'too many' } } },
                ],
              },
              always: {
                guard: { type: 'below', params: { limit: -1 } },
                target: 'a2',
              },
            },
            a2: {
              entry: 'enterA2',
              exit: 'exitA2',
              on: { BACK: 'a1', AGAIN: { target: 'a2', reenter: true } },
              always: [
                {
                  guard: { type: 'below', params: { limit: 1 } },
                  actions: { type: 'count', params: { by: 1 } },
                },
              ],
            },
          },
        },
        b: {
          entry: 'enterB',
          exit: 'exitB',
          on: { IN: '#m.a.a2', BACK: 'a' },
        },
      },
    });

    it('takes the same steps as the interpreter, whatever the events (property)', () => {
      const table = compileMachine(machine);
      const event = fc.oneof(
        ...(['GO', 'BACK', 'AGAIN', 'OUT', 'IN', 'x.y', 'x.z', 'OTHER'] as const).map((type) =>
          fc.constant({ type } as Event),
        ),
        fc.integer({ min: -2, max: 2 }).map((by): Event => ({ type: 'COUNT', by })),
      );
      fc.assert(
        fc.property(fc.array(event, { maxLength: 30 }), (events) => {
          const interpreted = createActor(machine);
          const compiled = new MachineActor<typeof machine>(table, {
            id: 'm',
            input: undefined,
          });
          const said = { interpreted: [] as string[], compiled: [] as string[] };
          interpreted.on('said', (e) => said.interpreted.push(e.what));
          compiled.on('said', (e) => said.compiled.push(e.what));
          interpreted.subscribe({ error: () => {} });
          compiled.subscribe({ error: () => {} });
          interpreted.start();
          compiled.start();
          for (const next of [undefined, ...events]) {
            if (next) {
              interpreted.send(next);
              compiled.send(next);
            }
            const expected = interpreted.getSnapshot();
            const actual = compiled.getSnapshot();
            expect(actual.status).to.equal(expected.status);
            expect(actual.value).to.deep.equal(expected.value);
            expect(actual.context).to.deep.equal(expected.context);
            expect(said.compiled).to.deep.equal(said.interpreted);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('runs exit actions innermost first, then the transition’s, then entry actions outermost first', () => {
      const actor = new MachineActor<typeof machine>(compileMachine(machine), {
        id: 'm',
        input: undefined,
      }).start();
      actor.send({ type: 'OUT' });
      expect(actor.getSnapshot().context.log).to.deep.equal([
        'enter root',
        'enter a',
        'enter a1',
        'exit a1',
        'exit a',
        'go',
        'enter b',
      ]);
    });
  });
});
