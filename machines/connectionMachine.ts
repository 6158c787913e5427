/**
 * One client connection, from the server's side (docs/PROTOCOL.md §4–§8).
 *
 *   awaiting-request ──RECEIVED──▶ computing ──COMPUTED──▶ replying ──SENT──▶ awaiting-request
 *                                                              └──▶ closing ──PEER_CLOSED──▶ closed
 *
 * Requests that arrive while a batch is being computed or written wait in
 * `queue`, the connection's mailbox, in the order they came. Everything in
 * the queue goes through `computing` and `replying` together: one sensor read
 * for the lot, one write for all their replies, in request order. So a batch
 * costs three events (its arrival, the sensor results, the write done),
 * however many requests are pipelined in it. `replying` lasts until the
 * socket has taken the whole write: a peer that reads slowly holds the
 * connection there, which is the backpressure.
 *
 * The limits of docs/PROTOCOL.md §7 are here too: the handshake and idle
 * timeouts, the depth of the queue (past it the socket is paused, and TCP
 * pushes back on the client), and the slow-reader limits on output.
 *
 * Pure: every effect goes through `context.link`, which actors/connection.ts
 * binds to a socket and the sensor pool, and a spec to a fake. The link is
 * passed in as input rather than bound with `.provide()`, because its
 * resources belong to one connection, and providing per connection would
 * rebuild the machine for every socket.
 */
import { assign, enqueueActions, setup } from 'xstate';
import { type ErrorCode, MeteoError } from '../lib/errors.js';
import {
  type ClientMessage,
  errorReply,
  PROTOCOL_VERSION,
  READING_UNITS,
  type Reading,
  type Rejected,
  type ServerMessage,
  type Welcome,
} from '../lib/protocol.js';
import type { SensorRead } from '../lib/sensors/batch.js';
import { isSensorFailure, type SensorResult } from '../lib/sensors/result.js';

/** A reply on its way out, with what the server's counters need to know about it. */
export interface Reply {
  readonly message: ServerMessage;
  /** The reading the request asked for, when it was a read. */
  readonly reading: Reading | null;
  /** When its request arrived (the clock of RECEIVED), or null for an error the server raised itself. */
  readonly receivedAt: number | null;
}

/** A unit of work in the mailbox: a sensor read to make, or a reply already known. */
export type WorkItem =
  | {
      readonly kind: 'read';
      readonly id: number;
      readonly reading: Reading;
      /** The station's index in the welcome's list. */
      readonly station: number;
      readonly receivedAt: number;
    }
  | { readonly kind: 'reply'; readonly reply: Reply };

/** The connection's way to the world: its socket and the sensors. */
export interface ConnectionLink {
  /** Make these reads, as of now; call `done` once with one result per read, in order. */
  read(reads: readonly SensorRead[], done: (results: readonly SensorResult[]) => void): void;
  /** Write these replies to the peer, in order, in one write; call `sent` once the socket has taken all of it. */
  send(replies: readonly Reply[], sent?: () => void): void;
  /** Bytes written but not yet taken by the peer. */
  readonly bufferedBytes: number;
  /** Take nothing more from the socket for now. */
  pauseReading(): void;
  resumeReading(): void;
  /** Flush what is written, then close the socket. */
  close(): void;
}

/** The per-connection limits (docs/PROTOCOL.md §7); each is a server flag. */
export interface ConnectionLimits {
  /** Time from connect to a completed handshake. */
  readonly handshakeTimeoutMs: number;
  /** Time without a request, once nothing is left to answer. */
  readonly idleTimeoutMs: number;
  /** Requests waiting to be computed; at this depth the socket is paused. */
  readonly maxQueuedRequests: number;
  /** Bytes written but not taken by the peer; past this the connection is closed. */
  readonly maxOutputBytes: number;
  /** Time the peer may leave the send buffer full before the connection is closed. */
  readonly writeTimeoutMs: number;
}

export interface ConnectionInput {
  /** A name for logs: the connection's number. */
  readonly connectionId: string;
  /** What the server answers a good hello with. */
  readonly welcome: Welcome;
  readonly link: ConnectionLink;
  readonly limits: ConnectionLimits;
}

