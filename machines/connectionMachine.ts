/**
 * One client connection, from the server's side (docs/PROTOCOL.md §4–§8).
 *
 *   awaiting-request ──RECEIVED──▶ computing ──COMPUTED──▶ replying ──(written)──▶ awaiting-request
 *                                                              └──▶ closing ──PEER_CLOSED──▶ closed
 *
 * Requests that arrive while a batch is being computed or written wait in
 * `queue`, the connection's mailbox, in the order they came. Everything in
 * the queue goes through `computing` and `replying` together: one sensor read
 * for the lot, one write for all their replies, in request order. A batch
 * costs two events, its arrival and the sensor results, however many
 * requests are pipelined in it (docs/PERFORMANCE.md says what each costs).
 * The replies are written on the way into `replying`, which is left at once
 * when the socket took the whole write, and otherwise waits for SENT: a peer
 * that reads slowly holds the connection there, which is the backpressure.
 *
 * The limits of docs/PROTOCOL.md §7 are here too: the handshake, idle and
 * write timeouts (HANDSHAKE_TIMEOUT, IDLE_TIMEOUT and WRITE_TIMEOUT come from
 * the lazy timers of actors/watchdog.ts, not from XState delays, which would
 * be scheduled and cancelled on every request), the depth of the queue (past
 * it the socket is paused, and TCP pushes back on the client), and the
 * output limit.
 *
 * Every effect goes through `context.link`, which actors/connection.ts binds
 * to a socket and the sensor pool, and a spec to a fake. The link is passed
 * in as input rather than bound with `.provide()`, because its resources
 * belong to one connection, and providing per connection would rebuild the
 * machine for every socket. One thing the machine reads from the link rather
 * than hears as an event: how many bytes of the write it just made the
 * socket could not take (`bufferedBytes`, in the guards of `replying`). An
 * event for a write taken whole would be a third event on every request, for
 * news that is nearly always "done"; so the machine hears only of the writes
 * that wait (SENT), and is deterministic given the link's answers.
 */
import { assign, setup } from 'xstate';
import { type ErrorCode, MeteoError } from '../lib/errors.js';
import type { ClientMessage, Rejected, Welcome } from '../lib/protocol.js';
import type { SensorRead } from '../lib/sensors/batch.js';
import type { SensorResult } from '../lib/sensors/result.js';
import {
  admit,
  assemble,
  connectionError,
  type Reply,
  readsOf,
  type WorkItem,
} from '../lib/session.js';

export type { Reply, WorkItem } from '../lib/session.js';

/** The connection's way to the world: its socket and the sensors. */
export interface ConnectionLink {
  /** Make these reads, as of now; call `done` once with one result per read, in order. */
  read(reads: readonly SensorRead[], done: (results: readonly SensorResult[]) => void): void;
  /**
   * Write these replies to the peer, in order, in one write. When the socket
   * cannot take all of it at once, call `sent` once it has (and not otherwise).
   */
  send(replies: readonly Reply[], sent: () => void): void;
  /** Bytes written but not yet taken by the peer: 0 when the last write went out whole. */
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
  /** Time without a request (the link raises IDLE_TIMEOUT). */
  readonly idleTimeoutMs: number;
  /** Requests waiting to be computed; at this depth the socket is paused. */
  readonly maxQueuedRequests: number;
  /** Bytes written but not taken by the peer; past this the connection is closed. */
  readonly maxOutputBytes: number;
  /** Time a write may wait for the peer to read (the link raises WRITE_TIMEOUT). */
  readonly writeTimeoutMs: number;
}

