/**
 * One client connection, from the server's side (docs/PROTOCOL.md §4–§8).
 *
 *   awaiting-request ──RECEIVED──▶ computing ──COMPUTED──▶ replying ──▶ awaiting-request
 *
 * Requests that arrive while a batch is being computed or written wait in
 * `queue`, the connection's mailbox, in the order they came. Everything in
 * the queue goes through `computing` and `replying` together: one sensor read
 * for the lot, one write for all their replies, in request order. So a
 * request costs two events (its arrival and the sensor results) however many
 * are pipelined.
 *
 * Pure: every effect goes through `context.link`, which actors/connection.ts
 * binds to a socket and the sensor pool, and a spec to a fake. The link is
 * passed in as input rather than bound with `.provide()`, because its
 * resources belong to one connection, and providing per connection would
 * rebuild the machine for every socket.
 */
import { assign, not, setup } from 'xstate';
import type { ErrorCode } from '../lib/errors.js';
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
import { isSensorFailure, type SensorResult } from '../lib/sensors/result.js';

/** A unit of work in the mailbox: a sensor read to make, or a reply already known. */
export type WorkItem =
  | { readonly kind: 'read'; readonly id: number; readonly reading: Reading }
  | { readonly kind: 'reply'; readonly message: ServerMessage };

/** The connection's way to the world: its socket and the sensors. */
export interface ConnectionLink {
  /** Read these, as of now; call `done` once with one result per reading, in order. */
  read(readings: readonly Reading[], done: (results: readonly SensorResult[]) => void): void;
  /** Write these replies to the peer, in order, in one write. */
  send(replies: readonly ServerMessage[]): void;
  /** The send buffer is over its high-water mark: the peer is slow to read. */
  readonly congested: boolean;
  /** Take nothing more from the socket. */
  stopReading(): void;
  /** Flush what is written, then close the socket. */
  close(): void;
}

export interface ConnectionInput {
  /** A name for logs: the connection's number and peer. */
  readonly connectionId: string;
  /** What the server answers a good hello with. */
  readonly welcome: Welcome;
  readonly link: ConnectionLink;
}

export interface ConnectionContext extends ConnectionInput {
  /** True once a hello has been answered with a welcome. */
  readonly greeted: boolean;
  /** Received, not yet in a batch: the mailbox, in arrival order. */
  readonly queue: readonly WorkItem[];
  /** The batch going through `computing` and `replying`. */
  readonly batch: readonly WorkItem[];
  /** The replies to `batch`, in order, once computed. */
  readonly replies: readonly ServerMessage[];
  /** No more requests are taken: an error that ends the connection is queued, or the server is stopping. */
  readonly closing: boolean;
  /** The peer has finished sending (half-close): answer what is queued, then close. */
  readonly peerEnded: boolean;
}

export type ConnectionEvent =
  /** Whole frames off the socket, decoded; a bad frame arrives as `Rejected`, in its place. */
  | { readonly type: 'RECEIVED'; readonly messages: readonly (ClientMessage | Rejected)[] }
  /** The byte stream broke (an oversized frame): nothing after it can be trusted. */
  | { readonly type: 'BAD_STREAM'; readonly code: ErrorCode; readonly message: string }
  /** The sensor results for the reads of the current batch, in order. */
  | { readonly type: 'COMPUTED'; readonly results: readonly SensorResult[] }
  /** The socket's send buffer has drained below its high-water mark. */
  | { readonly type: 'DRAINED' }
  /** The peer half-closed: it will send nothing more. */
  | { readonly type: 'PEER_ENDED' }
  /** The socket is gone, by either side; nothing more can be written. */
  | { readonly type: 'PEER_CLOSED' }
  /** The server is stopping: answer what was received, then say so and close. */
  | { readonly type: 'SHUTDOWN' };

function reply(message: ServerMessage): WorkItem {
  return { kind: 'reply', message };
}

/**
 * Turns received messages into work, in order. The handshake is settled here
 * rather than in a state of its own, because a hello and the requests behind
 * it may arrive in one read and must be answered in that order.
 */
