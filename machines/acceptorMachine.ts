/**
 * The acceptor: the server's front door (docs/PROTOCOL.md §7, §8).
 *
 *   binding ──LISTENING──▶ listening ⇄ paused ──SHUTDOWN──▶ draining ──ALL_CLOSED──▶ stopped
 *      └──LISTEN_FAILED──▶ failed      └──RETIRE──▶ retiring ──┘  └──drain deadline──▶ stopped
 *
 * It binds the listening socket, hands every accepted socket to the
 * connection supervisor (actors/supervisor.ts), which starts a connection
 * actor for it or refuses it, and stops accepting while too many refused
 * sockets linger (`paused`). On SHUTDOWN it stops accepting, tells the
 * supervisor to drain, and waits for the last connection to close, up to
 * the drain deadline, past which the rest are closed where they stand.
 * RETIRE is a shutdown behind a load balancer (issue #15): the server first
 * says it is not ready (`retiring`: /readyz answers 503) while it still
 * accepts, for the ready grace, so the balancer stops sending newcomers
 * before the listener closes; then it drains.
 *
 * The machine does no I/O and counts nothing: it names its effects with
 * `effect()` and actors/server.ts performs them on the listener and the
 * supervisor, which owns the one count of open connections.
 */
import { assign, setup } from 'xstate';
import type { ErrorCode } from '../lib/errors.js';
import { effect } from '../lib/statechart/actions.js';
import type { Transport } from '../lib/transport.js';

export interface AcceptorInput {
  /** How long open connections get, after SHUTDOWN, to finish before they are closed. */
  readonly drainTimeoutMs: number;
  /** How long a retiring server says it is not ready before it stops accepting. */
  readonly readyGraceMs: number;
}

export interface ListenAddress {
  readonly address: string;
  readonly port: number;
}

export interface AcceptorContext extends AcceptorInput {
  /** Where the server listens, once it does. */
  readonly listening: ListenAddress | null;
  /** Why the server could not listen, or stopped listening, if it did. */
  readonly failure: { readonly code: ErrorCode; readonly message: string } | null;
}

export type AcceptorEvent =
  | { readonly type: 'LISTENING'; readonly address: string; readonly port: number }
  | { readonly type: 'LISTEN_FAILED'; readonly code: ErrorCode; readonly message: string }
  | { readonly type: 'CONNECTION'; readonly transport: Transport }
  /** So many refused sockets linger that accepting must stop. */
  | { readonly type: 'REFUSALS_FULL' }
  /** The refused sockets are gone. */
  | { readonly type: 'REFUSALS_CLEARED' }
  /** Draining, and the last connection has closed. */
  | { readonly type: 'ALL_CLOSED' }
  /** Stop: drain now. */
  | { readonly type: 'SHUTDOWN' }
  /** Stop behind a load balancer: not ready for the ready grace, then drain. */
  | { readonly type: 'RETIRE' };

/** What the acceptor asks of the listener and the supervisor. */
export type AcceptorEffect =
  | { readonly type: 'listen' }
  | { readonly type: 'stopListening' }
  | { readonly type: 'admit'; readonly transport: Transport }
  | { readonly type: 'drainConnections' }
  | { readonly type: 'abortConnections' };

export const acceptorMachine = setup({
  types: {
    context: {} as AcceptorContext,
    events: {} as AcceptorEvent,
    input: {} as AcceptorInput,
    emitted: {} as AcceptorEffect,
  },
  actions: {
    listen: effect(() => ({ type: 'listen' })),
    stopListening: effect(() => ({ type: 'stopListening' })),
    /** The supervisor serves the socket, or refuses it with a coded error. */
    admit: effect(({ event }) => {
      if (event.type !== 'CONNECTION') throw new Error(`admit on ${event.type}`);
      return { type: 'admit', transport: event.transport };
    }),
    drainConnections: effect(() => ({ type: 'drainConnections' })),
    abortConnections: effect(() => ({ type: 'abortConnections' })),
    recordAddress: assign(({ event }) =>
      event.type === 'LISTENING' ? { listening: { address: event.address, port: event.port } } : {},
    ),
    recordFailure: assign(({ event }) =>
      event.type === 'LISTEN_FAILED'
        ? { failure: { code: event.code, message: event.message } }
        : {},
    ),
  },
  delays: {
    drainTimeout: ({ context }) => context.drainTimeoutMs,
    readyGrace: ({ context }) => context.readyGraceMs,
  },
}).createMachine({
  id: 'acceptor',
  context: ({ input }) => ({ ...input, listening: null, failure: null }),
  initial: 'binding',
  states: {
    binding: {
      entry: 'listen',
      on: {
        LISTENING: { target: 'listening', actions: 'recordAddress' },
        LISTEN_FAILED: { target: 'failed', actions: 'recordFailure' },
        SHUTDOWN: { target: 'stopped', actions: 'stopListening' },
        RETIRE: { target: 'stopped', actions: 'stopListening' },
      },
    },
    listening: {
      on: {
        CONNECTION: { actions: 'admit' },
        REFUSALS_FULL: { target: 'paused', actions: 'stopListening' },
        RETIRE: 'retiring',
      },
    },
    retiring: {
      on: {
        // Still accepting and serving: only readiness has changed.
        CONNECTION: { actions: 'admit' },
        RETIRE: {},
      },
      after: { readyGrace: 'draining' },
    },
    paused: {
      on: {
        // Sockets accepted before the listener stopped still arrive.
        CONNECTION: { actions: 'admit' },
        REFUSALS_CLEARED: { target: 'listening', actions: 'listen' },
        // Not accepting already: nothing for a balancer to notice.
        RETIRE: 'draining',
      },
    },
    draining: {
      entry: ['stopListening', 'drainConnections'],
      on: {
        // Only a socket accepted just before the stop: the supervisor refuses it (ERR_SHUTTING_DOWN).
        CONNECTION: { actions: 'admit' },
        ALL_CLOSED: 'stopped',
        SHUTDOWN: {},
        RETIRE: {},
      },
      // Past the deadline, whatever is still open is closed where it stands.
      after: { drainTimeout: { target: 'stopped', actions: 'abortConnections' } },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
  on: {
    SHUTDOWN: '.draining',
    // Listening again after a pause failed (the port was taken meanwhile): drain and stop.
    LISTEN_FAILED: { target: '.draining', actions: 'recordFailure' },
    LISTENING: { actions: 'recordAddress' },
  },
});
