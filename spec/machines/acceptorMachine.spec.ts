import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { type Actor, createActor, SimulatedClock } from 'xstate';
import { type Transport, transport } from '../../lib/transport.js';
import {
  type AcceptorEffect,
  type AcceptorInput,
  acceptorMachine,
} from '../../machines/acceptorMachine.js';

const INPUT: AcceptorInput = { drainTimeoutMs: 5_000, readyGraceMs: 2_000 };

describe('machines/acceptorMachine', () => {
  let clock: SimulatedClock;
  let actor: Actor<typeof acceptorMachine>;
  /** Every effect the machine asked for, in order. */
  let effects: AcceptorEffect[];

  function start(input: Partial<AcceptorInput> = {}): void {
    clock = new SimulatedClock();
    effects = [];
    actor = createActor(acceptorMachine, { clock, input: { ...INPUT, ...input } });
    actor.on('*', (effect) => effects.push(effect));
    actor.start();
  }

  const peer = (): Transport => transport(new PassThrough(), 'peer');
  const context = () => actor.getSnapshot().context;
  const value = () => actor.getSnapshot().value;
  const calls = () => effects.map((effect) => effect.type);

  function listen(): void {
    actor.send({ type: 'LISTENING', address: '127.0.0.1', port: 4242 });
  }

  afterEach(() => actor.stop());

  describe('binding and listening', () => {
    beforeEach(() => start());

    it('asks to listen and waits in binding', () => {
      expect(value()).to.equal('binding');
      expect(calls()).to.deep.equal(['listen']);
      expect(context().listening).to.equal(null);
    });

    it('records the address and listens on LISTENING', () => {
      listen();
      expect(value()).to.equal('listening');
      expect(context().listening).to.deep.equal({ address: '127.0.0.1', port: 4242 });
    });

    it('fails with the listener’s code when it cannot listen', () => {
      actor.send({
        type: 'LISTEN_FAILED',
        code: 'ERR_ADDRESS_IN_USE',
        message: 'cannot listen on 127.0.0.1:4242: the address is in use',
      });
      expect(value()).to.equal('failed');
      expect(actor.getSnapshot().status).to.equal('done');
      expect(context().failure?.code).to.equal('ERR_ADDRESS_IN_USE');
    });

    it('hands every accepted socket to the supervisor, in order', () => {
      listen();
      const first = peer();
      const second = peer();
      actor.send({ type: 'CONNECTION', transport: first });
      actor.send({ type: 'CONNECTION', transport: second });
      expect(effects.slice(1)).to.deep.equal([
        { type: 'admit', transport: first },
        { type: 'admit', transport: second },
      ]);
    });

    it('stops at once when told to stop before it listens', () => {
      actor.send({ type: 'SHUTDOWN' });
      expect(value()).to.equal('stopped');
      expect(calls()).to.deep.equal(['listen', 'stopListening']);
    });
  });

  describe('pausing while refusals linger', () => {
    beforeEach(() => {
      start();
      listen();
      effects.length = 0;
    });

    it('stops listening on REFUSALS_FULL and listens again on REFUSALS_CLEARED', () => {
      actor.send({ type: 'REFUSALS_FULL' });
      expect(value()).to.equal('paused');
      actor.send({ type: 'REFUSALS_CLEARED' });
      expect(value()).to.equal('listening');
      expect(calls()).to.deep.equal(['stopListening', 'listen']);
    });

    it('still hands on sockets accepted before the listener stopped', () => {
      actor.send({ type: 'REFUSALS_FULL' });
      actor.send({ type: 'CONNECTION', transport: peer() });
      expect(calls()).to.deep.equal(['stopListening', 'admit']);
    });

    it('drains and records the failure when it cannot listen again', () => {
      actor.send({ type: 'REFUSALS_FULL' });
      actor.send({ type: 'REFUSALS_CLEARED' });
      actor.send({ type: 'LISTEN_FAILED', code: 'ERR_ADDRESS_IN_USE', message: 'taken' });
      expect(value()).to.equal('draining');
      expect(context().failure?.code).to.equal('ERR_ADDRESS_IN_USE');
      expect(calls()).to.include('drainConnections');
    });
  });

  describe('draining', () => {
    beforeEach(() => {
      start();
      listen();
      effects.length = 0;
    });

    it('on SHUTDOWN stops listening and drains the connections', () => {
      actor.send({ type: 'SHUTDOWN' });
      expect(value()).to.equal('draining');
      expect(calls()).to.deep.equal(['stopListening', 'drainConnections']);
    });

    it('stops once the supervisor says the last connection has closed', () => {
      actor.send({ type: 'SHUTDOWN' });
      actor.send({ type: 'ALL_CLOSED' });
      expect(value()).to.equal('stopped');
      expect(actor.getSnapshot().status).to.equal('done');
      expect(calls()).to.not.include('abortConnections');
    });

    it('closes what is still open at the drain deadline, and stops', () => {
      actor.send({ type: 'SHUTDOWN' });
      clock.increment(4_999);
      expect(value()).to.equal('draining');
      clock.increment(1);
      expect(value()).to.equal('stopped');
      expect(calls()).to.deep.equal(['stopListening', 'drainConnections', 'abortConnections']);
    });

    it('drains once however many times SHUTDOWN comes', () => {
      actor.send({ type: 'SHUTDOWN' });
      actor.send({ type: 'SHUTDOWN' });
      expect(calls().filter((call) => call === 'drainConnections')).to.have.length(1);
    });

    it('hands a socket accepted just before the stop to the supervisor, which refuses it', () => {
      actor.send({ type: 'SHUTDOWN' });
      actor.send({ type: 'CONNECTION', transport: peer() });
      expect(calls().at(-1)).to.equal('admit');
    });
  });

  describe('retiring behind a load balancer', () => {
    beforeEach(() => {
      start();
      listen();
      effects.length = 0;
    });

    it('keeps accepting for the ready grace, then drains', () => {
      actor.send({ type: 'RETIRE' });
      expect(value()).to.equal('retiring');
      actor.send({ type: 'CONNECTION', transport: peer() });
      expect(calls()).to.deep.equal(['admit']);
      clock.increment(1_999);
      expect(value()).to.equal('retiring');
      clock.increment(1);
      expect(value()).to.equal('draining');
      expect(calls()).to.deep.equal(['admit', 'stopListening', 'drainConnections']);
    });

    it('drains at once on SHUTDOWN during the grace', () => {
      actor.send({ type: 'RETIRE' });
      actor.send({ type: 'SHUTDOWN' });
      expect(value()).to.equal('draining');
    });

    it('drains at once when it is not accepting anyway', () => {
      actor.send({ type: 'REFUSALS_FULL' });
      actor.send({ type: 'RETIRE' });
      expect(value()).to.equal('draining');
    });
  });
});
