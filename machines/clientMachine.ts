/**
 * One polling connection of the client (docs/PROTOCOL.md §4–§5).
 *
 *   online: connecting → greeting → requesting ⟲ (×4) → reporting → waiting ─┐
 *                                     ▲──────────────────────── POLL_DUE ────┘
 *   online ──LINK_DOWN──▶ reconnecting ── after reconnectBackoff ──▶ online
 *   waiting ──LINK_DOWN (idle timeout)──▶ offline ── POLL_DUE ──▶ online
 *
 * The first connection checks that the service works: if it cannot be made
 * or the server refuses the hello, the machine ends in `failed`. Once the
 * service has answered, a lost connection is reopened with exponential
 * backoff and jitter, and polling resumes.
 *
 * The next poll is a delayed POLL_DUE the machine sends itself on entering
 * `waiting`, rather than an `after` of `waiting`, so that it outlives the
 * connection: a server that closes a connection idle for longer than the
 * poll period (ERR_IDLE_TIMEOUT) leaves the client `offline`, and it connects
 * again when the poll is due, not at once. A client never polls more often
 * than asked (issue #16 item 10).
 *
 * Pure: the socket is the invoked `serverLink` actor, a resource whose life
 * is the `online` state's, and what the client shows is emitted as effects
 * (`welcomed`, `polled`, `disconnected`, `idleClosed`, `failed`), which
 * actors/client.ts prints, as the server's machines emit theirs.
 */
import { and, assign, cancel, fromCallback, not, raise, sendTo, setup } from 'xstate';
import { isComplete, type PollAbout, type PollResult, type Problem } from '../lib/poll.js';
import {
  type ClientMessage,
  PROTOCOL_VERSION,
  READINGS,
  type Reading,
  type ReadingReply,
  type ReceivedServerMessage,
  UNITS,
  type Welcome,
} from '../lib/protocol.js';
import { hashUnit } from '../lib/sensors/noise.js';
import { effect } from '../lib/statechart/actions.js';
import { unbound } from './unbound.js';

/** Server errors that mean "not now" rather than "never": the client retries later. */
const RETRYABLE_CODES: readonly string[] = ['ERR_TOO_MANY_CONNECTIONS', 'ERR_SHUTTING_DOWN'];

/**
 * How the link reports bytes that are not the protocol's: a length prefix
 * over the limit (an HTTP server's "HTTP" read as a length is 1,213,486,160
 * bytes), or a frame that is not a server message.
 */
const GARBLED_CODES: readonly string[] = ['ERR_FRAME_TOO_LARGE', 'ERR_PROTOCOL'];

export interface ClientInput {
  /** 1-based number of this connection, for the lines it prints. */
  readonly connection: number;
  readonly pollIntervalMs: number;
  /** Polls to make before stopping; 0 polls until stopped. */
  readonly polls: number;
  /** How long a request may wait for its reply. */
  readonly requestTimeoutMs: number;
  /** First reconnect delay; doubles on each failed attempt up to `reconnectMaxMs`. */
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  /** Varies the jitter between connections and runs, so reconnects do not arrive in step. */
  readonly jitterSeed: number;
  /** The station to poll, by id; null polls the server's default station. */
  readonly station: string | null;
  /** The readings each poll asks for, in order; all four (READINGS) unless told. */
  readonly readings?: readonly Reading[];
  /**
   * Whether a connection is opened again once lost (and a full or stopping
   * server tried again later); true unless told. A one-shot query (`get`)
   * gives up instead, and says why.
   */
  readonly reconnect?: boolean;
}

export interface ClientContext extends ClientInput {
  readonly readings: readonly Reading[];
  readonly reconnect: boolean;
  readonly welcome: Welcome | null;
  /** Index in `readings` of the reading being asked for. */
  readonly index: number;
  readonly nextId: number;
  readonly poll: PollResult;
  /** Polls finished, complete or not. */
  readonly pollsDone: number;
  /** Polls that ended without all four values. */
  readonly pollsIncomplete: number;
  /** Failed connection attempts in a row. */
  readonly attempt: number;
  readonly backoffMs: number;
  /** Why the last connection ended, or why the client failed. */
  readonly problem: Problem | null;
  /** An error the server sent about the whole connection (id nil), which explains the close that follows. */
  readonly serverError: Problem | null;
  /** Connecting again for a poll after the server closed an idle connection: nothing to announce. */
  readonly resuming: boolean;
}