/** Why a connection ended: the code of the error that closed it, or what the peer did. */
export type CloseReason = ErrorCode | 'client-ended' | 'client-closed';

export interface ConnectionContext extends ConnectionInput {
  /** True once a hello has been answered with a welcome. */
  readonly greeted: boolean;
  /** Received, not yet in a batch: the mailbox, in arrival order. */
  readonly queue: readonly WorkItem[];
  /** The batch going through `computing` and `replying`. */
  readonly batch: readonly WorkItem[];
  /** The replies to `batch`, in order, once computed. */
  readonly replies: readonly Reply[];
  /** No more requests are taken: an error that ends the connection is queued, or the server is stopping. */
  readonly closing: boolean;
  /** The peer has finished sending (half-close): answer what is queued, then close. */
  readonly peerEnded: boolean;
  /** The socket is paused because the queue is full. */
  readonly readPaused: boolean;
  /** Why the connection ends, once that is known. */
  readonly closeReason: CloseReason | null;
}

export type ConnectionEvent =
  /** Whole frames off the socket, decoded; a bad frame arrives as `Rejected`, in its place. */
  | {
      readonly type: 'RECEIVED';
      readonly messages: readonly (ClientMessage | Rejected)[];
      /** When they arrived, on the clock the link's counters use. */
      readonly receivedAt: number;
    }
  /** The byte stream broke (an oversized frame): nothing after it can be trusted. */
  | { readonly type: 'BAD_STREAM'; readonly code: ErrorCode; readonly message: string }
  /** The sensor results for the reads of the current batch, in order. */
  | { readonly type: 'COMPUTED'; readonly results: readonly SensorResult[] }
  /** The socket has taken the whole write of the current batch's replies. */
  | { readonly type: 'SENT' }
  /** The peer half-closed: it will send nothing more. */
  | { readonly type: 'PEER_ENDED' }
  /** The socket is gone, by either side; nothing more can be written. */
  | { readonly type: 'PEER_CLOSED' }
  /** The server is stopping: answer what was received, then say so and close. */
  | { readonly type: 'SHUTDOWN' };

function serverError(code: ErrorCode, message: string): WorkItem {
  return {
    kind: 'reply',
    reply: { message: errorReply(null, code, message), reading: null, receivedAt: null },
  };
}

function stationIndex(welcome: Welcome, id: string): number {
  return welcome.stations.findIndex((station) => station.id === id);
}

/**
 * Turns received messages into work, in order. The handshake is settled here
 * rather than in a state of its own, because a hello and the requests behind
 * it may arrive in one read and must be answered in that order.
 */
function admit(
  context: ConnectionContext,
  messages: readonly (ClientMessage | Rejected)[],
  receivedAt: number,
) {
  let { greeted, closing, closeReason } = context;
  const queue = [...context.queue];
  const answer = (message: ServerMessage): void => {
    queue.push({ kind: 'reply', reply: { message, reading: null, receivedAt } });
  };
  for (const message of messages) {
    if (closing) break;
    switch (message.type) {
      case 'rejected':
        answer(errorReply(message.id, message.code, message.message));
        break;
      case 'hello':
        if (greeted) {
          answer(errorReply(null, 'ERR_ALREADY_GREETED', 'the handshake is already done'));
        } else if (message.version !== PROTOCOL_VERSION) {
          answer(
            errorReply(
              null,
              'ERR_UNSUPPORTED_VERSION',
              `this server speaks protocol version ${PROTOCOL_VERSION}, not ${message.version}`,
            ),
          );
          closing = true;
          closeReason = 'ERR_UNSUPPORTED_VERSION';
        } else {
          answer(context.welcome);
          greeted = true;
        }
        break;
      case 'read': {
        if (!greeted) {
          answer(errorReply(message.id, 'ERR_HANDSHAKE_REQUIRED', 'send hello before any request'));
          break;
        }
        // No station named: the default, first in the welcome's list.
        const station =
          message.station === undefined ? 0 : stationIndex(context.welcome, message.station);
        if (station < 0) {
          answer(
            errorReply(
              message.id,
              'ERR_UNKNOWN_STATION',
              `no station ${JSON.stringify(message.station)}; stations are ${context.welcome.stations.map((known) => known.id).join(', ')}`,
            ),
          );
          break;
        }
        queue.push({ kind: 'read', id: message.id, reading: message.reading, station, receivedAt });
        break;
      }
    }
  }
  return { queue, greeted, closing, closeReason };
}

