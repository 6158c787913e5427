/**
 * One client connection, from the server's side, for the whole life of its
 * socket (docs/PROTOCOL.md §4–§8):
 *
 *   handshake ──hello answered──▶ serving ──ending──▶ draining ──▶ closing ──PEER_CLOSED──▶ closed
 *                                    │                   │
 *                awaiting-request ──▶ computing ──▶ replying ──▶ (next batch)
 *
 * - `handshake`: until the hello is answered. Errors to anything sent before
 *   it are written at once; the welcome, and whatever was pipelined behind
 *   the hello, are answered by `serving`.
 * - `serving`: the request cycle. What arrives waits in `queue`, the
 *   connection's mailbox; everything in it goes through `computing` (one
 *   sensor read for the lot, skipped when nothing needs the sensors) and
 *   `replying` (one write of all their replies, in request order) together.
 *   `replying` waits until the socket has taken the write: a peer that reads
 *   slowly holds the connection there, which is the backpressure.
 * - `draining`: the connection is ending (shutdown, the peer's half-close, a
 *   timeout, a broken stream). It reads nothing more and answers what it had
 *   received, through the same cycle. A batch already in flight when the end
 *   comes finishes in `serving` first.
 * - `closing`: the last frame is written and the socket half-closed; it waits
 *   for the peer to close, reading and dropping what still comes.
 *
 * The machine does no I/O. It names its effects (`read`, `write`,
 * `pauseReading`, `resumeReading`, `close`) with `effect()`, and
 * actors/connection.ts performs them and answers with events: COMPUTED with
 * the sensor results, WRITTEN with what a write left unsent, DRAINED when
 * that is gone. The handshake, idle and write timeouts arrive as events from
 * the connection's lazy timers (actors/watchdog.ts). Guards read only the
 * context and the event.
 *
 * Every connection runs this definition compiled into a table by
 * lib/statechart/compile.ts (actors/connection.ts). It is written with the
 * features the compiler runs; spec/lib/statechart/equivalence.spec.ts checks
 * that the table and XState's interpreter agree, event by event.
 */
import { setup } from 'xstate';
import { type ErrorCode, MeteoError } from '../lib/errors.js';
import type { ClientMessage, Rejected, Welcome } from '../lib/protocol.js';
import type { SensorResult } from '../lib/sensors/result.js';
import {
  admit,
  assemble,
  connectionError,
  NEW_SESSION,
  type ReadItem,
  type Reply,
  readsOf,
  type Session,
  type WorkItem,
} from '../lib/session.js';
import { effect, update } from '../lib/statechart/actions.js';

/** The per-connection limits (docs/PROTOCOL.md §7); each is a server flag. */
export interface ConnectionLimits {
  /** Time from connect to a completed handshake. */
  readonly handshakeTimeoutMs: number;
  /** Time without a request (the watchdog raises IDLE_TIMEOUT). */
  readonly idleTimeoutMs: number;
  /** Requests waiting to be computed; at this depth the socket is paused. */
  readonly maxQueuedRequests: number;
  /** Bytes a write may leave unsent in the server's own buffer; past this the connection is closed. */
  readonly maxOutputBytes: number;
  /** Time a write may wait for the peer to read (the watchdog raises WRITE_TIMEOUT). */
  readonly writeTimeoutMs: number;
}

export interface ConnectionInput {
  /** What the server answers a good hello with. */
  readonly welcome: Welcome;
  readonly limits: ConnectionLimits;
}

/** Why a connection ended: the code of the error that closed it, or what the peer did. */
export type CloseReason = ErrorCode | 'client-ended' | 'client-closed';

export interface ConnectionContext extends ConnectionInput {
  readonly session: Session;
  /** Received, not yet in a batch: the mailbox, in arrival order. */
  readonly queue: readonly WorkItem[];
  /**
   * The batch being computed or written, and after it the last one until
   * the next replaces it (clearing it would cost an update per request).
   */
  readonly batch: readonly WorkItem[];
  /** Reading is paused because the queue is full. */
  readonly readPaused: boolean;
  /** Why the connection ends, once it is ending: it then takes no more requests. */
  readonly closeReason: CloseReason | null;
}

