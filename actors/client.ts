/**
 * The polling client: one client actor per connection, each on its own
 * socket, all printing through one printer (runClient); and the one-shot
 * query, one client actor that asks once and does not reconnect
 * (queryOnce, `meteo-client get`). machines/clientMachine.ts decides what
 * happens; this file opens the sockets and writes the lines.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { type Actor, createActor, fromCallback, toPromise } from 'xstate';
import { CLIENT_OPTIONS, defaultsOf } from '../lib/config.js';
import { describeError } from '../lib/errors.js';
import { FrameDecoder, MAX_REPLY_FRAME_BYTES } from '../lib/framing.js';
import {
  formatAnswer,
  formatPollJson,
  formatPollProblems,
  formatPollText,
  formatRawAnswer,
  formatUnavailable,
  formatWelcome,
  isReply,
  isUnavailable,
  type PollAbout,
  type PollResult,
  type Problem,
  unavailableReadings,
} from '../lib/poll.js';
import {
  type Credential,
  decodeServerMessage,
  encodeMessage,
  type Reading,
} from '../lib/protocol.js';
import { isUnitSystem, type UnitSystem } from '../lib/units.js';
import {
  type ClientEffect,
  type ClientEvent,
  type ClientInput,
  clientMachine,
  type LinkCommand,
  type LinkInput,
} from '../machines/clientMachine.js';
import type { ObserverFactory } from './observe.js';
import { type ClientTls, tlsProblem } from './tls.js';

/** First reconnect delay, and the most it grows to. */
export const DEFAULT_RECONNECT_INITIAL_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;

const CLIENT_DEFAULTS = defaultsOf(CLIENT_OPTIONS);

/** How to reach the server: where, over TLS or not, and as whom. */
export interface ServerTarget {
  readonly host: string;
  readonly port: number;
  /** Connect with TLS, checking the server's certificate by these options (actors/tls.ts). */
  readonly tls?: ClientTls;
  /** Who the client is (issue #14), sent in the hello; held by the socket's actor only, never in a machine's context. */
  readonly credential?: Credential;
}

