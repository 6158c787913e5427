/**
 * The acceptor: listens, takes each new connection and starts a connection
 * actor for it, keeps count of the open ones, and on shutdown stops taking
 * new ones and waits for the open ones to finish (docs/PROTOCOL.md §8).
 *
 *   open(binding → listening) ──SHUTDOWN──▶ draining ──▶ stopped
 *            └──LISTEN_FAILED──▶ failed
 *
 * Each connection actor (`connection.N`) has this actor as its parent and
 * shares its actor system, so its end reaches this machine as XState's own
 * `xstate.done.actor.connection.N` (or `xstate.error.actor.connection.N`,
 * when it failed: handled here, so a fault in one connection reaches no
 * other and never this machine). They are started by an action rather than
 * spawned, so they are not in this machine's snapshot: accepting the
 * ten-thousandth connection costs what accepting the first did (a spawn
 * copies the parent's map of children every time).
 *
 * Pure: the listening socket and the connection actors live in actors/acceptor.ts.
 */
import { assign, fromCallback, setup } from 'xstate';
import type { ErrorCode } from '../lib/errors.js';
import type { Transport } from '../lib/transport.js';
import { unbound } from './unbound.js';

export interface AcceptorInput {
  /** Connections served at once; one more is told ERR_TOO_MANY_CONNECTIONS and closed. */
  readonly maxConnections: number;
  /** How long open connections get, after SHUTDOWN, to finish before they are closed. */
  readonly drainTimeoutMs: number;
}

export interface ListenAddress {
  readonly address: string;
  readonly port: number;
}

export interface AcceptorContext extends AcceptorInput {
  readonly listening: ListenAddress | null;
  readonly failure: { readonly code: ErrorCode; readonly message: string } | null;
  /** Connections open now. */
  readonly open: number;
  /** Connections accepted since start; the last one's number. */
  readonly accepted: number;
  /** Connections turned away since start. */
  readonly rejected: number;
}

export type AcceptorEvent =
  | { readonly type: 'LISTENING'; readonly address: string; readonly port: number }
  | { readonly type: 'LISTEN_FAILED'; readonly code: ErrorCode; readonly message: string }
  | { readonly type: 'CONNECTION'; readonly transport: Transport }
  /** A connection actor reached its final state. */
  | { readonly type: `xstate.done.actor.connection.${number}` }
  /** A connection actor failed; it has already closed its socket. */
  | { readonly type: `xstate.error.actor.connection.${number}`; readonly error: unknown }
  | { readonly type: 'SHUTDOWN' };

export const acceptorMachine = setup({
  types: {
    context: {} as AcceptorContext,
    events: {} as AcceptorEvent,
    input: {} as AcceptorInput,
  },
  actors: {
    /** The listening socket: sends LISTENING or LISTEN_FAILED, then a CONNECTION per accepted socket. */
    listener: fromCallback<AcceptorEvent>(unbound('actor', 'listener')),
  },
  actions: {
    /** Start connection actor number `connection` on this transport. */
    startConnection: unbound('action', 'startConnection') as (
      _: unknown,
      params: { transport: Transport; connection: number },
    ) => void,
    /** Send the peer one error and close; no connection actor is started. */
    refuseConnection: unbound('action', 'refuseConnection') as (
      _: unknown,
      params: { transport: Transport; code: ErrorCode; message: string },
    ) => void,
    /** Tell every open connection the server is stopping. */
    shutdownConnections: unbound('action', 'shutdownConnections'),
    /** Close every connection still open, whatever it is doing. */
    abortConnections: unbound('action', 'abortConnections'),
    countAccepted: assign(({ context }) => ({
      accepted: context.accepted + 1,
      open: context.open + 1,
    })),
    countRejected: assign(({ context }) => ({ rejected: context.rejected + 1 })),
    countClosed: assign(({ context }) => ({ open: context.open - 1 })),
  },
  guards: {
    atCapacity: ({ context }) => context.open >= context.maxConnections,
    hasNoConnections: ({ context }) => context.open === 0,
  },
  delays: {
    drainTimeout: ({ context }) => context.drainTimeoutMs,
  },
}).createMachine({
  id: 'acceptor',
  context: ({ input }) => ({
    ...input,
    listening: null,
    failure: null,
    open: 0,
    accepted: 0,
    rejected: 0,
  }),
  initial: 'open',
  on: {
    'xstate.done.actor.connection.*': { actions: 'countClosed' },
    'xstate.error.actor.connection.*': { actions: 'countClosed' },
  },
  states: {
    open: {
      invoke: { id: 'listener', src: 'listener' },
      initial: 'binding',
      states: {
        binding: {
          on: {
            LISTENING: {
              target: 'listening',
              actions: assign(({ event }) => ({
                listening: { address: event.address, port: event.port },
              })),
            },
            LISTEN_FAILED: {
              target: '#acceptor.failed',
              actions: assign(({ event }) => ({
                failure: { code: event.code, message: event.message },
              })),
            },
          },
        },
        listening: {
          on: {
            CONNECTION: [
              {
                guard: 'atCapacity',
                actions: [
                  'countRejected',
                  {
                    type: 'refuseConnection',
                    params: ({ context, event }) => ({
                      transport: event.transport,
                      code: 'ERR_TOO_MANY_CONNECTIONS',
                      message: `the server is at its limit of ${context.maxConnections} connections; try again later`,
                    }),
                  },
                ],
              },
              {
                actions: [
                  'countAccepted',
                  {
                    type: 'startConnection',
                    params: ({ context, event }) => ({
                      transport: event.transport,
                      connection: context.accepted,
                    }),
                  },
                ],
              },
            ],
          },
        },
      },
      on: { SHUTDOWN: 'draining' },
    },
    draining: {
      entry: 'shutdownConnections',
      always: { guard: 'hasNoConnections', target: 'stopped' },
      // Past the deadline, whatever is still open is closed where it stands.
      after: { drainTimeout: { target: 'stopped', actions: 'abortConnections' } },
      on: {
        // Leaving `open` stopped the listener, so the kernel refuses newcomers.
        // A CONNECTION can still reach this state only from a listener that
        // reports a socket after its stop: it is told and closed, not leaked.
        CONNECTION: {
          actions: [
            'countRejected',
            {
              type: 'refuseConnection',
              params: ({ event }) => ({
                transport: event.transport,
                code: 'ERR_SHUTTING_DOWN',
                message: 'the server is shutting down',
              }),
            },
          ],
        },
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
