/**
 * The polling client: one client actor per connection, each on its own
 * socket, all printing through one printer. machines/clientMachine.ts decides
 * what happens; this file opens the sockets and writes the lines.
 */
import { connect } from 'node:net';
import { type Actor, createActor, fromCallback, toPromise } from 'xstate';
import { CLIENT_OPTIONS, defaultsOf } from '../lib/config.js';
import { describeError } from '../lib/errors.js';
import { FrameDecoder, MAX_REPLY_FRAME_BYTES } from '../lib/framing.js';
import {
  formatPollJson,
  formatPollProblems,
  formatPollText,
  formatUnavailable,
  formatWelcome,
  unavailableReadings,
} from '../lib/poll.js';
import { decodeServerMessage, encodeMessage, UNITS } from '../lib/protocol.js';
import { isUnitSystem, type UnitSystem } from '../lib/units.js';
import { type ClientEvent, clientMachine, type LinkCommand } from '../machines/clientMachine.js';
import type { ObserverFactory } from './observe.js';

/** First reconnect delay, and the most it grows to. */
export const DEFAULT_RECONNECT_INITIAL_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;

const CLIENT_DEFAULTS = defaultsOf(CLIENT_OPTIONS);

export interface ClientSettings {
  readonly host: string;
  readonly port: number;
  readonly pollIntervalMs: number;
  readonly connections: number;
  /** Polls per connection; 0 polls until stopped. */
  readonly count: number;
  readonly json: boolean;
  /** The station to poll, by id; the server's default when absent or empty. */
  readonly station?: string;
  /** Units to show values in (text only; JSON stays metric, as on the wire). */
  readonly units?: string;
  readonly requestTimeoutMs?: number;
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  /**
   * Watches the client actors (the inspector, the trace): called once per
   * inspected actor with its name, `connection.N`. Each client actor is the
   * root of its own actor system.
   */
  readonly inspect?: ObserverFactory;
  /** How many client actors (the first ones) the inspector gets. */
  readonly inspectConnections?: number;
}

/** Where the client's lines go: results to `out`, news about connections to `err`. */
export interface ClientOutput {
  out(line: string): void;
  err(line: string): void;
}

export interface RunningClient {
  /** Resolves with the exit status once every connection is done or has failed. */
  readonly finished: Promise<number>;
  readonly actors: readonly Actor<typeof clientMachine>[];
  /** Ends every connection; `finished` then resolves. */
  stop(): void;
}

const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (is the server running?)',
  ECONNRESET: 'connection reset by the server',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
};

function socketProblem(err: NodeJS.ErrnoException): string {
  return (err.code && SOCKET_ERRORS[err.code]) || err.message;
}

/** The invoked socket actor of one client machine (machines/clientMachine.ts, `serverLink`). */
function serverLink(host: string, port: number) {
  return fromCallback<LinkCommand>(({ sendBack, receive }) => {
    const send = (event: ClientEvent): void => sendBack(event);
    const socket = connect({ host, port, noDelay: true });
    const decoder = new FrameDecoder(MAX_REPLY_FRAME_BYTES);
    let connected = false;
    let down = false;
    const goDown = (code: string, message: string): void => {
      if (down) return;
      down = true;
      socket.destroy();
      send({ type: 'LINK_DOWN', code, message });
    };
    socket.on('connect', () => {
      connected = true;
      send({ type: 'LINK_UP' });
    });
    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = decoder.push(chunk);
      for (const frame of frames) {
        if (down) return;
        try {
          send({ type: 'RECEIVED', message: decodeServerMessage(frame) });
        } catch (err) {
          goDown('ERR_PROTOCOL', `${host}:${port}: ${describeError(err)}`);
          return;
        }
      }
      if (error) goDown(error.code, `${host}:${port}: ${error.message}`);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) goDown('ERR_CONNECTION_LOST', `${host}:${port}: ${socketProblem(err)}`);
      else goDown('ERR_CONNECT_FAILED', `cannot connect to ${host}:${port}: ${socketProblem(err)}`);
    });
    socket.on('close', () =>
      goDown('ERR_CONNECTION_LOST', `${host}:${port} closed the connection`),
    );
    receive((command) => {
      if (!down) socket.write(encodeMessage(command.message));
    });
    return () => {
      down = true;
      socket.destroy();
    };
  });
}

