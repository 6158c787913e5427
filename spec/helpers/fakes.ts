/**
 * Fakes for the I/O the machines name: the world around a connection
 * machine (its sensor reads and writes), and invoked callback actors (the
 * client's socket). Each records what the machine asked of it and lets the
 * spec answer when it chooses, so a spec can stop a machine in any state.
 */
import {
  type EventObject,
  fromCallback,
  type NonReducibleUnknown,
  type Subscription,
} from 'xstate';
import type { ServerMessage } from '../../lib/protocol.js';
import type { SensorResult } from '../../lib/sensors/result.js';
import type { ReadItem, Reply } from '../../lib/session.js';
import type { ConnectionEffect, ConnectionEvent } from '../../machines/connectionMachine.js';

/** What the fake world needs of a connection machine's actor, compiled or interpreted. */
export interface EffectSource {
  on(type: '*', handler: (effect: ConnectionEffect) => void): Subscription;
  send(event: ConnectionEvent): void;
}

/**
 * Plays the world around one connection machine, as actors/connection.ts
 * does for real: it records every effect, holds each sensor read until the
 * spec answers it, and takes each write whole at once (WRITTEN with nothing
 * unsent), unless `congested`: then the write waits (WRITTEN with
 * `unsentBytes`) until `drain()` (DRAINED).
 */
export class FakeWorld {
  /** Every effect, in order. */
  readonly effects: ConnectionEffect[] = [];
  /** Each write's replies: one entry per write. */
  readonly writes: (readonly Reply[])[] = [];
  /** Reads not answered yet, oldest first. */
  readonly pending: (readonly ReadItem[])[] = [];
  congested = false;
  /** What a congested write reports as unsent. */
  unsentBytes = 100;
  #waiting = false;

  constructor(readonly actor: EffectSource) {
    actor.on('*', (effect) => {
      this.effects.push(effect);
      switch (effect.type) {
        case 'read':
          this.pending.push(effect.reads);
          break;
        case 'write':
          this.writes.push(effect.replies);
          this.#waiting ||= this.congested;
          actor.send({ type: 'WRITTEN', bufferedBytes: this.congested ? this.unsentBytes : 0 });
          break;
      }
    });
  }

  /** The effect types, in order ('read', 'write', 'pauseReading', 'resumeReading', 'close'). */
  get calls(): string[] {
    return this.effects.map((effect) => effect.type);
  }

  /** Each write's messages. */
  get sent(): ServerMessage[][] {
    return this.writes.map((replies) => replies.map((reply) => reply.message));
  }

  /** Every message written, across writes, in order. */
  get replies(): ServerMessage[] {
    return this.sent.flat();
  }

  /** The readings asked for by each read, in order. */
  get reads(): string[][] {
    return this.effects.flatMap((effect) =>
      effect.type === 'read' ? [effect.reads.map((read) => read.reading)] : [],
    );
  }

  /** Answers the oldest read still waiting with these results. */
  answer(...results: SensorResult[]): void {
    if (this.pending.shift() === undefined) throw new Error('no read is waiting for an answer');
    this.actor.send({ type: 'COMPUTED', results });
  }

  /** The peer reads again: what waited is sent. */
  drain(): void {
    this.congested = false;
    if (!this.#waiting) return;
    this.#waiting = false;
    this.actor.send({ type: 'DRAINED' });
  }

  /** Forgets what was recorded so far (say, the handshake), keeping the flags. */
  clearRecords(): void {
    this.effects.length = 0;
    this.writes.length = 0;
  }
}

/** One started instance of a fake callback actor. */
export interface CallbackInstance<TReceived, TSent> {
  /** Sends an event to the machine that invoked this instance. */
  readonly sendBack: (event: TSent) => void;
  /** What the machine sent to this instance, in order. */
  readonly received: TReceived[];
  /** True once the machine stopped this instance (its cleanup ran). */
  stopped: boolean;
}

export interface FakeCallback<
  TReceived extends EventObject,
  TSent extends EventObject,
  TInput = NonReducibleUnknown,
> {
  readonly logic: ReturnType<typeof fromCallback<TReceived, TInput>>;
  /** Every instance the machine started, oldest first. */
  readonly instances: CallbackInstance<TReceived, TSent>[];
  /** The newest instance; throws when none was started. */
  readonly current: CallbackInstance<TReceived, TSent>;
}

/**
 * Callback logic for `.provide({ actors })` that does no I/O: each instance
 * records the events it receives and hands its `sendBack` to the spec.
 */
export function fakeCallback<
  TReceived extends EventObject,
  TSent extends EventObject,
  TInput = NonReducibleUnknown,
>(): FakeCallback<TReceived, TSent, TInput> {
  const instances: CallbackInstance<TReceived, TSent>[] = [];
  const logic = fromCallback<TReceived, TInput>(({ sendBack, receive }) => {
    const instance: CallbackInstance<TReceived, TSent> = {
      sendBack,
      received: [],
      stopped: false,
    };
    instances.push(instance);
    receive((event) => instance.received.push(event));
    return () => {
      instance.stopped = true;
    };
  });
  return {
    logic,
    instances,
    get current() {
      const instance = instances.at(-1);
      if (instance === undefined) throw new Error('the machine started no instance');
      return instance;
    },
  };
}