export type ConnectionEvent =
  /** Whole frames off the socket, decoded; a bad frame arrives as `Rejected`, in its place. */
  | {
      readonly type: 'RECEIVED';
      readonly messages: readonly (ClientMessage | Rejected)[];
      /** When they arrived, on the clock the counters use. */
      readonly receivedAt: number;
    }
  /** The byte stream broke (an oversized frame): nothing after it can be trusted. */
  | { readonly type: 'BAD_STREAM'; readonly code: ErrorCode; readonly message: string }
  /**
   * The server ends this connection with this error, after answering what it
   * has received (a client whose credential a reload withdrew, issue #14).
   */
  | { readonly type: 'END'; readonly code: ErrorCode; readonly message: string }
  /** The sensor results for the reads of the current batch, in order. */
  | { readonly type: 'COMPUTED'; readonly results: readonly SensorResult[] }
  /** A write was handed to the socket; this much of it is still waiting to be sent. */
  | { readonly type: 'WRITTEN'; readonly bufferedBytes: number }
  /** The socket has sent everything that waited after the last WRITTEN. */
  | { readonly type: 'DRAINED' }
  /** The handshake timeout has passed since the connection opened. */
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

/** What the machine asks of the world (actors/connection.ts does it). */
export type ConnectionEffect =
  /** Read the sensors for these requests; answer with COMPUTED. */
  | { readonly type: 'read'; readonly reads: readonly ReadItem[] }
  /** Write these replies, in order, in one write; answer with WRITTEN, and DRAINED if it waited. */
  | { readonly type: 'write'; readonly replies: readonly Reply[] }
  /** Take nothing more from the socket for now. */
  | { readonly type: 'pauseReading' }
  | { readonly type: 'resumeReading' }
  /** Send what is written, half-close, and wait for the peer to close (docs/PROTOCOL.md §8.2). */
  | { readonly type: 'close' };

/** One empty list for every empty queue and batch: no allocation per request to say "nothing". */
const NOTHING: readonly WorkItem[] = Object.freeze([]);

const isRead = (item: WorkItem): boolean => item.kind === 'read';

/**
 * The cycle of one batch, from the moment it is taken (`computing`, or
 * straight to `replying` when nothing in it needs the sensors) to the moment
 * the socket has taken its replies; then the machine goes to `next`. Serving
 * and draining both run it.
 */
function requestCycle<Next extends string>(next: Next) {
  return {
    computing: {
      on: { COMPUTED: { target: 'replying', actions: 'writeReplies' } },
    },
    replying: {
      on: {
        WRITTEN: [
          {
            guard: 'outputOverLimit',
            target: '#connection.closing',
            actions: [
              { type: 'writeSlowReaderError', params: { cause: 'output-over-limit' } },
              'markSlowReader',
            ],
          },
          // The socket took the whole write at once, as it does unless the peer is slow to read.
          { guard: 'outputFlushed', target: next },
        ],
        DRAINED: { target: next },
        // A peer that does not read leaves the write unfinished: past the write timeout, cut it off.
        WRITE_TIMEOUT: {
          target: '#connection.closing',
          actions: [
            { type: 'writeSlowReaderError', params: { cause: 'write-stalled' } },
            'markSlowReader',
          ],
        },
      },
    },
  } as const;
}

/** Taking the queue as the next batch: to the sensors if it needs them, else straight to its replies. */
const TAKE_QUEUE = [
  { guard: 'queueNeedsSensors', target: 'computing', actions: ['takeBatch', 'readSensors'] },
  { guard: 'hasQueuedWork', target: 'replying', actions: ['takeBatch', 'writeReplies'] },
] as const;

