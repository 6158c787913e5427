/**
 * The lean actor's contract, where the server relies on XState's: the
 * mailbox, when effects and observers run, failure, completion, stopping,
 * and inspection.
 */
import { expect } from 'chai';
import { setup } from 'xstate';
import { effect, update } from '../../../lib/statechart/actions.js';
import { compileMachine } from '../../../lib/statechart/compile.js';
import { MachineActor } from '../../../lib/statechart/runtime.js';

type Event = { type: 'PING'; n: number } | { type: 'BOOM' } | { type: 'END' };

const machine = setup({
  types: {
    context: {} as { readonly pings: readonly number[] },
    events: {} as Event,
    emitted: {} as { type: 'pong'; n: number } | { type: 'started' },
  },
  actions: {
    record: update(({ context, event }) => ({
      pings: event.type === 'PING' ? [...context.pings, event.n] : context.pings,
    })),
    pong: effect(({ event }) => ({ type: 'pong', n: event.type === 'PING' ? event.n : -1 })),
    announce: effect(() => ({ type: 'started' })),
    explode: () => {
      throw new Error('boom');
    },
  },
}).createMachine({
  context: { pings: [] },
  initial: 'up',
  entry: 'announce',
  states: {
    up: {
      on: {
        PING: { actions: ['record', 'pong'] },
        BOOM: { actions: ['pong', 'explode'] },
        END: 'down',
      },
    },
    down: { type: 'final' },
  },
});

const table = compileMachine(machine);
const start = () => new MachineActor<typeof machine>(table, { id: 'm.1', input: undefined });

describe('lib/statechart/runtime: MachineActor', () => {
  it('delivers the initial effects at start, not before', () => {
    const actor = start();
    const effects: string[] = [];
    actor.on('*', (e) => effects.push(e.type));
    expect(effects).to.deep.equal([]);
    actor.start();
    expect(effects).to.deep.equal(['started']);
  });

  it('keeps events sent before start, and processes them in order once started', () => {
    const actor = start();
    actor.send({ type: 'PING', n: 1 });
    actor.send({ type: 'PING', n: 2 });
    expect(actor.getSnapshot().context.pings).to.deep.equal([]);
    actor.start();
    expect(actor.getSnapshot().context.pings).to.deep.equal([1, 2]);
  });

  it('queues an event sent by an effect listener behind the event being processed', () => {
    const actor = start();
    const order: string[] = [];
    actor.on('pong', ({ n }) => {
      order.push(`pong ${n} seen with pings ${actor.getSnapshot().context.pings.join(',')}`);
      if (n < 3) actor.send({ type: 'PING', n: n + 1 });
    });
    actor.start();
    actor.send({ type: 'PING', n: 1 });
    expect(order).to.deep.equal([
      'pong 1 seen with pings 1',
      'pong 2 seen with pings 1,2',
      'pong 3 seen with pings 1,2,3',
    ]);
  });

  it('delivers effects after the event is processed and before observers see the snapshot', () => {
    const actor = start();
    const order: string[] = [];
    actor.on('pong', () => order.push('effect'));
    actor.subscribe(() => order.push('snapshot'));
    actor.start();
    order.length = 0;
    actor.send({ type: 'PING', n: 1 });
    expect(order).to.deep.equal(['effect', 'snapshot']);
  });

  it('fails on a throwing action: its effects are dropped, observers hear the error, later events are not taken', () => {
    const actor = start();
    const effects: string[] = [];
    let failure: unknown;
    actor.on('*', (e) => effects.push(e.type));
    actor.subscribe({ error: (err) => (failure = err) });
    actor.start();
    effects.length = 0;
    actor.send({ type: 'BOOM' });
    expect(actor.getSnapshot().status).to.equal('error');
    expect(String(failure)).to.include('boom');
    expect(effects).to.deep.equal([]);
    actor.send({ type: 'PING', n: 9 });
    expect(actor.getSnapshot().context.pings).to.deep.equal([]);
  });

  it('completes at a top-level final state and takes nothing after', () => {
    const actor = start();
    let completed = 0;
    actor.subscribe({ complete: () => completed++ });
    actor.start();
    actor.send({ type: 'END' });
    expect(actor.getSnapshot()).to.include({ status: 'done', value: 'down' });
    expect(completed).to.equal(1);
    actor.send({ type: 'PING', n: 1 });
    expect(actor.getSnapshot().context.pings).to.deep.equal([]);
  });

  it('stops where it stands: observers complete, listeners hear nothing more', () => {
    const actor = start();
    let completed = 0;
    const effects: string[] = [];
    actor.on('*', (e) => effects.push(e.type));
    actor.subscribe({ complete: () => completed++ });
    actor.start();
    actor.stop();
    actor.send({ type: 'PING', n: 1 });
    expect(actor.getSnapshot().status).to.equal('stopped');
    expect(completed).to.equal(1);
    expect(effects).to.deep.equal(['started']);
  });

  it('sends an inspector its events, microsteps and snapshots only while it watches', () => {
    const actor = start().start();
    const seen: string[] = [];
    const watching = actor.inspect((event) => seen.push(event.type));
    actor.send({ type: 'PING', n: 1 });
    expect(seen).to.deep.equal(['@xstate.event', '@xstate.microstep', '@xstate.snapshot']);
    watching.unsubscribe();
    actor.send({ type: 'PING', n: 2 });
    expect(seen).to.have.length(3);
  });
});