export interface ClientSettings extends ServerTarget {
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

/** Opens the socket: TCP, or TLS with the server's certificate checked as `tls` says. */
function openSocket({ host, port, tls }: ServerTarget): Socket {
  if (tls === undefined) return connect({ host, port, noDelay: true });
  return connectTls({ host, port, ...tls }).setNoDelay(true);
}

/**
 * The invoked socket actor of one client machine (machines/clientMachine.ts,
 * `serverLink`). `warn` says what the user must hear at every connect: that
 * the server's certificate is not checked (`--insecure-skip-verify`).
 */
function serverLink(target: ServerTarget, warn: (line: string) => void) {
  const { host, port, tls, credential } = target;
  const where = `${host}:${port}`;
  return fromCallback<LinkCommand, LinkInput>(({ sendBack, receive, input }) => {
    const send = (event: ClientEvent): void => sendBack(event);
    const socket = openSocket(target);
    const decoder = new FrameDecoder(MAX_REPLY_FRAME_BYTES);
    let connected = false;
    let down = false;
    /** Whether the server has sent anything at all. */
    let heard = false;
    const goDown = (code: string, message: string): void => {
      if (down) return;
      down = true;
      socket.destroy();
      send({ type: 'LINK_DOWN', code, message });
    };
    // Over TLS the link is up once the handshake is done and the certificate checked.
    socket.on(tls === undefined ? 'connect' : 'secureConnect', () => {
      connected = true;
      if (tls?.rejectUnauthorized === false) {
        warn(
          `[${input.connection}] WARNING: --insecure-skip-verify: the certificate of ${where} is not checked; anyone on the path can read and change this connection${credential ? ', and take its secret' : ''}`,
        );
      }
      send({ type: 'LINK_UP' });
    });
    socket.on('data', (chunk: Buffer) => {
      heard = true;
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
      // A certificate that cannot be checked is named by its reason, and never ignored (issue #14).
      const refused = tls === undefined ? null : tlsProblem(err, where);
      if (refused !== null) goDown(refused.code, refused.message);
      else if (connected) goDown('ERR_CONNECTION_LOST', `${where}: ${socketProblem(err)}`);
      else if (tls !== undefined && err.code === 'ECONNRESET') {
        goDown(
          'ERR_TLS_HANDSHAKE_FAILED',
          `${where} closed the connection in the TLS handshake; is it started with --tls-cert?`,
        );
      } else goDown('ERR_CONNECT_FAILED', `cannot connect to ${where}: ${socketProblem(err)}`);
    });
    socket.on('close', () => {
      // A server closes without a word only in TLS's handshake: a TLS server when a plain
      // client speaks, or (TLS 1.3 checks the client's certificate last) when it refuses
      // this client's certificate. meteo-actors says why before any other close (issue #14).
      // A TCP load balancer with no server up accepts, then closes, as silently.
      if (heard) goDown('ERR_CONNECTION_LOST', `${where} closed the connection`);
      else if (tls === undefined) {
        goDown(
          'ERR_CONNECTION_LOST',
          `${where} closed the connection without a word (a load balancer with no server up does this; if it serves TLS, add --tls)`,
        );
      } else {
        goDown(
          'ERR_TLS_HANDSHAKE_FAILED',
          `${where} closed the connection without a word: it refused this client's certificate, or its lack of one`,
        );
      }
    });
    receive(({ message }) => {
      if (down) return;
      // The hello says who this client is; the machine never holds the secret (issue #14).
      socket.write(
        encodeMessage(
          message.type === 'hello' && credential ? { ...message, auth: credential } : message,
        ),
      );
    });
    return () => {
      down = true;
      socket.destroy();
    };
  });
}

/** What a JSON line says of the poll of a client actor: its station, and the wire's units. */

/** The input of client actor number `connection` (from 1). */
function clientInput(
  settings: Pick<ClientSettings, 'pollIntervalMs' | 'count' | 'requestTimeoutMs' | 'station'> &
    Pick<ClientSettings, 'reconnectInitialMs' | 'reconnectMaxMs'>,
  connection: number,
  jitterSeed: number,
): ClientInput {
  return {
    connection,
    pollIntervalMs: settings.pollIntervalMs,
    polls: settings.count,
    requestTimeoutMs: settings.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
    reconnectInitialMs: settings.reconnectInitialMs ?? DEFAULT_RECONNECT_INITIAL_MS,
    reconnectMaxMs: settings.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS,
    jitterSeed,
    station: settings.station ? settings.station : null,
  };
}

function unitSystem(units: string | undefined): UnitSystem {
  return isUnitSystem(units) ? units : 'metric';
}

/** Starts `connections` client actors and prints what they see. */
export function runClient(settings: ClientSettings, output: ClientOutput): RunningClient {
  const units = unitSystem(settings.units);
  // Readings a station's source does not have, already said (connection and reading).
  const toldUnavailable = new Set<string>();
  // Connections that have said their server closes idle connections.
  const toldIdleClose = new Set<number>();
  const logic = clientMachine.provide({
    actors: { serverLink: serverLink(settings, output.err) },
  });
  const show = (effect: ClientEffect): void => {
    switch (effect.type) {
      case 'welcomed':
        output.err(
          formatWelcome(effect.connection, effect.welcome, effect.reconnected, effect.station),
        );
        break;
      case 'polled': {
        const { connection, poll } = effect;
        output.out(
          settings.json
            ? formatPollJson(connection, poll, new Date(), effect.about)
            : formatPollText(connection, poll, units),
        );
        const problems = formatPollProblems(connection, poll);
        if (problems) output.err(problems);
        for (const reading of unavailableReadings(poll)) {
          const told = `${connection} ${reading}`;
          if (toldUnavailable.has(told)) continue;
          toldUnavailable.add(told);
          output.err(formatUnavailable(connection, reading, poll));
        }
        break;
      }
      case 'disconnected':
        output.err(
          `[${effect.connection}] disconnected: ${effect.problem.code}: ${effect.problem.message}; reconnecting in ${(effect.retryInMs / 1000).toFixed(1)} s`,
        );
        break;
      case 'idleClosed':
        // Said once: with a poll period past the server's idle timeout, it happens at every poll.
        if (toldIdleClose.has(effect.connection)) break;
        toldIdleClose.add(effect.connection);
        output.err(
          `[${effect.connection}] the server closed the idle connection (${effect.problem.code}: ${effect.problem.message}); it is opened again when a poll is due`,
        );
        break;
      case 'failed':
        output.err(`[${effect.connection}] ${effect.problem.code}: ${effect.problem.message}`);
        break;
    }
  };

  const runSeed = (Date.now() ^ (process.pid << 16)) >>> 0;
  const actors = Array.from({ length: settings.connections }, (_, i) =>
    createActor(logic, {
      id: `connection.${i + 1}`,
      input: clientInput(settings, i + 1, runSeed),
      ...(settings.inspect &&
      i < (settings.inspectConnections ?? CLIENT_DEFAULTS.inspectConnections)
        ? { inspect: settings.inspect(`connection.${i + 1}`) }
        : {}),
    }),
  );
  for (const actor of actors) actor.on('*', show);

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

/** What a one-shot query (`meteo-client get`) asks for. */
export interface QuerySettings extends ServerTarget {
  /** The station to read, by id; the server's default when absent or empty. */
  readonly station?: string;
  readonly units?: string;
  readonly requestTimeoutMs?: number;
  /** The readings to get, in the order to print them. */
  readonly readings: readonly Reading[];
  /** `get all`: a reading the station's source does not have is no failure. */
  readonly all: boolean;
  /** One JSON object (the poll line's, with these readings) rather than a line per reading. */
  readonly json: boolean;
  /** The numbers alone, one a line (`-` for one without a value). */
  readonly raw: boolean;
  /** Watches the one client actor, `connection.1` (the trace, the inspector). */
  readonly inspect?: ObserverFactory;
}

/**
 * Asks once for `settings.readings`, on one connection that does not
 * reconnect, and prints them: a line per reading asked, in order, to `out`,
 * and each failure as one coded line (`CODE: reading: message`) to `err`.
 * Resolves with the exit status: 0 when every reading asked for has a value
 * (with `all`, every reading the station's source has), 1 otherwise.
 */
export async function queryOnce(settings: QuerySettings, output: ClientOutput): Promise<number> {
  const units = unitSystem(settings.units);
  let failure: Problem | undefined;
  let result: { poll: PollResult; about: PollAbout } | undefined;
  const logic = clientMachine.provide({
    actors: { serverLink: serverLink(settings, (line) => output.err(line.replace(/^\[1\] /, ''))) },
  });
  const actor = createActor(logic, {
    id: 'connection.1',
    input: {
      ...clientInput(
        { ...settings, pollIntervalMs: CLIENT_DEFAULTS.pollIntervalMs, count: 1 },
        1,
        0,
      ),
      readings: settings.readings,
      reconnect: false,
    },
    ...(settings.inspect ? { inspect: settings.inspect('connection.1') } : {}),
  });
  // It does not reconnect: only a poll or a failure can come.
  actor.on('polled', ({ poll, about }) => {
    result = { poll, about };
  });
  actor.on('failed', ({ problem }) => {
    failure = problem;
  });
  actor.start();
  await toPromise(actor);
  if (result === undefined) {
    const problem = failure ?? { code: 'ERR_CONNECTION_LOST', message: 'no answer' };
    output.err(`${problem.code}: ${problem.message}`);
    return 1;
  }
  const { poll, about } = result;
  if (settings.json) {
    output.out(formatPollJson(1, poll, new Date(), about, settings.readings));
  } else {
    for (const reading of settings.readings)
      output.out(
        settings.raw
          ? formatRawAnswer(poll[reading], units)
          : formatAnswer(reading, poll[reading], units),
      );
  }
  let status = 0;
  for (const reading of settings.readings) {
    const answer = poll[reading];
    if (isReply(answer) || (settings.all && isUnavailable(answer))) continue;
    output.err(`${answer?.code ?? 'ERR_PROTOCOL'}: ${reading}: ${answer?.message ?? 'no answer'}`);
    status = 1;
  }
  return status;
}