/** BAD_STREAM and END: the connection ends with the event's error, after what it has received. */
const ENDING_WITH_ITS_ERROR = {
  actions: [
    {
      type: 'closeWith',
      params: ({ event }: { event: { code: ErrorCode; message: string } }) => ({
        code: event.code,
        message: event.message,
      }),
    },
    'pauseReading',
  ],
} as const;

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
    emitted: {} as ConnectionEffect,
  },
  actions: {
    /** Received messages join the queue, by the protocol session's rules (lib/session.ts). */
    admit: update(({ context, event }) => {
      if (event.type !== 'RECEIVED' || context.closeReason !== null) return {};
      const queue = context.queue.slice();
      const session = admit(
        context.session,
        context.welcome,
        event.messages,
        event.receivedAt,
        queue,
      );
      return { queue, session, closeReason: session.endedBy };
    }),
    /**
     * The queue becomes the batch. A copy of exactly its length: the queue
     * grew by `push`, with room for 16 more, and the batch is kept after it
     * is served, on every idle connection of the server.
     */
    takeBatch: update(({ context }) => ({ batch: context.queue.slice(), queue: NOTHING })),
    /** Queue the error that ends the connection, after everything already queued. */
    closeWith: update(({ context }, params: { code: ErrorCode; message: string }) =>
      context.closeReason !== null
        ? {}
        : {
            queue: [
              ...context.queue,
              { kind: 'reply', reply: connectionError(params.code, params.message) } as const,
            ],
            closeReason: params.code,
          },
    ),
    markReadPaused: update(() => ({ readPaused: true })),
    markReadResumed: update(() => ({ readPaused: false })),
    markSlowReader: update(() => ({ closeReason: 'ERR_SLOW_READER' as const })),
    markPeerEnded: update(({ context }) => ({
      closeReason: context.closeReason ?? ('client-ended' as const),
    })),
    markPeerClosed: update(({ context }) => ({
      closeReason: context.closeReason ?? ('client-closed' as const),
    })),
    /** Ask the sensors for the batch's readings; COMPUTED brings them. */
    readSensors: effect(({ context }) => ({ type: 'read', reads: readsOf(context.batch) })),
    /** Write the batch's replies, in request order, in one write. */
    writeReplies: effect(({ context, event }) => ({
      type: 'write',
      replies: assemble(
        context.welcome,
        context.batch,
        event.type === 'COMPUTED' ? event.results : NO_RESULTS,
      ),
    })),
    /**
     * The peer does not read: its error cannot wait behind replies it will
     * not read, so it is written past them, for whatever the peer still reads.
     */
    writeSlowReaderError: effect(
      ({ context }, params: { cause: 'write-stalled' | 'output-over-limit' }) => ({
        type: 'write',
        replies: [
          connectionError(
            'ERR_SLOW_READER',
            params.cause === 'write-stalled'
              ? `replies went unread for ${context.limits.writeTimeoutMs} ms`
              : `a write of replies left more than ${context.limits.maxOutputBytes} bytes unsent`,
          ),
        ],
      }),
    ),
    pauseReading: effect(() => ({ type: 'pauseReading' })),
    resumeReading: effect(() => ({ type: 'resumeReading' })),
    closeTransport: effect(() => ({ type: 'close' })),
    /**
     * An event no state takes (COMPUTED outside `computing`, or a type this
     * machine does not know) is a fault in the wiring: fail this connection,
     * loudly, and no other.
     */
    failOnUnexpectedEvent: ({ event }) => {
      throw new MeteoError('ERR_INTERNAL', `unexpected event ${event.type}`);
    },
  },
  guards: {
    isGreeted: ({ context }) => context.session.greeted,
    isEnding: ({ context }) => context.closeReason !== null,
    hasQueuedWork: ({ context }) => context.queue.length > 0,
    queueNeedsSensors: ({ context }) => context.queue.some(isRead),
    /** Reading was paused for a full queue, which is about to be taken. */
    shouldResumeReading: ({ context }) => context.readPaused && context.closeReason === null,
    /** These messages fill the queue to its depth limit. */
    fillsQueue: ({ context, event }) =>
      event.type === 'RECEIVED' &&
      !context.readPaused &&
      context.closeReason === null &&
      context.queue.length + event.messages.length >= context.limits.maxQueuedRequests,
    outputFlushed: ({ event }) => event.type === 'WRITTEN' && event.bufferedBytes === 0,
    outputOverLimit: ({ context, event }) =>
      event.type === 'WRITTEN' && event.bufferedBytes > context.limits.maxOutputBytes,
  },
}).createMachine({
  id: 'connection',
  // The input's two fields by name: a spread of `input` into a literal with more fields
  // allocates about 1.5 KB a connection in V8 (docs/PERFORMANCE.md §11.5).
  context: ({ input }) => ({
    welcome: input.welcome,
    limits: input.limits,
    session: NEW_SESSION,
    queue: NOTHING,
    batch: NOTHING,
    readPaused: false,
    closeReason: null,
  }),
  initial: 'handshake',
  on: {
    PEER_ENDED: { actions: 'markPeerEnded' },
    PEER_CLOSED: { target: '.closed', actions: 'markPeerClosed' },
    SHUTDOWN: {
      actions: [
        {
          type: 'closeWith',
          params: { code: 'ERR_SHUTTING_DOWN', message: 'the server is shutting down' },
        },
        'pauseReading',
      ],
    },
    BAD_STREAM: ENDING_WITH_ITS_ERROR,
    END: ENDING_WITH_ITS_ERROR,
    // The timers and the socket report all the time; each state that waits on one says so.
    HANDSHAKE_TIMEOUT: {},
    IDLE_TIMEOUT: {},
    WRITE_TIMEOUT: {},
    WRITTEN: {},
    DRAINED: {},
    '*': { actions: 'failOnUnexpectedEvent' },
  },
  states: {
    handshake: {
      on: {
        RECEIVED: { actions: 'admit' },
        HANDSHAKE_TIMEOUT: {
          actions: {
            type: 'closeWith',
            params: ({ context }) => ({
              code: 'ERR_HANDSHAKE_TIMEOUT',
              message: `no hello within ${context.limits.handshakeTimeoutMs} ms`,
            }),
          },
        },
        WRITTEN: {
          guard: 'outputOverLimit',
          target: 'closing',
          actions: [
            { type: 'writeSlowReaderError', params: { cause: 'output-over-limit' } },
            'markSlowReader',
          ],
        },
      },
      always: [
        { guard: 'isEnding', target: 'draining' },
        { guard: 'isGreeted', target: 'serving' },
        // Errors to what came before the hello need no sensors: they go out at once.
        { guard: 'hasQueuedWork', actions: ['takeBatch', 'writeReplies'] },
      ],
    },
    serving: {
      initial: 'awaiting-request',
      on: {
        RECEIVED: [
          // At the queue's depth limit, reading stops: TCP then slows the client down.
          { guard: 'fillsQueue', actions: ['admit', 'pauseReading', 'markReadPaused'] },
          { actions: 'admit' },
        ],
      },
      states: {
        'awaiting-request': {
          on: {
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
          always: [
            { guard: 'isEnding', target: '#connection.draining' },
            { guard: 'shouldResumeReading', actions: ['resumeReading', 'markReadResumed'] },
            ...TAKE_QUEUE,
          ],
        },
        ...requestCycle('awaiting-request'),
      },
    },
    draining: {
      entry: 'pauseReading',
      initial: 'next-batch',
      on: { RECEIVED: {} },
      states: {
        'next-batch': {
          always: [...TAKE_QUEUE, { target: '#connection.closing' }],
        },
        ...requestCycle('next-batch'),
      },
    },
    closing: {
      entry: 'closeTransport',
      // The socket drains and the peer's FIN ends it: nothing more is read,
      // answered or paused here (pausing would stop the read that sees the FIN).
      on: { RECEIVED: {}, BAD_STREAM: {}, END: {}, SHUTDOWN: {} },
    },
    closed: { type: 'final' },
  },
});

const NO_RESULTS: readonly SensorResult[] = Object.freeze([]);