/** Starts `connections` client actors and prints what they see. */
export function runClient(settings: ClientSettings, output: ClientOutput): RunningClient {
  const units: UnitSystem = isUnitSystem(settings.units) ? settings.units : 'metric';
  // Readings a station's source does not have, already said (connection and reading).
  const toldUnavailable = new Set<string>();
  // Connections that have said their server closes idle connections.
  const toldIdleClose = new Set<number>();
  const logic = clientMachine.provide({
    actors: { serverLink: serverLink(settings.host, settings.port) },
    actions: {
      announceWelcome: ({ context }, { welcome, reconnected }) =>
        output.err(formatWelcome(context.connection, welcome, reconnected, context.station)),
      reportPoll: ({ context }, { poll }) => {
        const about = {
          station: context.station ?? context.welcome?.station.id ?? '',
          units: context.welcome?.units ?? UNITS,
        };
        output.out(
          settings.json
            ? formatPollJson(context.connection, poll, new Date(), about)
            : formatPollText(context.connection, poll, units),
        );
        const problems = formatPollProblems(context.connection, poll);
        if (problems) output.err(problems);
        for (const reading of unavailableReadings(poll)) {
          const told = `${context.connection} ${reading}`;
          if (toldUnavailable.has(told)) continue;
          toldUnavailable.add(told);
          output.err(formatUnavailable(context.connection, reading, poll));
        }
      },
      reportDisconnected: ({ context }, { problem, retryInMs }) =>
        output.err(
          `[${context.connection}] disconnected: ${problem.code}: ${problem.message}; reconnecting in ${(retryInMs / 1000).toFixed(1)} s`,
        ),
      reportIdleClose: ({ context }, { problem }) => {
        // Said once: with a poll period past the server's idle timeout, it happens at every poll.
        if (toldIdleClose.has(context.connection)) return;
        toldIdleClose.add(context.connection);
        output.err(
          `[${context.connection}] the server closed the idle connection (${problem.code}: ${problem.message}); it is opened again when a poll is due`,
        );
      },
      reportFailure: ({ context }, { problem }) =>
        output.err(`[${context.connection}] ${problem.code}: ${problem.message}`),
    },
  });

  const runSeed = (Date.now() ^ (process.pid << 16)) >>> 0;
  const actors = Array.from({ length: settings.connections }, (_, i) =>
    createActor(logic, {
      id: `connection.${i + 1}`,
      input: {
        connection: i + 1,
        pollIntervalMs: settings.pollIntervalMs,
        polls: settings.count,
        requestTimeoutMs: settings.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
        reconnectInitialMs: settings.reconnectInitialMs ?? DEFAULT_RECONNECT_INITIAL_MS,
        reconnectMaxMs: settings.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS,
        jitterSeed: runSeed,
        station: settings.station ? settings.station : null,
      },
      ...(settings.inspect &&
      i < (settings.inspectConnections ?? CLIENT_DEFAULTS.inspectConnections)
        ? { inspect: settings.inspect(`connection.${i + 1}`) }
        : {}),
    }),
  );

  const outcomes = actors.map(async (actor) => {
    try {
      const snapshot = await toPromise(actor).then(() => actor.getSnapshot());
      if (snapshot.matches('failed')) return 1;
      // With --count, a poll that lacked a value makes the run a failure.
      return settings.count > 0 && snapshot.context.pollsIncomplete > 0 ? 1 : 0;
    } catch (err) {
      output.err(`client actor failed: ${describeError(err)}`);
      return 1;
    }
  });
  for (const actor of actors) actor.start();

  return {
    actors,
    finished: Promise.all(outcomes).then((codes) => Math.max(0, ...codes)),
    stop: () => {
      for (const actor of actors) actor.send({ type: 'STOP' });
    },
  };
}
