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
  PROTOCOL_VERSION,
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
  /** The code of an error that ends the session (an unsupported version), once one is queued. */
  readonly endedBy: ErrorCode | null;
}

export const NEW_SESSION: Session = Object.freeze({ greeted: false, endedBy: null });

/** A reply on its way out, with what the server's counters need to know about it. */
export interface Reply {
  readonly message: ServerMessage;
  /** The reading the request asked for, when it was a read. */
  readonly reading: Reading | null;
  /** When its request arrived (the clock of `admit`), or null for an error the server raised itself. */
  readonly receivedAt: number | null;
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
  return { message: errorReply(null, code, message), reading: null, receivedAt: null };
}

function stationIndex(welcome: Welcome, id: string): number {
  return welcome.stations.findIndex((station) => station.id === id);
}

/**
 * Turns received messages into work, appended to `work` in arrival order,
 * and returns the session after them. Once the session has ended (an
 * unsupported version), the messages after that one are not taken.
 */
export function admit(
  session: Session,
  welcome: Welcome,
  messages: readonly (ClientMessage | Rejected)[],
  receivedAt: number,
  work: WorkItem[],
): Session {
  let { greeted, endedBy } = session;
  const answer = (message: ServerMessage): void => {
    work.push({ kind: 'reply', reply: { message, reading: null, receivedAt } });
  };
  for (const message of messages) {
    if (endedBy !== null) break;
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
          endedBy = 'ERR_UNSUPPORTED_VERSION';
        } else {
          answer(welcome);
          greeted = true;
        }
        break;
      case 'read': {
        if (!greeted) {
          answer(errorReply(message.id, 'ERR_HANDSHAKE_REQUIRED', 'send hello before any request'));
          break;
        }
        // No station named: the default, first in the welcome's list.
        const station = message.station === undefined ? 0 : stationIndex(welcome, message.station);
        if (station < 0) {
          answer(
            errorReply(
              message.id,
              'ERR_UNKNOWN_STATION',
              `no station ${JSON.stringify(message.station)}; stations are ${welcome.stations.map((known) => known.id).join(', ')}`,
            ),
          );
          break;
        }
        work.push({ kind: 'read', id: message.id, reading: message.reading, station, receivedAt });
        break;
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
  const { id, reading, station, receivedAt } = read;
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
