/**
 * The protocol session of one connection, from the server's side
 * (docs/PROTOCOL.md §4–§6), as pure functions: which messages become sensor
 * reads, which are answered at once (the welcome, the errors), and how a
 * read's result becomes its reply. The product's connection machine and the
 * benchmark's bare baseline server both run these, so the two cannot speak
 * different protocols.
 */
import type { ErrorCode } from './errors.js';
import {
  type ClientMessage,
  errorReply,
  type Hello,
  PROTOCOL_VERSION,
  quote,
  READING_UNITS,
  type Reading,
  type Rejected,
  type ServerMessage,
  type Welcome,
} from './protocol.js';
import type { SensorRead } from './sensors/batch.js';
import { isSensorFailure, type SensorResult } from './sensors/result.js';

/** Where a connection stands in its session. */
export interface Session {
  /** A hello has been answered with a welcome. */
  readonly greeted: boolean;
  /** The code of an error that ends the session (an unsupported version, a refused credential), once one is queued. */
  readonly endedBy: ErrorCode | null;
}

export const NEW_SESSION: Session = Object.freeze({ greeted: false, endedBy: null });

/**
 * What the server's connection actor found of a hello's credential, checked
 * as the frame was decoded (actors/auth.ts). Never the secret itself, which
 * no state machine sees (issue #14). Only `ok` is let in:
 *
 * - `ok`: the client is in the auth file and the secret is its own;
 * - `missing`: the server requires a credential and the hello has none;
 * - `unknown-client`, `wrong-secret`: what it says (the reply does not);
 * - `cleartext`: a credential over plain TCP to a non-loopback address,
 *   refused whatever it is, since the secret crossed the network in clear;
 * - `throttled`: not checked at all, because the address has failed so
 *   often that its next guesses would wait too long (README, "Serving
 *   beyond localhost").
 */
export type CredentialCheck =
  | 'ok'
  | 'missing'
  | 'unknown-client'
  | 'wrong-secret'
  | 'cleartext'
  | 'throttled';

/** The reasons a credential is refused, as the `reason` label of the auth-failure counter. */
export const AUTH_FAILURE_REASONS: readonly Exclude<CredentialCheck, 'ok'>[] = [
  'missing',
  'unknown-client',
  'wrong-secret',
  'cleartext',
  'throttled',
];

/**
 * A hello whose credential the server has checked: the secret is gone and
 * the outcome is in its place. A hello without `credential` was not checked
 * (the server requires none, and none came in clear): it is let in, as
 * before issue #14.
 */
export interface CheckedHello extends Omit<Hello, 'auth'> {
  readonly auth?: never;
  /** The name the hello gave, whatever it is (for the log); absent when it gave none. */
  readonly client?: string;
  readonly credential: CredentialCheck;
}

/** A reply on its way out, with what the server's counters need to know about it. */
export interface Reply {
  readonly message: ServerMessage;
  /** The reading the request asked for, when it was a read. */
  readonly reading: Reading | null;
  /** The id of the station a read was made at, when it was one. */
  readonly station: string | null;
  /** When its request arrived (the clock of `admit`), or null for an error the server raised itself. */
  readonly receivedAt: number | null;
  /**
   * On the answer to a checked hello (its welcome, or its ERR_AUTH_FAILED):
   * what the check found. The connection actor counts and logs a failure,
   * and times the write by the peer's record of failures (actors/auth.ts).
   */
  readonly hello?: { readonly client: string | null; readonly credential: CredentialCheck };
}

/** A sensor read a request asked for, waiting for its result. */
export interface ReadItem extends SensorRead {
  readonly kind: 'read';
  readonly id: number;
  readonly receivedAt: number;
}

/** One unit of work, in request order: a sensor read to make, or a reply already known. */
export type WorkItem = ReadItem | { readonly kind: 'reply'; readonly reply: Reply };

/** An error the server raises about the whole connection (id nil), not about one request. */
export function connectionError(code: ErrorCode, message: string): Reply {
  return {
    message: errorReply(null, code, message),
    reading: null,
    station: null,
    receivedAt: null,
  };
}

function stationIndex(welcome: Welcome, id: string): number {
  return welcome.stations.findIndex((station) => station.id === id);
}

/**
 * True when a decoded frame holds a request: a `hello` or a `read` that
 * passed every check that looks at the frame alone (docs/PROTOCOL.md §6.3).
 * Only such a frame restarts the idle timer (§7): an empty, malformed or
 * rejected one does not, so junk sent now and then cannot hold a connection
 * open. Whether the session then serves it (the handshake, the station)
 * does not matter.
 */
export function isRequest(message: ClientMessage | Rejected): boolean {
  return message.type !== 'rejected';
}

/**
 * The error a message of type `type` gets from the handshake check of §6.3
 * (a `read` before the welcome, a second `hello`), or null when it passes.
 * It comes before the checks of the message's fields, so it also answers a
 * rejected frame that claimed one of the two types.
 */
