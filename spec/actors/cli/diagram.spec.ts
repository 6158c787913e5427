import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { and, assign, fromCallback, not, raise, setup } from 'xstate';
import { diagramsDocument, machineDiagram } from '../../../actors/cli/diagram.js';
import { MACHINE_SECTIONS, MACHINES_DOC, machinesDocument } from '../../../actors/cli/diagrams.js';

/** The lines of a diagram, without indentation, for `include` checks. */
function linesOf(diagram: string): string[] {
  return diagram.split('\n').map((line) => line.trim());
}

/**
 * The statements the generator writes, each checked against Mermaid's
 * state-diagram lexer: ids are `[A-Za-z0-9_]` (no `-`, `:`, spaces or `{`),
 * a label ends at a newline or `;` and may not hold `::`, a state name ends
 * at `"`. Returns the lines that are none of them.
 */
function unreadableLines(diagram: string): string[] {
  const id = '[A-Za-z_][A-Za-z0-9_]*';
  const labelText = '(?:[^:\\n;]|:[^:\\n;])+';
  const forms = [
    /^stateDiagram-v2$/,
    new RegExp(`^state "[^"\\n]*" as ${id}( \\{)?$`),
    /^\}$/,
    /^--$/,
    new RegExp(`^${id} : ${labelText}$`),
    new RegExp(`^(${id}|\\[\\*\\]) --> (${id}|\\[\\*\\])( : ${labelText})?$`),
  ];
  return linesOf(diagram).filter((line) => line !== '' && !forms.some((form) => form.test(line)));
}

/** Where two texts first differ, for a message short enough to read. */
function firstDifference(actual: string, expected: string): string {
  const have = actual.split('\n');
  const want = expected.split('\n');
  const at = want.findIndex((line, i) => have[i] !== line);
  if (at === -1) return `the file has ${have.length - want.length} lines too many`;
  return `line ${at + 1} is ${JSON.stringify(have[at] ?? null)}, should be ${JSON.stringify(want[at])}`;
}

const nested = setup({
  guards: { isReady: () => true, isLate: () => false },
  delays: { pollInterval: 1_000 },
}).createMachine({
  id: 'nested',
  initial: 'outer',
  states: {
    outer: {
      initial: 'first',
      states: {
        first: { on: { NEXT: 'second' } },
        second: { on: { BACK: 'first' } },
      },
      on: { LEAVE: 'elsewhere' },
    },
    elsewhere: {
      after: { pollInterval: 'outer', 500: '#nested.outer.second' },
    },
    deciding: {
      always: [{ guard: 'isReady', target: 'outer' }, { target: 'elsewhere' }],
    },
  },
});