export interface ConnectionInput {
  /** A name for the inspector and logs: the connection's number. */
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
  /**
   * The batch being computed, and after it the last one, until the next
   * replaces it: clearing it would cost an assign (a context and snapshot
   * copy) on every request, and it holds a few small objects.
   */
  readonly batch: readonly WorkItem[];
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
  /** The socket has taken the whole write of the current batch's replies, which it could not take at once. */
  | { readonly type: 'SENT' }
  /** The handshake timeout has passed since the connection opened (greeted or not). */
  | { readonly type: 'HANDSHAKE_TIMEOUT' }
  /** No request has arrived for the idle timeout. */
  | { readonly type: 'IDLE_TIMEOUT' }
  /** A write has waited for the peer to read for the write timeout. */
  | { readonly type: 'WRITE_TIMEOUT' }
  /** The peer half-closed: it will send nothing more. */
  | { readonly type: 'PEER_ENDED' }
  /** The socket is gone, by either side; nothing more can be written. */
  | { readonly type: 'PEER_CLOSED' }
  /** The server is stopping: answer what was received, then say so and close. */
  | { readonly type: 'SHUTDOWN' };

/**
 * Admits received messages into `queue` by the protocol session's rules
 * (lib/session.ts). A connection that is closing takes no more.
 */
function admitInto(
  context: ConnectionContext,
  messages: readonly (ClientMessage | Rejected)[],
  receivedAt: number,
  queue: WorkItem[],
): Pick<ConnectionContext, 'greeted' | 'closing' | 'closeReason'> {
  if (context.closing) return context;
  const session = admit(
    { greeted: context.greeted, endedBy: null },
    context.welcome,
    messages,
    receivedAt,
    queue,
  );
  return session.endedBy === null
    ? { greeted: session.greeted, closing: false, closeReason: context.closeReason }
    : { greeted: session.greeted, closing: true, closeReason: session.endedBy };
}

/** One empty list for every empty queue and batch: no allocation per request to say "nothing". */
const NOTHING: readonly WorkItem[] = Object.freeze([]);

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
  },
  actions: {
    /** The queue is being taken: if it had paused reading, read again. */
    resumeReading: ({ context }) => {
      if (context.readPaused && !context.closing) context.link.resumeReading();
    },
    /** The queue becomes the batch. */
    startBatch: assign(({ context }) => ({
      batch: context.queue,
      queue: NOTHING,
      readPaused: false,
    })),
    /** Ask the sensors for the batch's readings; the results come back as COMPUTED. */
    readSensors: ({ context, self }) =>
      context.link.read(readsOf(context.batch), (results) =>
        self.send({ type: 'COMPUTED', results }),
      ),
    /** Write the batch's replies, in request order, in one write; SENT follows only if the socket could not take it at once. */
    sendReplies: ({ context, event, self }) => {
      if (event.type !== 'COMPUTED') return;
      context.link.send(assemble(context.welcome, context.batch, event.results), () =>
        self.send({ type: 'SENT' }),
      );
    },
    pauseReading: ({ context }) => context.link.pauseReading(),
    closeTransport: ({ context }) => context.link.close(),
    admit: assign(({ context, event }) => {
      if (event.type !== 'RECEIVED') return {};
      const queue = [...context.queue];
      const { greeted, closing, closeReason } = admitInto(
        context,
        event.messages,
        event.receivedAt,
        queue,
      );
      return { queue, greeted, closing, closeReason };
    }),
    /**
     * Admit straight into a new batch: the request path of an idle connection,
     * in one step. It names each field rather than spreading admit's result:
     * on this path a spread costs 3–4 µs a request (docs/PERFORMANCE.md §9.1).
     */
    admitAsBatch: assign(({ context, event }) => {
      if (event.type !== 'RECEIVED') return {};
      const batch: WorkItem[] = [];
      const { greeted, closing, closeReason } = admitInto(
        context,
        event.messages,
        event.receivedAt,
        batch,
      );
      return { batch, greeted, closing, closeReason };
    }),
    /** At the queue's depth limit, reading stops: TCP then slows the client down. */
    markReadPaused: assign({ readPaused: true }),
    /** Queue the error that ends the connection, after everything already queued. */
    closeWith: assign(({ context }, params: { code: ErrorCode; message: string }) =>
      context.closing
        ? {}
        : {
            queue: [
              ...context.queue,
              { kind: 'reply', reply: connectionError(params.code, params.message) },
            ],
            closing: true,
            closeReason: params.code,
          },
    ),
    /**
     * The peer does not read: its error cannot wait behind replies it will
     * not read, so it is written past them, for whatever the peer still reads.
     */
    sendSlowReaderError: (
      { context },
      params: { cause: 'write-stalled' | 'output-over-limit' },
    ) => {
      const message =
        params.cause === 'write-stalled'
          ? `replies went unread for ${context.limits.writeTimeoutMs} ms`
          : `a batch of replies left more than ${context.limits.maxOutputBytes} bytes the socket could not take`;
      context.link.send([connectionError('ERR_SLOW_READER', message)], () => {});
    },
    markSlowReader: assign({ closing: true, closeReason: 'ERR_SLOW_READER' }),
    markPeerEnded: assign(({ context }) => ({
      peerEnded: true,
      closeReason: context.closeReason ?? 'client-ended',
    })),
    markPeerClosed: assign(({ context }) => ({
      closeReason: context.closeReason ?? 'client-closed',
    })),
    /**
     * An event no state takes (COMPUTED outside `computing`, or a type this
     * machine does not know) is a fault in the wiring: fail this connection,
     * loudly, and no other.
     */
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
    /** These messages fill the queue to its depth limit. */
    fillsQueue: ({ context, event }) =>
      event.type === 'RECEIVED' &&
      !context.readPaused &&
      !context.closing &&
      context.queue.length + event.messages.length >= context.limits.maxQueuedRequests,
    /** The socket took the whole write at once: nothing waits to be read. */
    outputFlushed: ({ context }) => context.link.bufferedBytes === 0,
    outputOverLimit: ({ context }) => context.link.bufferedBytes > context.limits.maxOutputBytes,
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    ...input,
    greeted: false,
    queue: NOTHING,
    batch: NOTHING,
    closing: false,
    peerEnded: false,
    readPaused: false,
    closeReason: null,
  }),
  initial: 'awaiting-request',
  on: {
    HANDSHAKE_TIMEOUT: [
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
    RECEIVED: [
      { guard: 'fillsQueue', actions: ['admit', 'pauseReading', 'markReadPaused'] },
      { actions: 'admit' },
    ],
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
    // The timers run all the time; each matters only in the state that waits on what it times.
    IDLE_TIMEOUT: {},
    WRITE_TIMEOUT: {},
    SENT: {},
    '*': { actions: 'failOnUnexpectedEvent' },
  },
  states: {
    'awaiting-request': {
      on: {
        // Nothing is queued here, and nothing is closing (that leaves at once, below):
        // what arrives is the next batch, whatever its size.
        RECEIVED: { target: 'computing', actions: 'admitAsBatch' },
        IDLE_TIMEOUT: {
          actions: {
            type: 'closeWith',
            params: ({ context }) => ({
              code: 'ERR_IDLE_TIMEOUT',
              message: `no request for ${context.limits.idleTimeoutMs} ms`,
            }),
          },
        },
      },
      // Work queued without a request (an error that closes), or nothing left to do.
      always: [
        { guard: 'hasQueuedWork', target: 'computing', actions: ['resumeReading', 'startBatch'] },
        { guard: 'isFinished', target: 'closing' },
      ],
    },
    computing: {
      entry: 'readSensors',
      on: {
        COMPUTED: { target: 'replying', actions: 'sendReplies' },
      },
    },
    replying: {
      always: [
        {
          guard: 'outputOverLimit',
          target: 'closing',
          actions: [
            { type: 'sendSlowReaderError', params: { cause: 'output-over-limit' } },
            'markSlowReader',
          ],
        },
        // The socket took the whole write at once, as it does unless the peer is slow to read.
        { guard: 'outputFlushed', target: 'awaiting-request' },
      ],
      on: {
        SENT: 'awaiting-request',
        // A peer that does not read leaves the write unfinished: past the write timeout, cut it off.
        WRITE_TIMEOUT: {
          target: 'closing',
          actions: [
            { type: 'sendSlowReaderError', params: { cause: 'write-stalled' } },
            'markSlowReader',
          ],
        },
      },
    },
    closing: {
      entry: 'closeTransport',
      // The socket drains and the peer's FIN ends it: nothing more is read,
      // queued or paused here (pausing would stop the read that sees the FIN).
      on: { RECEIVED: {}, BAD_STREAM: {}, SHUTDOWN: {} },
    },
    closed: {
      type: 'final',
    },
  },
});