export type ClientEvent =
  | { readonly type: 'LINK_UP' }
  | { readonly type: 'LINK_DOWN'; readonly code: string; readonly message: string }
  | { readonly type: 'RECEIVED'; readonly message: ReceivedServerMessage }
  | { readonly type: 'STOP' }
  /** The poll period has passed since the last poll was reported (sent by the machine to itself). */
  | { readonly type: 'POLL_DUE' };

/** What the machine tells its link: write this message. */
export interface LinkCommand {
  readonly type: 'SEND';
  readonly message: ClientMessage;
}

/**
 * What the link starts with: the number of its client actor, for the lines
 * it prints itself (the warning of `--insecure-skip-verify` at every
 * connect, issue #14). The link, not the machine, adds the client's name
 * and secret to the hello it writes: no secret is ever in the context.
 */
export interface LinkInput {
  readonly connection: number;
}

function currentReading(context: ClientContext): Reading {
  return context.readings[context.index] as Reading;
}

/** Exponential backoff with jitter: a delay in [½, 1] of min(max, initial × 2^attempt). */
export function backoffDelay(context: ClientInput, attempt: number): number {
  const ceiling = Math.min(
    context.reconnectMaxMs,
    context.reconnectInitialMs * 2 ** Math.min(attempt, 30),
  );
  return Math.round(
    ceiling * (0.5 + 0.5 * hashUnit(context.jitterSeed, context.connection, attempt)),
  );
}

/**
 * What the machine asks its actor to show (actors/client.ts prints it): each
 * carries the connection's number and what the line needs, so the printer
 * reads nothing of the machine.
 */
export type ClientEffect =
  /** The handshake succeeded: the station and the server. */
  | {
      readonly type: 'welcomed';
      readonly connection: number;
      readonly welcome: Welcome;
      readonly reconnected: boolean;
      /** The station the client polls, when it named one. */
      readonly station: string | null;
    }
  /** One finished poll, with the station it is of and the units of its values. */
  | {
      readonly type: 'polled';
      readonly connection: number;
      readonly poll: PollResult;
      readonly about: PollAbout;
    }
  /** The connection is lost; the next attempt is in `retryInMs`. */
  | {
      readonly type: 'disconnected';
      readonly connection: number;
      readonly problem: Problem;
      readonly retryInMs: number;
    }
  /** The server closed the idle connection; the next poll opens another. */
  | { readonly type: 'idleClosed'; readonly connection: number; readonly problem: Problem }
  /** The client gives up, and why. */
  | { readonly type: 'failed'; readonly connection: number; readonly problem: Problem };

/** The station a poll is of and the units of its values, as the welcome gives them. */
function aboutPoll(context: ClientContext): PollAbout {
  return {
    station: context.station ?? context.welcome?.station.id ?? '',
    units: context.welcome?.units ?? UNITS,
  };
}

