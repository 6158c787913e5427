import { expect } from 'chai';
import { createActor, createMachine, fromCallback } from 'xstate';
import { combineObservers } from '../../actors/observe.js';
import { createTracer, formatStateValue } from '../../actors/trace.js';

/**
 * A door: `GO` opens it, and `opening` is left at once (an eventless
 * transition), so only a trace of microsteps shows it. It invokes a machine
 * of its own (`lock`) and a callback actor without states (`sensor`).
 */
const door = createMachine({
  id: 'door',
  initial: 'closed',
  invoke: [
    {
      id: 'lock',
      src: createMachine({
        id: 'lock',
        initial: 'locked',
        states: { locked: { on: { UNLOCK: 'unlocked' } }, unlocked: {} },
      }),
    },
    { id: 'sensor', src: fromCallback(() => {}) },
  ],
  states: {
    closed: { on: { GO: 'opening' } },
    opening: { always: 'open' },
    open: { initial: 'wide', states: { wide: {} } },
  },
});

const LINE = /^(\d\d:\d\d:\d\d\.\d{3}) (\S+) (\S+) (.+) → (.+)$/;

function traced(color = false) {
  const lines: string[] = [];
  const tracer = createTracer({ program: 'client', color, write: (line) => lines.push(line) });
  return { lines, tracer };
}

describe('actors/trace', () => {
  it('prints one line per state change: the time, the actor, the event, and from → to', () => {
    const { lines, tracer } = traced();
    const actor = createActor(door, { inspect: tracer('door.1') }).start();
    actor.send({ type: 'GO' });
    actor.stop();
    const parsed = lines.map((line) => LINE.exec(line)?.slice(2));
    expect(
      lines.every((line) => LINE.test(line)),
      lines.join('\n'),
    ).to.equal(true);
    expect(parsed).to.deep.include.members([
      ['client/door.1', 'xstate.init', '(start)', 'closed'],
      ['client/door.1/lock', 'xstate.init', '(start)', 'locked'],
      ['client/door.1', 'GO', 'closed', 'opening'],
      ['client/door.1', 'GO', 'opening', 'open.wide'],
    ]);
  });

  it('shows a state entered and left within one event, in order', () => {
    const { lines, tracer } = traced();
    const actor = createActor(door, { inspect: tracer('door.1') }).start();
    actor.send({ type: 'GO' });
    const door1 = lines
      .map((line) => LINE.exec(line)?.slice(2))
      .filter((fields) => fields?.[0] === 'client/door.1')
      .map((fields) => `${fields?.[2]} → ${fields?.[3]}`);
    expect(door1).to.deep.equal(['(start) → closed', 'closed → opening', 'opening → open.wide']);
    actor.stop();
  });

  it('says when an actor stops, and prints nothing for an actor without states', () => {
    const { lines, tracer } = traced();
    const actor = createActor(door, { inspect: tracer('door.1') }).start();
    actor.stop();
    expect(lines.some((line) => line.includes('client/door.1/sensor'))).to.equal(false);
    expect(lines.filter((line) => line.includes(' client/door.1 ')).at(-1)).to.match(
      / client\/door\.1 xstate\.stop closed → \(stopped\)$/,
    );
  });

  it('names each root by the name it is given, not by its session id', () => {
    const { lines, tracer } = traced();
    const first = createActor(door, { inspect: tracer('door.1') }).start();
    const second = createActor(door, { inspect: tracer('door.2') }).start();
    expect(lines.filter((line) => / client\/door\.[12] xstate\.init /.test(line))).to.have.length(
      2,
    );
    first.stop();
    second.stop();
  });

  it('is plain text when not on a terminal, and coloured with ANSI codes when asked', () => {
    const plain = traced(false);
    createActor(door, { inspect: plain.tracer('door.1') })
      .start()
      .stop();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for the escape character itself
    expect(plain.lines.some((line) => /\u001b\[/.test(line))).to.equal(false);
    const coloured = traced(true);
    createActor(door, { inspect: coloured.tracer('door.1') })
      .start()
      .stop();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for the escape character itself
    expect(coloured.lines.every((line) => /\u001b\[/.test(line))).to.equal(true);
  });

  it('works beside another observer of the same root (the inspector)', () => {
    const { lines, tracer } = traced();
    const seen: string[] = [];
    const both = combineObservers(tracer, () => ({ next: (event) => seen.push(event.type) }));
    createActor(door, { inspect: both('door.1') })
      .start()
      .stop();
    expect(lines).to.not.have.length(0);
    expect(seen).to.include('@xstate.snapshot');
  });

  describe('formatStateValue', () => {
    it('joins nested states with dots and shows parallel regions in braces', () => {
      expect(formatStateValue('waiting')).to.equal('waiting');
      expect(formatStateValue({ online: 'waiting' })).to.equal('online.waiting');
      expect(formatStateValue({ a: { b: 'c' } })).to.equal('a.b.c');
      expect(formatStateValue({ p: { left: 'x', right: 'y' } })).to.equal('p.{left.x, right.y}');
    });
  });
});