function admit(context: ConnectionContext, messages: readonly (ClientMessage | Rejected)[]) {
  let { greeted, closing } = context;
  const queue = [...context.queue];
  for (const message of messages) {
    if (closing) break;
    switch (message.type) {
      case 'rejected':
        queue.push(reply(errorReply(message.id, message.code, message.message)));
        break;
      case 'hello':
        if (greeted) {
          queue.push(
            reply(errorReply(null, 'ERR_ALREADY_GREETED', 'the handshake is already done')),
          );
        } else if (message.version !== PROTOCOL_VERSION) {
          queue.push(
            reply(
              errorReply(
                null,
                'ERR_UNSUPPORTED_VERSION',
                `this server speaks protocol version ${PROTOCOL_VERSION}, not ${message.version}`,
              ),
            ),
          );
          closing = true;
        } else {
          queue.push(reply(context.welcome));
          greeted = true;
        }
        break;
      case 'read':
        queue.push(
          greeted
            ? { kind: 'read', id: message.id, reading: message.reading }
            : reply(
                errorReply(message.id, 'ERR_HANDSHAKE_REQUIRED', 'send hello before any request'),
              ),
        );
        break;
    }
  }
  return { queue, greeted, closing };
}

/** Zips a batch with the results of its reads into replies, in request order. */
function assemble(batch: readonly WorkItem[], results: readonly SensorResult[]): ServerMessage[] {
  let next = 0;
  return batch.map((item): ServerMessage => {
    if (item.kind === 'reply') return item.message;
    const result = results[next++];
    if (result === undefined) {
      return errorReply(item.id, 'ERR_SENSOR_FAILED', 'the sensor gave no result for this read');
    }
    if (isSensorFailure(result)) return errorReply(item.id, result.code, result.message);
    return {
      type: 'reading',
      id: item.id,
      reading: item.reading,
      value: result.value,
      unit: READING_UNITS[item.reading],
      observedAt: new Date(result.observedAt),
    };
  });
}

function readsOf(batch: readonly WorkItem[]): Reading[] {
  const readings: Reading[] = [];
  for (const item of batch) if (item.kind === 'read') readings.push(item.reading);
  return readings;
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
    sendReplies: ({ context }) => context.link.send(context.replies),
    stopReading: ({ context }) => context.link.stopReading(),
    closeTransport: ({ context }) => context.link.close(),
    admit: assign(({ context, event }) =>
      event.type === 'RECEIVED' ? admit(context, event.messages) : {},
    ),
    /** Queue the error that ends the connection, after everything already queued. */
    closeWith: assign(({ context }, params: { code: ErrorCode; message: string }) => ({
      queue: context.closing
        ? context.queue
        : [...context.queue, reply(errorReply(null, params.code, params.message))],
      closing: true,
    })),
    takeBatch: assign(({ context }) => ({ batch: context.queue, queue: [] })),
    assembleReplies: assign(({ context, event }) =>
      event.type === 'COMPUTED' ? { replies: assemble(context.batch, event.results) } : {},
    ),
    clearBatch: assign({ batch: [], replies: [] }),
    markPeerEnded: assign({ peerEnded: true }),
  },
  guards: {
    hasQueuedWork: ({ context }) => context.queue.length > 0,
    isFinished: ({ context }) => context.closing || context.peerEnded,
    /** The peer is slow to read: wait for DRAINED before taking more work. */
    outputCongested: ({ context }) => context.link.congested,
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
  }),
  initial: 'awaiting-request',
  on: {
    RECEIVED: { actions: 'admit' },
    BAD_STREAM: {
      actions: [
        {
          type: 'closeWith',
          params: ({ event }) => ({ code: event.code, message: event.message }),
        },
        'stopReading',
      ],
    },
    SHUTDOWN: {
      actions: [
        {
          type: 'closeWith',
          params: { code: 'ERR_SHUTTING_DOWN', message: 'the server is shutting down' },
        },
        'stopReading',
      ],
    },
    PEER_ENDED: { actions: 'markPeerEnded' },
    PEER_CLOSED: '.closed',
  },
  states: {
    'awaiting-request': {
      always: [
        { guard: 'hasQueuedWork', target: 'computing' },
        { guard: 'isFinished', target: 'closing' },
      ],
    },
    computing: {
      entry: ['takeBatch', 'readSensors'],
      on: {
        COMPUTED: { target: 'replying', actions: 'assembleReplies' },
      },
    },
    replying: {
      entry: 'sendReplies',
      exit: 'clearBatch',
      // Leave at once unless the peer is slow to read; then wait for the buffer to drain.
      always: { guard: not('outputCongested'), target: 'awaiting-request' },
      on: { DRAINED: 'awaiting-request' },
    },
    closing: {
      entry: 'closeTransport',
    },
    closed: {
      type: 'final',
    },
  },
});