/** Zips a batch with the results of its reads into replies, in request order. */
function assemble(
  welcome: Welcome,
  batch: readonly WorkItem[],
  results: readonly SensorResult[],
): Reply[] {
  let next = 0;
  return batch.map((item): Reply => {
    if (item.kind === 'reply') return item.reply;
    const { id, reading, station, receivedAt } = item;
    const result = results[next++];
    let message: ServerMessage;
    if (result === undefined) {
      message = errorReply(id, 'ERR_SENSOR_FAILED', 'the sensor gave no result for this read');
    } else if (isSensorFailure(result)) {
      message = errorReply(id, result.code, result.message);
    } else {
      message = {
        type: 'reading',
        id,
        station: welcome.stations[station]?.id ?? '',
        reading,
        value: result.value,
        unit: READING_UNITS[reading],
        observedAt: new Date(result.observedAt),
      };
    }
    return { message, reading, receivedAt };
  });
}

function readsOf(batch: readonly WorkItem[]): SensorRead[] {
  const reads: SensorRead[] = [];
  for (const item of batch) if (item.kind === 'read') reads.push(item);
  return reads;
}

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
  },
  actions: {
    /** Ask the sensors for the batch's readings; the results come back as COMPUTED. */
    readSensors: ({ context, self }) =>
      context.link.read(readsOf(context.batch), (results) =>
        self.send({ type: 'COMPUTED', results }),
      ),
    sendReplies: ({ context, self }) =>
      context.link.send(context.replies, () => self.send({ type: 'SENT' })),
    pauseReading: ({ context }) => context.link.pauseReading(),
    closeTransport: ({ context }) => context.link.close(),
    admit: assign(({ context, event }) =>
      event.type === 'RECEIVED' ? admit(context, event.messages, event.receivedAt) : {},
    ),
    /** At the queue's depth limit, stop reading: TCP then slows the client down. */
    applyBackpressure: enqueueActions(({ context, enqueue }) => {
      if (context.readPaused || context.closing) return;
      if (context.queue.length < context.limits.maxQueuedRequests) return;
      enqueue(({ context }) => context.link.pauseReading());
      enqueue.assign({ readPaused: true });
    }),
    releaseBackpressure: enqueueActions(({ context, enqueue }) => {
      if (!context.readPaused || context.closing) return;
      enqueue(({ context }) => context.link.resumeReading());
      enqueue.assign({ readPaused: false });
    }),
    /** Queue the error that ends the connection, after everything already queued. */
    closeWith: assign(({ context }, params: { code: ErrorCode; message: string }) =>
      context.closing
        ? {}
        : {
            queue: [...context.queue, serverError(params.code, params.message)],
            closing: true,
            closeReason: params.code,
          },
    ),
    /**
     * The peer does not read: its replies cannot be queued behind the others,
     * so the error is written past them, for whatever the peer reads.
     */
    cutOffSlowReader: enqueueActions(({ context, enqueue }, params: { message: string }) => {
      const { reply } = serverError('ERR_SLOW_READER', params.message) as Extract<
        WorkItem,
        { kind: 'reply' }
      >;
      enqueue(() => context.link.send([reply]));
      enqueue.assign({ closing: true, closeReason: 'ERR_SLOW_READER' });
    }),
    takeBatch: assign(({ context }) => ({ batch: context.queue, queue: [] })),
    assembleReplies: assign(({ context, event }) =>
      event.type === 'COMPUTED'
        ? { replies: assemble(context.welcome, context.batch, event.results) }
        : {},
    ),
    clearBatch: assign({ batch: [], replies: [] }),
    markPeerEnded: assign(({ context }) => ({
      peerEnded: true,
      closeReason: context.closeReason ?? 'client-ended',
    })),
    markPeerClosed: assign(({ context }) => ({
      closeReason: context.closeReason ?? 'client-closed',
    })),
    /** An event no state expects is a fault in the wiring: fail this connection, loudly, and no other. */
    failOnUnexpectedEvent: ({ event, self }) => {
      throw new MeteoError(
        'ERR_INTERNAL',
        `unexpected event ${event.type} in state ${JSON.stringify(self.getSnapshot().value)}`,
      );
    },
  },
  guards: {
    hasQueuedWork: ({ context }) => context.queue.length > 0,
    isFinished: ({ context }) => context.closing || context.peerEnded,
    isNotGreeted: ({ context }) => !context.greeted,
    outputOverLimit: ({ context }) => context.link.bufferedBytes > context.limits.maxOutputBytes,
  },
  delays: {
    handshakeTimeout: ({ context }) => context.limits.handshakeTimeoutMs,
    idleTimeout: ({ context }) => context.limits.idleTimeoutMs,
    writeTimeout: ({ context }) => context.limits.writeTimeoutMs,
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    ...input,
    greeted: false,
    queue: [],
    batch: [],
    replies: [],
    closing: false,
    peerEnded: false,
    readPaused: false,
    closeReason: null,
  }),
  initial: 'awaiting-request',
  after: {
    handshakeTimeout: [
      {
        guard: 'isNotGreeted',
        actions: {
          type: 'closeWith',
          params: ({ context }) => ({
            code: 'ERR_HANDSHAKE_TIMEOUT',
            message: `no hello within ${context.limits.handshakeTimeoutMs} ms`,
          }),
        },
      },
      // Greeted in time: nothing to do.
      {},
    ],
  },
  on: {
    RECEIVED: { actions: ['admit', 'applyBackpressure'] },
    BAD_STREAM: {
      actions: [
        {
          type: 'closeWith',
          params: ({ event }) => ({ code: event.code, message: event.message }),
        },
        'pauseReading',
      ],
    },
    SHUTDOWN: {
      actions: [
        {
          type: 'closeWith',
          params: { code: 'ERR_SHUTTING_DOWN', message: 'the server is shutting down' },
        },
        'pauseReading',
      ],
    },
    PEER_ENDED: { actions: 'markPeerEnded' },
    PEER_CLOSED: { target: '.closed', actions: 'markPeerClosed' },
    // Only `replying` waits for a write; one that finishes after the connection gave up on it is news to nobody.
    SENT: {},
    '*': { actions: 'failOnUnexpectedEvent' },
  },
  states: {
    'awaiting-request': {
      always: [
        { guard: 'hasQueuedWork', target: 'computing' },
        { guard: 'isFinished', target: 'closing' },
      ],
      after: {
        idleTimeout: {
          actions: {
            type: 'closeWith',
            params: ({ context }) => ({
              code: 'ERR_IDLE_TIMEOUT',
              message: `no request for ${context.limits.idleTimeoutMs} ms`,
            }),
          },
        },
      },
    },
    computing: {
      entry: ['takeBatch', 'releaseBackpressure', 'readSensors'],
      on: {
        COMPUTED: { target: 'replying', actions: 'assembleReplies' },
      },
    },
    replying: {
      entry: 'sendReplies',
      exit: 'clearBatch',
      always: [
        {
          guard: 'outputOverLimit',
          target: 'closing',
          actions: {
            type: 'cutOffSlowReader',
            params: ({ context }) => ({
              message: `more than ${context.limits.maxOutputBytes} bytes of replies are waiting to be read`,
            }),
          },
        },
      ],
      // A peer that does not read leaves the write unfinished: past the write timeout, cut it off.
      after: {
        writeTimeout: {
          target: 'closing',
          actions: {
            type: 'cutOffSlowReader',
            params: ({ context }) => ({
              message: `replies went unread for ${context.limits.writeTimeoutMs} ms`,
            }),
          },
        },
      },
      on: { SENT: 'awaiting-request' },
    },
    closing: {
      entry: 'closeTransport',
    },
    closed: {
      type: 'final',
    },
  },
});
