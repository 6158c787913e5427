/**
 * Fakes for the I/O the machines name: the connection's link, and invoked
 * callback actors (the client's socket, the acceptor's listener). Each one
 * records what the machine asked of it and lets the spec answer when it
 * chooses, so a spec can stop a machine in any state.
 */
import { type EventObject, fromCallback } from 'xstate';
import type { Reading, ServerMessage } from '../../lib/protocol.js';
import type { SensorRead } from '../../lib/sensors/batch.js';
import type { SensorResult } from '../../lib/sensors/result.js';
import type { ConnectionLink, Reply } from '../../machines/connectionMachine.js';

/** One `read()` the machine made: what it asked for, and whether the spec has answered it. */
export interface RecordedRead {
  /** The readings asked for, in order (the reads without their stations). */
  readonly readings: readonly Reading[];
  readonly reads: readonly SensorRead[];
  readonly done: (results: readonly SensorResult[]) => void;
  answered: boolean;
}

/**
 * A `ConnectionLink` that records reads, sends, `pauseReading()`,
 * `resumeReading()` and `close()`. A read of nothing is answered at once, as the sensor pool
 * answers it; any other read waits for `answer()`.
 */
export class FakeLink implements ConnectionLink {
  readonly reads: RecordedRead[] = [];
  /** Each `send()` call's replies: one entry per batch. */
  readonly sent: (readonly ServerMessage[])[] = [];
  /** Each `send()` call as the machine made it, with the counters' data. */
  readonly sentReplies: (readonly Reply[])[] = [];
  /** Every call, in order: 'read', 'send', 'pauseReading', 'resumeReading', 'close'. */
  readonly calls: string[] = [];
  /**
   * While true, writes are not taken at once: their `sent` callbacks wait for
   * `drain()`, as a slow peer makes them. Otherwise a write is taken whole at
   * once, as a socket nearly always takes one, and `sent` is not called.
   */
  congested = false;
  readonly #heldWrites: (() => void)[] = [];
  #unread = 0;

  /** Bytes the peer has not read: what the spec set, and at least one while a write is held. */
  get bufferedBytes(): number {
    return this.#heldWrites.length > 0 ? Math.max(1, this.#unread) : this.#unread;
  }

  set bufferedBytes(bytes: number) {
    this.#unread = bytes;
  }
  pauseReadingCalls = 0;
  resumeReadingCalls = 0;
  closeCalls = 0;

  read(reads: readonly SensorRead[], done: (results: readonly SensorResult[]) => void): void {
    this.calls.push('read');
    const read: RecordedRead = {
      readings: reads.map((one) => one.reading),
      reads,
      done,
      answered: false,
    };
    this.reads.push(read);
    if (reads.length === 0) {
      read.answered = true;
      done([]);
    }
  }

  send(replies: readonly Reply[], sent: () => void): void {
    this.calls.push('send');
    this.sentReplies.push(replies);
    this.sent.push(replies.map((reply) => reply.message));
    if (this.congested) this.#heldWrites.push(sent);
  }

  /** The peer reads again: every held write is taken, in order. */
  drain(): void {
    this.congested = false;
    for (const sent of this.#heldWrites.splice(0)) sent();
  }

  pauseReading(): void {
    this.calls.push('pauseReading');
    this.pauseReadingCalls++;
  }

  resumeReading(): void {
    this.calls.push('resumeReading');
    this.resumeReadingCalls++;
  }

  close(): void {
    this.calls.push('close');
    this.closeCalls++;
  }

  /** Reads the machine is waiting on, oldest first. */
  get pending(): RecordedRead[] {
    return this.reads.filter((read) => !read.answered);
  }

  /** Every reply sent, across batches, in order. */
  get replies(): ServerMessage[] {
    return this.sent.flat();
  }

  /** Answers the oldest read still waiting with these results. */
  answer(...results: SensorResult[]): void {
    const read = this.pending[0];
    if (read === undefined) throw new Error('no read is waiting for an answer');
    read.answered = true;
    read.done(results);
  }

  /** Forgets what was recorded so far (say, the handshake), keeping the flags. */
  clearRecords(): void {
    this.reads.length = 0;
    this.sent.length = 0;
    this.sentReplies.length = 0;
    this.calls.length = 0;
    this.pauseReadingCalls = 0;
    this.resumeReadingCalls = 0;
    this.closeCalls = 0;
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

export interface FakeCallback<TReceived extends EventObject, TSent extends EventObject> {
  readonly logic: ReturnType<typeof fromCallback<TReceived>>;
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
>(): FakeCallback<TReceived, TSent> {
  const instances: CallbackInstance<TReceived, TSent>[] = [];
  const logic = fromCallback<TReceived>(({ sendBack, receive }) => {
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