describe('actors/cli/diagram', () => {
  describe('machineDiagram', () => {
    it('declares every state, with nested states inside their composite state', () => {
      const diagram = machineDiagram(nested);
      const lines = linesOf(diagram);
      expect(lines[0]).to.equal('stateDiagram-v2');
      expect(lines).to.include.members([
        'state "outer" as outer {',
        'state "first" as first',
        'state "second" as second',
        'state "elsewhere" as elsewhere',
        'state "deciding" as deciding',
      ]);
      // `first` and `second` are declared in `outer`'s block, `elsewhere` after it.
      const outer = diagram.slice(diagram.indexOf('state "outer" as outer {'));
      const closing = outer.indexOf('\n  }\n');
      expect(outer.indexOf('state "first" as first')).to.be.lessThan(closing);
      expect(outer.indexOf('state "second" as second')).to.be.lessThan(closing);
      expect(outer.indexOf('state "elsewhere" as elsewhere')).to.be.greaterThan(closing);
    });

    it('points [*] at the initial state of the machine and of each composite state', () => {
      const lines = linesOf(machineDiagram(nested));
      expect(lines).to.include.members(['[*] --> outer', '[*] --> first']);
    });

    it('labels each transition with its event, from the state that defines it', () => {
      const lines = linesOf(machineDiagram(nested));
      expect(lines).to.include.members([
        'first --> second : NEXT',
        'second --> first : BACK',
        'outer --> elsewhere : LEAVE',
      ]);
    });

    it('labels a delayed transition with the delay’s name, or its milliseconds', () => {
      const lines = linesOf(machineDiagram(nested));
      expect(lines).to.include.members([
        'elsewhere --> outer : after pollInterval',
        'elsewhere --> second : after 500 ms',
      ]);
    });

    it('resolves a #id target to the state it names', () => {
      expect(linesOf(machineDiagram(nested))).to.include('elsewhere --> second : after 500 ms');
    });

    it('labels an eventless transition "always", with its guard, and the unguarded last one "else"', () => {
      const lines = linesOf(machineDiagram(nested));
      expect(lines).to.include.members([
        'deciding --> outer : always [isReady]',
        'deciding --> elsewhere : always [else]',
      ]);
    });

    it('shows guards by name, and not(), and() as written', () => {
      const machine = setup({
        guards: { isOpen: () => true, isFull: () => false, isLate: () => false },
      }).createMachine({
        id: 'guarded',
        initial: 'idle',
        states: {
          idle: {
            on: {
              GO: [
                { guard: 'isOpen', target: 'busy' },
                { guard: not('isFull'), target: 'busy' },
                { guard: and(['isOpen', not('isLate')]), target: 'busy' },
                { guard: { type: 'isLate' }, target: 'busy' },
              ],
            },
          },
          busy: {},
        },
      });
      expect(linesOf(machineDiagram(machine))).to.include.members([
        'idle --> busy : GO [isOpen]',
        'idle --> busy : GO [not(isFull)]',
        'idle --> busy : GO [and(isOpen, not(isLate))]',
        'idle --> busy : GO [isLate]',
      ]);
    });

    it('adds a transition’s actions after a slash, naming XState’s own by their kind', () => {
      const machine = setup({ actions: { countUp: () => {} } }).createMachine({
        id: 'acting',
        initial: 'a',
        states: {
          a: { on: { GO: { target: 'b', actions: ['countUp', assign({})] } } },
          b: {},
        },
      });
      expect(linesOf(machineDiagram(machine))).to.include('a --> b : GO / countUp, assign');
    });

    it('marks final states with an arrow to [*] in their own composite', () => {
      const machine = setup({}).createMachine({
        id: 'ending',
        initial: 'working',
        states: {
          working: {
            initial: 'step',
            states: { step: { on: { DONE: 'finished' } }, finished: { type: 'final' } },
          },
          stopped: { type: 'final' },
        },
      });
      const diagram = machineDiagram(machine);
      const lines = linesOf(diagram);
      expect(lines).to.include.members(['finished --> [*]', 'stopped --> [*]']);
      // Inside `working`'s block: before the brace that closes it.
      const working = diagram.slice(diagram.indexOf('state "working" as working {'));
      expect(working.indexOf('finished --> [*]')).to.be.lessThan(working.indexOf('}'));
    });

    it('draws the machine’s own transitions from an "any state" box that lists its targetless ones', () => {
      const machine = setup({ actions: { record: () => {} } }).createMachine({
        id: 'stoppable',
        initial: 'running',
        on: { STOP: '.stopped', PING: { actions: 'record' }, NOISE: {} },
        states: { running: {}, stopped: { type: 'final' } },
      });
      expect(linesOf(machineDiagram(machine))).to.include.members([
        'state "any state" as any_state',
        'any_state : PING / record',
        'any_state : NOISE / (ignored)',
        'any_state --> stopped : STOP',
      ]);
    });

    it('draws a composite state’s transition to a state outside it from its edge', () => {
      expect(linesOf(machineDiagram(nested))).to.include('outer --> elsewhere : LEAVE');
    });

    it('resolves a .child target of a composite state to that child, drawn from inside it', () => {
      const machine = setup({}).createMachine({
        id: 'parent',
        initial: 'group',
        states: {
          group: {
            initial: 'a',
            states: { a: {}, b: {} },
            on: { RESET: '.b' },
          },
        },
      });
      // From a box inside `group`: an arrow from a composite to its own child is one
      // Mermaid's layouts cannot draw.
      expect(linesOf(machineDiagram(machine))).to.include.members([
        'state "any state in group" as group_any',
        'group_any --> b : RESET',
      ]);
    });

    it('says in words a transition that re-enters the whole machine, which has no box to point at', () => {
      const machine = setup({}).createMachine({
        id: 'looping',
        initial: 'a',
        states: { a: { on: { AGAIN: { target: '#looping', reenter: true } } } },
      });
      expect(linesOf(machineDiagram(machine))).to.include('a : AGAIN → restart');
    });

    it('gives a dashed state name an id Mermaid accepts, with the name as its label', () => {
      const machine = setup({}).createMachine({
        id: 'dashed',
        initial: 'awaiting-request',
        states: { 'awaiting-request': { on: { GO: 'in-flight' } }, 'in-flight': {} },
      });
      expect(linesOf(machineDiagram(machine))).to.include.members([
        'state "awaiting-request" as awaiting_request',
        'state "in-flight" as in_flight',
        '[*] --> awaiting_request',
        'awaiting_request --> in_flight : GO',
      ]);
    });

    it('gives states of the same name in different composites different ids', () => {
      const machine = setup({}).createMachine({
        id: 'twins',
        initial: 'left',
        states: {
          left: { initial: 'idle', states: { idle: { on: { GO: '#twins.right.idle' } } } },
          right: { initial: 'idle', states: { idle: {} } },
        },
      });
      expect(linesOf(machineDiagram(machine))).to.include.members([
        'state "idle" as twins_left_idle',
        'state "idle" as twins_right_idle',
        'twins_left_idle --> twins_right_idle : GO',
      ]);
    });

    it('avoids the words of Mermaid’s grammar as ids', () => {
      const machine = setup({}).createMachine({
        id: 'words',
        initial: 'state',
        states: { state: { on: { GO: 'end' } }, end: { type: 'final' } },
      });
      expect(linesOf(machineDiagram(machine))).to.include.members([
        'state "state" as state_',
        'state "end" as end_',
        'state_ --> end_ : GO',
      ]);
    });

    it('writes entry and exit actions inside an atomic state, without the timers of its delays', () => {
      const machine = setup({
        actions: { sendHello: () => {}, stopTimer: () => {} },
        delays: { requestTimeout: 100 },
      }).createMachine({
        id: 'greeter',
        initial: 'greeting',
        states: {
          greeting: {
            entry: ['sendHello', raise({ type: 'POKE' })],
            exit: 'stopTimer',
            after: { requestTimeout: 'gone' },
          },
          gone: {},
        },
      });
      const lines = linesOf(machineDiagram(machine));
      expect(lines).to.include.members([
        'greeting : entry / sendHello, raise',
        'greeting : exit / stopTimer',
        'greeting --> gone : after requestTimeout',
      ]);
    });

    it('writes the actors a state invokes, and its transitions that do not leave it, inside it', () => {
      const machine = setup({
        actors: { listener: fromCallback(() => {}), clock: fromCallback(() => {}) },
        guards: { isFull: () => false },
        actions: { refuse: () => {} },
      }).createMachine({
        id: 'server',
        initial: 'open',
        states: {
          open: {
            invoke: { src: 'listener', id: 'link' },
            initial: 'listening',
            states: {
              listening: {
                invoke: { src: 'clock' },
                on: { CONNECTION: { guard: 'isFull', actions: 'refuse' } },
              },
            },
          },
        },
      });
      const diagram = machineDiagram(machine);
      expect(linesOf(diagram)).to.include.members([
        'listening : invokes clock',
        'listening : CONNECTION [isFull] / refuse',
        'state "any state in open" as open_any',
        'open_any : invokes listener as link',
      ]);
      // The box is inside `open`, before the brace that closes it.
      const open = diagram.slice(diagram.indexOf('state "open" as open {'));
      expect(open.indexOf('open_any : invokes')).to.be.lessThan(open.indexOf('\n  }\n'));
    });

    it('splits the regions of a parallel state with --, inside a composite even for the machine', () => {
      const machine = setup({}).createMachine({
        id: 'both',
        type: 'parallel',
        on: { RESET: '.lights.off' },
        states: {
          lights: { initial: 'off', states: { off: { on: { FLIP: 'on' } }, on: {} } },
          sound: { initial: 'quiet', states: { quiet: {} } },
        },
      });
      const lines = linesOf(machineDiagram(machine));
      // Mermaid reads `--` only inside a composite state.
      expect(lines[1]).to.equal('state "both" as both {');
      const lightsAt = lines.indexOf('state "lights" as lights {');
      const soundAt = lines.indexOf('state "sound" as sound {');
      expect(lines.slice(lightsAt, soundAt)).to.include('--');
      expect(lines).not.to.include('[*] --> lights');
      expect(lines).to.include.members(['off --> on : FLIP', 'any_state --> off : RESET']);
    });

    it('gives the same text, byte for byte, each time', () => {
      expect(machineDiagram(nested)).to.equal(machineDiagram(nested));
    });

    it('writes only statements that Mermaid’s state-diagram grammar reads', () => {
      for (const { title, machine } of MACHINE_SECTIONS) {
        expect(unreadableLines(machineDiagram(machine)), title).to.deep.equal([]);
      }
      expect(unreadableLines(machineDiagram(nested))).to.deep.equal([]);
    });
  });

  describe('diagramsDocument', () => {
    it('gives each machine a heading, its description and a mermaid block', () => {
      const document = diagramsDocument([
        {
          title: 'Nested',
          source: 'spec/nested.ts',
          description: 'A test machine.',
          machine: nested,
        },
      ]);
      expect(document).to.include('## Nested\n');
      expect(document).to.include('A test machine.\n');
      expect(document).to.include(`\`\`\`mermaid\n${machineDiagram(nested)}\`\`\`\n`);
    });
  });

  describe('docs/machines.md', () => {
    it('is what `npm run diagrams` writes for the machines as they are', () => {
      let written = '';
      try {
        written = readFileSync(MACHINES_DOC, 'utf8');
      } catch {
        // Missing: as out of date as can be.
      }
      const expected = machinesDocument();
      expect(
        written === expected,
        `docs/machines.md is out of date with the machines: run \`npm run diagrams\` (${firstDifference(written, expected)})`,
      ).to.equal(true);
    });
  });
});