function handshakeError(
  greeted: boolean,
  type: ClientMessage['type'] | undefined,
  id: number | null,
): ServerMessage | null {
  if (type === 'read' && !greeted) {
    return errorReply(id, 'ERR_HANDSHAKE_REQUIRED', 'send hello before any request');
  }
  if (type === 'hello' && greeted) {
    return errorReply(id, 'ERR_ALREADY_GREETED', 'the handshake is already done');
  }
  return null;
}

/**
 * Turns received messages into work, appended to `work` in arrival order,
 * and returns the session after them. Each message gets the answer of the
 * first check of docs/PROTOCOL.md §6.3 it fails: the decoder has made those
 * that look at the frame alone, and this adds those that need the session
 * (the handshake) or the server (the version, the credential, the
 * station). Once the session has ended (an unsupported version, a refused
 * credential), the messages after that one are not taken.
 */
export function admit(
  session: Session,
  welcome: Welcome,
  messages: readonly (ClientMessage | Rejected)[],
  receivedAt: number,
  work: WorkItem[],
): Session {
  let { greeted, endedBy } = session;
  const answer = (message: ServerMessage, hello?: Reply['hello']): void => {
    const reply: Reply = { message, reading: null, station: null, receivedAt };
    work.push({ kind: 'reply', reply: hello === undefined ? reply : { ...reply, hello } });
  };
  for (const message of messages) {
    if (endedBy !== null) break;
    if (message.type === 'rejected') {
      answer(
        handshakeError(greeted, message.claimed, message.id) ??
          errorReply(message.id, message.code, message.message),
      );
      continue;
    }
    const id = message.id ?? null;
    const refused = handshakeError(greeted, message.type, id);
    if (refused !== null) {
      answer(refused);
    } else if (message.type === 'hello') {
      // Checked by the connection actor, when the server checks credentials; else absent.
      const credential = (message as Partial<CheckedHello>).credential;
      const checked =
        credential === undefined
          ? undefined
          : { client: (message as CheckedHello).client ?? null, credential };
      if (message.version !== PROTOCOL_VERSION) {
        // The version comes first (docs/PROTOCOL.md §6.3): which protocol, then who.
        answer(
          errorReply(
            id,
            'ERR_UNSUPPORTED_VERSION',
            `this server speaks protocol version ${PROTOCOL_VERSION}, not ${message.version}`,
          ),
        );
        endedBy = 'ERR_UNSUPPORTED_VERSION';
      } else if (credential !== undefined && credential !== 'ok') {
        // One answer for every way a credential fails: the reply does not say which part was wrong.
        answer(
          errorReply(id, 'ERR_AUTH_FAILED', 'authentication failed; the connection is closed'),
          checked,
        );
        endedBy = 'ERR_AUTH_FAILED';
      } else {
        answer(welcome, checked);
        greeted = true;
      }
    } else {
      // No station named: the default, first in the welcome's list.
      const station = message.station === undefined ? 0 : stationIndex(welcome, message.station);
      if (station < 0) {
        answer(
          errorReply(
            message.id,
            'ERR_UNKNOWN_STATION',
            `no station ${quote(message.station as string)}; stations are ${welcome.stations.map((known) => known.id).join(', ')}`,
          ),
        );
      } else {
        work.push({ kind: 'read', id: message.id, reading: message.reading, station, receivedAt });
      }
    }
  }
  return greeted === session.greeted && endedBy === session.endedBy
    ? session
    : { greeted, endedBy };
}

/** The sensor reads a batch of work needs, in order. */
export function readsOf(batch: readonly WorkItem[]): ReadItem[] {
  const reads: ReadItem[] = [];
  for (const item of batch) if (item.kind === 'read') reads.push(item);
  return reads;
}

/** The reply to one read, given its sensor result: the reading, or the error the sensor gave. */
export function replyTo(welcome: Welcome, read: ReadItem, result: SensorResult | undefined): Reply {
  const { id, reading, receivedAt } = read;
  const station = welcome.stations[read.station]?.id ?? '';
  let message: ServerMessage;
  if (result === undefined) {
    message = errorReply(id, 'ERR_SENSOR_FAILED', 'the sensor gave no result for this read');
  } else if (isSensorFailure(result)) {
    message = errorReply(id, result.code, result.message);
  } else {
    message = {
      type: 'reading',
      id,
      station,
      reading,
      value: result.value,
      unit: READING_UNITS[reading],
      observedAt: new Date(result.observedAt),
    };
  }
  return { message, reading, station, receivedAt };
}

/**
 * The replies to a batch, in request order, given the results of its reads
 * (`readsOf(batch)`), in the same order.
 */
export function assemble(
  welcome: Welcome,
  batch: readonly WorkItem[],
  results: readonly SensorResult[],
): Reply[] {
  let next = 0;
  return batch.map((item) =>
    item.kind === 'reply' ? item.reply : replyTo(welcome, item, results[next++]),
  );
}
