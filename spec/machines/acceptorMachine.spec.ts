import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { type Actor, createActor, SimulatedClock, toPromise } from 'xstate';
import type { ErrorCode } from '../../lib/errors.js';
import { type Transport, transport } from '../../lib/transport.js';
import {
  type AcceptorEvent,
  type AcceptorInput,
  acceptorMachine,
} from '../../machines/acceptorMachine.js';
import { type FakeCallback, fakeCallback } from '../helpers/fakes.js';

const INPUT: AcceptorInput = { maxConnections: 3, drainTimeoutMs: 5_000 };

describe('machines/acceptorMachine', () => {
  let clock: SimulatedClock;
  let listener: FakeCallback<AcceptorEvent, AcceptorEvent>;
  let actor: Actor<typeof acceptorMachine>;
  let started: { transport: Transport; connection: number }[];
  let refused: { transport: Transport; code: ErrorCode }[];
  let shutdowns: number;
  let aborts: number;

  function start(input: Partial<AcceptorInput> = {}): void {
    clock = new SimulatedClock();
    listener = fakeCallback<AcceptorEvent, AcceptorEvent>();
    started = [];
    refused = [];
    shutdowns = 0;
    aborts = 0;
    const logic = acceptorMachine.provide({
      actors: { listener: listener.logic },
      actions: {
        startConnection: (_, params) => started.push(params),
        refuseConnection: (_, { transport, code }) => refused.push({ transport, code }),
        shutdownConnections: () => shutdowns++,
        abortConnections: () => aborts++,
      },
    });
    actor = createActor(logic, { clock, input: { ...INPUT, ...input } });
    actor.start();
  }

  const peer = (): Transport => transport(new PassThrough(), 'peer');
  const context = () => actor.getSnapshot().context;
  const value = () => actor.getSnapshot().value;

  function listen(): void {
    listener.current.sendBack({ type: 'LISTENING', address: '127.0.0.1', port: 4242 });
  }

  /** A socket the listener accepted. */
  function accept(): Transport {
    const accepted = peer();
    listener.current.sendBack({ type: 'CONNECTION', transport: accepted });
    return accepted;
  }

  /** A connection actor, the acceptor's child, reached its final state: XState tells the parent so. */
  const closed = (connection: number): void => {
    actor.send({ type: `xstate.done.actor.connection.${connection}` });
  };

  afterEach(() => actor.stop());

  describe('listening', () => {
    beforeEach(() => start());

    it('starts its listener and waits in binding', () => {
      expect(value()).to.deep.equal({ open: 'binding' });
      expect(listener.instances).to.have.length(1);
      expect(context().listening).to.equal(null);
    });

    it('records the address and listens on LISTENING', () => {
      listen();
      expect(value()).to.deep.equal({ open: 'listening' });
      expect(context().listening).to.deep.equal({ address: '127.0.0.1', port: 4242 });
    });

    it('ends in failed, with the code, on LISTEN_FAILED', async () => {
      const finished = toPromise(actor);
      listener.current.sendBack({
        type: 'LISTEN_FAILED',
        code: 'ERR_ADDRESS_IN_USE',
        message: 'the address is in use',
      });
      expect(value()).to.equal('failed');
      expect(actor.getSnapshot().status).to.equal('done');
      expect(context().failure?.code).to.equal('ERR_ADDRESS_IN_USE');
      expect(context().listening).to.equal(null);
      expect(listener.current.stopped).to.equal(true);
      await finished;
    });
  });

  describe('accepting', () => {
    beforeEach(() => {
      start();
      listen();
    });

    it('starts a connection for each new socket, numbered 1, 2, 3', () => {
      const sockets = [accept(), accept(), accept()];
      expect(started.map((s) => s.connection)).to.deep.equal([1, 2, 3]);
      started.forEach((s, i) => {
        expect(s.transport).to.equal(sockets[i]);
      });
      expect(context()).to.include({ open: 3, accepted: 3, rejected: 0 });
      expect(refused).to.deep.equal([]);
    });

    it('refuses a socket past maxConnections with ERR_TOO_MANY_CONNECTIONS, keeping the open count', () => {
      accept();
      accept();
      accept();
      const extra = accept();
      expect(refused).to.have.length(1);
      expect(refused[0]?.code).to.equal('ERR_TOO_MANY_CONNECTIONS');
      expect(refused[0]?.transport).to.equal(extra);
      expect(started).to.have.length(3);
      expect(context()).to.include({ open: 3, accepted: 3, rejected: 1 });
      expect(value()).to.deep.equal({ open: 'listening' });
    });

    it('accepts again once a connection closes, numbering on from the last', () => {
      accept();
      accept();
      accept();
      accept();
      closed(2);
      expect(context().open).to.equal(2);
      accept();
      expect(refused).to.have.length(1);
      expect(started.map((s) => s.connection)).to.deep.equal([1, 2, 3, 4]);
      expect(context()).to.include({ open: 3, accepted: 4, rejected: 1 });
    });

    it('counts a connection that failed as closed, and carries on', () => {
      accept();
      accept();
      actor.send({ type: 'xstate.error.actor.connection.1', error: new Error('fault') });
      expect(actor.getSnapshot().status).to.equal('active');
      expect(context().open).to.equal(1);
    });

    it('is not moved by the end of an actor that is not a connection', () => {
      accept();
      actor.send({ type: 'xstate.done.actor.somebody-else' } as never);
      expect(context().open).to.equal(1);
    });
  });

  describe('shutting down', () => {
    it('drains: tells the connections, stops listening, refuses newcomers, and stops once none is open', async () => {
      start();
      listen();
      accept();
      accept();
      const finished = toPromise(actor);

      actor.send({ type: 'SHUTDOWN' });
      expect(value()).to.equal('draining');
      expect(shutdowns).to.equal(1);
      expect(listener.current.stopped, 'the listener’s cleanup ran').to.equal(true);

      const late = peer();
      actor.send({ type: 'CONNECTION', transport: late });
      expect(refused).to.deep.equal([{ transport: late, code: 'ERR_SHUTTING_DOWN' }]);
      expect(started).to.have.length(2);
      expect(context().open).to.equal(2);
      expect(context().rejected, 'a refusal while draining is counted').to.equal(1);

      closed(1);
      expect(value()).to.equal('draining');
      closed(2);
      expect(value()).to.equal('stopped');
      expect(actor.getSnapshot().status).to.equal('done');
      expect(aborts).to.equal(0);
      expect(shutdowns).to.equal(1);
      await finished;
    });

    it('aborts the connections still open when the drain deadline passes, then stops', () => {
      start();
      listen();
      accept();
      actor.send({ type: 'SHUTDOWN' });
      clock.increment(INPUT.drainTimeoutMs - 1);
      expect(value()).to.equal('draining');
      expect(aborts).to.equal(0);
      clock.increment(1);
      expect(aborts).to.equal(1);
      expect(value()).to.equal('stopped');
      expect(actor.getSnapshot().status).to.equal('done');
    });

    it('does not abort once the connections have closed before the deadline', () => {
      start();
      listen();
      accept();
      actor.send({ type: 'SHUTDOWN' });
      closed(1);
      clock.increment(INPUT.drainTimeoutMs * 2);
      expect(aborts).to.equal(0);
      expect(value()).to.equal('stopped');
    });

    it('stops at once on SHUTDOWN with no connection open', () => {
      start();
      listen();
      actor.send({ type: 'SHUTDOWN' });
      expect(value()).to.equal('stopped');
      expect(actor.getSnapshot().status).to.equal('done');
      expect(listener.current.stopped).to.equal(true);
      expect(aborts).to.equal(0);
    });

    it('stops at once on SHUTDOWN before it listens', () => {
      start();
      actor.send({ type: 'SHUTDOWN' });
      expect(value()).to.equal('stopped');
      expect(listener.current.stopped).to.equal(true);
    });
  });
});