export const clientMachine = setup({
  types: {
    context: {} as ClientContext,
    events: {} as ClientEvent,
    input: {} as ClientInput,
    emitted: {} as ClientEffect,
  },
  actors: {
    /** The socket to the server: LINK_UP, RECEIVED per message, LINK_DOWN once; takes SEND. */
    serverLink: fromCallback<LinkCommand, LinkInput>(unbound('actor', 'serverLink')),
  },
  actions: {
    /** The handshake succeeded: show the station and the server. */
    announceWelcome: effect(({ context }, params: { welcome: Welcome; reconnected: boolean }) => ({
      type: 'welcomed',
      connection: context.connection,
      welcome: params.welcome,
      reconnected: params.reconnected,
      station: context.station,
    })),
    /** Show one finished poll. */
    reportPoll: effect(({ context }, params: { poll: PollResult }) => ({
      type: 'polled',
      connection: context.connection,
      poll: params.poll,
      about: aboutPoll(context),
    })),
    /** Show that the connection is lost and when the next attempt is. */
    reportDisconnected: effect(({ context }, params: { problem: Problem; retryInMs: number }) => ({
      type: 'disconnected',
      connection: context.connection,
      problem: params.problem,
      retryInMs: params.retryInMs,
    })),
    /** Show that the server closed the connection for being idle, and that the next poll connects again. */
    reportIdleClose: effect(({ context }, params: { problem: Problem }) => ({
      type: 'idleClosed',
      connection: context.connection,
      problem: params.problem,
    })),
    /** Show why the client gives up. */
    reportFailure: effect(({ context }, params: { problem: Problem }) => ({
      type: 'failed',
      connection: context.connection,
      problem: params.problem,
    })),
    sendHello: sendTo('link', {
      type: 'SEND',
      message: { type: 'hello', version: PROTOCOL_VERSION },
    } as LinkCommand),
    sendRead: sendTo(
      'link',
      ({ context }): LinkCommand => ({
        type: 'SEND',
        message: {
          type: 'read',
          id: context.nextId,
          reading: currentReading(context),
          ...(context.station === null ? {} : { station: context.station }),
        },
      }),
    ),
    storeWelcome: assign(({ event }) =>
      event.type === 'RECEIVED' && event.message.type === 'welcome'
        ? { welcome: event.message, attempt: 0, resuming: false }
        : {},
    ),
    /** The next poll, due pollInterval from now (after dropScheduledPoll: a second would poll early). */
    schedulePoll: raise(
      { type: 'POLL_DUE' },
      {
        delay: ({ context }: { context: ClientContext }) => context.pollIntervalMs,
        id: 'nextPoll',
      },
    ),
    /** The poll that was due, if any, is dropped: one is scheduled anew, or a reconnect polls at once. */
    dropScheduledPoll: cancel('nextPoll'),
    markResuming: assign({ resuming: true }),
    clearResuming: assign({ resuming: false }),
    /** Keep the reply (a reading, or an error) for the reading asked for, and move to the next. */
    storeReply: assign(({ context, event }) => {
      if (event.type !== 'RECEIVED') return {};
      const { message } = event;
      const answer: ReadingReply | Problem =
        message.type === 'error'
          ? { code: message.code, message: message.message }
          : (message as ReadingReply);
      return {
        poll: { ...context.poll, [currentReading(context)]: answer },
        index: context.index + 1,
        nextId: (context.nextId + 1) >>> 0,
      };
    }),
    /** The reply did not come in time: the rest of this poll is missing. */
    markTimedOut: assign(({ context }) => {
      const poll: Partial<Record<Reading, ReadingReply | Problem>> = { ...context.poll };
      for (const reading of context.readings.slice(context.index)) {
        poll[reading] = {
          code: 'ERR_REQUEST_TIMEOUT',
          message: `no reply within ${context.requestTimeoutMs} ms`,
        };
      }
      return { poll, index: context.readings.length, nextId: (context.nextId + 1) >>> 0 };
    }),
    countPoll: assign(({ context }) => ({
      pollsDone: context.pollsDone + 1,
      pollsIncomplete:
        context.pollsIncomplete + (isComplete(context.poll, context.readings) ? 0 : 1),
    })),
    startPoll: assign({ poll: {}, index: 0 }),
    /**
     * After a reconnect, a poll the lost connection left half done goes on
     * where it stopped: the request that got no answer is sent again, once, on
     * the new connection, and the readings already answered are kept, so no
     * reading is asked or printed twice (docs/PROTOCOL.md: reads are safe to
     * retry). A poll that was done starts afresh.
     */
    resumePoll: assign(({ context }) =>
      context.index > 0 && context.index < context.readings.length ? {} : { poll: {}, index: 0 },
    ),
    /** The server's own word for the close (say, ERR_SHUTTING_DOWN) explains it better than the socket can. */
    recordLinkDown: assign(({ context, event }) =>
      event.type === 'LINK_DOWN'
        ? {
            problem: context.serverError ?? { code: event.code, message: event.message },
            serverError: null,
          }
        : {},
    ),
    recordServerError: assign(({ event }) =>
      event.type === 'RECEIVED' && event.message.type === 'error'
        ? { serverError: { code: event.message.code, message: event.message.message } }
        : {},
    ),
    recordRefusal: assign(({ event }) =>
      event.type === 'RECEIVED' && event.message.type === 'error'
        ? { problem: { code: event.message.code, message: event.message.message } }
        : {
            problem: {
              code: 'ERR_PROTOCOL',
              message: 'the server did not answer the hello with a welcome',
            },
          },
    ),
    recordUnservedStation: assign(({ context, event }) => ({
      problem: {
        code: 'ERR_UNKNOWN_STATION',
        message: `the server has no station ${JSON.stringify(context.station)}; it has ${
          event.type === 'RECEIVED' && event.message.type === 'welcome'
            ? event.message.stations.map((station) => station.id).join(', ')
            : 'others'
        }`,
      },
    })),
    /** The answer to the hello was not the protocol: the port is some other service's (issue #16 item 7). */
    recordNotMeteoServer: assign(({ event }) => ({
      problem: {
        code: 'ERR_NOT_METEO_SERVER',
        message: `this does not look like a meteo-actors server: its answer to the hello is not a welcome (${
          event.type === 'LINK_DOWN' ? `${event.code}: ${event.message}` : 'no answer'
        })`,
      },
    })),
    recordConnectTimeout: assign(({ context }) => ({
      problem: {
        code: 'ERR_CONNECT_FAILED',
        message: `no connection within ${context.requestTimeoutMs} ms`,
      },
    })),
    recordGreetingTimeout: assign(({ context }) => ({
      problem: {
        code: 'ERR_REQUEST_TIMEOUT',
        message: `no welcome within ${context.requestTimeoutMs} ms`,
      },
    })),
    planReconnect: assign(({ context }) => ({
      backoffMs: backoffDelay(context, context.attempt),
      attempt: context.attempt + 1,
    })),
  },
  guards: {
    isWelcome: ({ event }) => event.type === 'RECEIVED' && event.message.type === 'welcome',
    /** The welcome lists the station this client polls (any station does when it polls the default). */
    servesStation: ({ context, event }) =>
      event.type === 'RECEIVED' &&
      event.message.type === 'welcome' &&
      (context.station === null ||
        event.message.stations.some((station) => station.id === context.station)),
    /** The refusal means "try later" (the server is full or stopping), not "never". */
    isRetryableRefusal: ({ event }) =>
      event.type === 'RECEIVED' &&
      event.message.type === 'error' &&
      RETRYABLE_CODES.includes(event.message.code),
    /** The message answers the request in flight (a reply to an older, timed-out request does not). */
    answersRequest: ({ context, event }) =>
      event.type === 'RECEIVED' &&
      event.message.type !== 'welcome' &&
      event.message.id === context.nextId,
    /** The link went down on bytes that are not the protocol's. */
    isGarbled: ({ event }) => event.type === 'LINK_DOWN' && GARBLED_CODES.includes(event.code),
    /** The server closed the connection because it was idle (the close follows its ERR_IDLE_TIMEOUT). */
    isIdleClose: ({ context, event }) =>
      event.type === 'LINK_DOWN' && context.serverError?.code === 'ERR_IDLE_TIMEOUT',
    /** This connection is made for a poll after an idle close: its welcome says nothing new. */
    isResuming: ({ context }) => context.resuming,
    isConnectionError: ({ event }) =>
      event.type === 'RECEIVED' && event.message.type === 'error' && event.message.id === null,
    hasMoreReadings: ({ context }) => context.index < context.readings.length,
    hasPolledEnough: ({ context }) => context.polls > 0 && context.pollsDone >= context.polls,
    /** A lost or refused connection ends the client: the service never answered, or it does not reconnect. */
    givesUp: ({ context }) => context.welcome === null || !context.reconnect,
    /** It tries later what is worth trying later (a one-shot query does not). */
    reconnects: ({ context }) => context.reconnect,
    isRetryable: ({ context, event }) =>
      event.type === 'LINK_DOWN' &&
      RETRYABLE_CODES.includes(context.serverError?.code ?? event.code),
  },
  delays: {
    requestTimeout: ({ context }) => context.requestTimeoutMs,
    reconnectBackoff: ({ context }) => context.backoffMs,
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => ({
    ...input,
    readings: input.readings ?? READINGS,
    reconnect: input.reconnect ?? true,
    welcome: null,
    index: 0,
    nextId: 1,
    poll: {},
    pollsDone: 0,
    pollsIncomplete: 0,
    attempt: 0,
    backoffMs: 0,
    problem: null,
    serverError: null,
    resuming: false,
  }),
  initial: 'online',
  on: { STOP: '.done' },
  states: {
    online: {
      invoke: {
        id: 'link',
        src: 'serverLink',
        input: ({ context }): LinkInput => ({ connection: context.connection }),
      },
      initial: 'connecting',
      on: {
        RECEIVED: { guard: 'isConnectionError', actions: 'recordServerError' },
        LINK_DOWN: [
          {
            guard: and(['isRetryable', 'reconnects']),
            target: 'reconnecting',
            actions: 'recordLinkDown',
          },
          { guard: 'givesUp', target: 'failed', actions: 'recordLinkDown' },
          { target: 'reconnecting', actions: 'recordLinkDown' },
        ],
      },
      states: {
        connecting: {
          on: { LINK_UP: 'greeting' },
          after: {
            // A host that drops packets would hold the connect for the OS's
            // minutes: the request timeout bounds it as it bounds a reply.
            requestTimeout: [
              {
                guard: 'givesUp',
                target: '#client.failed',
                actions: 'recordConnectTimeout',
              },
              { target: '#client.reconnecting', actions: 'recordConnectTimeout' },
            ],
          },
        },
        greeting: {
          entry: 'sendHello',
          after: {
            // No welcome in time: the first check has failed; a reconnect tries again later.
            requestTimeout: [
              {
                guard: 'givesUp',
                target: '#client.failed',
                actions: 'recordGreetingTimeout',
              },
              { target: '#client.reconnecting', actions: 'recordGreetingTimeout' },
            ],
          },
          on: {
            // What answers the hello with bytes that are not frames of server
            // messages is not a meteo-actors server; other ways of going down
            // are the parent's.
            LINK_DOWN: [
              {
                guard: and(['isGarbled', 'givesUp']),
                target: '#client.failed',
                actions: 'recordNotMeteoServer',
              },
              {
                guard: 'isGarbled',
                target: '#client.reconnecting',
                actions: 'recordNotMeteoServer',
              },
            ],
            RECEIVED: [
              {
                guard: and(['isWelcome', not('servesStation')]),
                target: '#client.failed',
                actions: 'recordUnservedStation',
              },
              {
                guard: and(['isWelcome', 'isResuming']),
                target: 'requesting',
                actions: 'storeWelcome',
              },
              {
                guard: 'isWelcome',
                target: 'requesting',
                actions: [
                  {
                    type: 'announceWelcome',
                    params: ({ context, event }) => ({
                      welcome: event.message as Welcome,
                      reconnected: context.welcome !== null,
                    }),
                  },
                  'storeWelcome',
                ],
              },
              {
                guard: and(['isRetryableRefusal', 'reconnects']),
                target: '#client.reconnecting',
                actions: 'recordRefusal',
              },
              { target: '#client.failed', actions: 'recordRefusal' },
            ],
          },
        },
        requesting: {
          entry: 'sendRead',
          after: { requestTimeout: { target: 'reporting', actions: 'markTimedOut' } },
          on: {
            RECEIVED: {
              guard: 'answersRequest',
              target: 'deciding',
              actions: 'storeReply',
            },
          },
        },
        deciding: {
          always: [{ guard: 'hasMoreReadings', target: 'requesting' }, { target: 'reporting' }],
        },
        reporting: {
          entry: [
            'countPoll',
            { type: 'reportPoll', params: ({ context }) => ({ poll: context.poll }) },
          ],
          always: [{ guard: 'hasPolledEnough', target: '#client.done' }, { target: 'waiting' }],
        },
        waiting: {
          entry: ['dropScheduledPoll', 'schedulePoll'],
          on: {
            POLL_DUE: { target: 'requesting', actions: 'startPoll' },
            // An idle close is no fault: the client waits for the poll offline.
            LINK_DOWN: {
              guard: 'isIdleClose',
              target: '#client.offline',
              actions: 'recordLinkDown',
            },
          },
        },
      },
    },
    offline: {
      entry: [
        'markResuming',
        {
          type: 'reportIdleClose',
          params: ({ context }) => ({
            problem: context.problem ?? {
              code: 'ERR_IDLE_TIMEOUT',
              message: 'idle connection closed',
            },
          }),
        },
      ],
      on: { POLL_DUE: { target: 'online', actions: 'startPoll' } },
    },
    reconnecting: {
      entry: [
        'dropScheduledPoll',
        'clearResuming',
        'planReconnect',
        {
          type: 'reportDisconnected',
          params: ({ context }) => ({
            problem: context.problem ?? { code: 'ERR_CONNECTION_LOST', message: 'connection lost' },
            retryInMs: context.backoffMs,
          }),
        },
      ],
      after: { reconnectBackoff: { target: 'online', actions: 'resumePoll' } },
    },
    failed: {
      type: 'final',
      entry: {
        type: 'reportFailure',
        params: ({ context }) => ({
          problem: context.problem ?? { code: 'ERR_CONNECTION_LOST', message: 'connection lost' },
        }),
      },
    },
    done: { type: 'final' },
  },
});
