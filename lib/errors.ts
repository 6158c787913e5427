/**
 * Every failure meteo-actors reports has a stable `code`; the message is for
 * people and may change. The same code travels on the wire in an `error`
 * message (docs/PROTOCOL.md §6) and is listed with its cause in
 * docs/errors.md, which spec/lib/errors.spec.ts keeps in step with this table.
 */
export const ERROR_CODES = {
  // Wire: the peer broke the protocol (docs/PROTOCOL.md §6).
  ERR_FRAME_TOO_LARGE: 'a frame declared a body longer than the maximum frame size',
  ERR_BAD_MESSAGE: 'a frame body was not one MessagePack value of a known message shape',
  ERR_UNSUPPORTED_VERSION: 'the hello named a protocol version the server does not speak',
  ERR_HANDSHAKE_REQUIRED: 'a request arrived before the hello/welcome handshake',
  ERR_ALREADY_GREETED: 'a second hello arrived on a connection that had completed its handshake',
  ERR_UNKNOWN_STATION: 'a read request named a station the server does not serve',
  ERR_UNKNOWN_READING: 'a read request named a reading other than the four the station has',
  // Wire: the server could not serve a valid request.
  ERR_SENSOR_FAILED: 'the sensor read failed (a fault in the model or a crashed worker thread)',
  ERR_READING_UNAVAILABLE:
    'the source has no value for this reading at this time (a replay file without its column, or with its cell empty)',
  ERR_HANDSHAKE_TIMEOUT: 'no hello arrived within the handshake timeout; the connection is closed',
  ERR_IDLE_TIMEOUT: 'no request arrived within the idle timeout; the connection is closed',
  ERR_SLOW_READER:
    'the peer did not read its replies within the write timeout, or one batch of them was over the output limit; the connection is closed',
  ERR_TOO_MANY_CONNECTIONS:
    'the server is serving as many connections as it allows; the new one is closed',
  ERR_SHUTTING_DOWN: 'the server is shutting down and closes the connection',
  ERR_INTERNAL: 'an unexpected fault inside the connection; the connection is closed',
  // Local: configuration and command line.
  ERR_BAD_FLAG: 'an unknown command-line flag, or a flag without its value',
  ERR_BAD_VALUE:
    'a flag, environment variable or option has a value out of range or of the wrong form',
  ERR_ADDRESS_IN_USE: 'the server could not listen because another process holds the address',
  ERR_LISTEN_FAILED: 'the server could not listen on the address for another reason',
  ERR_BAD_REPLAY_FILE: 'a replay file is not a CSV of observations the server can replay',
  ERR_CRASH_LOOP:
    'the server processes of a --cluster died in a loop (5 within 60 s); the server stops with status 1',
  ERR_UNSUPPORTED_MACHINE:
    'a machine uses a statechart feature the fast path cannot run exactly as XState runs it; the server does not start',
  // Local: the client's view of the server.
  ERR_CONNECT_FAILED: 'the client could not open a TCP connection to the server',
  ERR_CONNECTION_LOST: 'the connection closed before the exchange finished',
  ERR_REQUEST_TIMEOUT: "a request got no reply within the client's request timeout",
  ERR_PROTOCOL: 'the server sent something the client does not understand',
  // Local: the conformance runner (docs/PROTOCOL.md §11).
  ERR_BAD_VECTOR_FILE: 'a conformance vectors file is not one the runner can play',
  ERR_NOT_METEO_SERVER:
    'what answered the hello is not a meteo-actors server: its reply was not a frame of a server message',
  // Wire: the hello's credential (issue #14).
  ERR_AUTH_FAILED:
    'the hello carried no credential the server accepts (a wrong secret, an unknown client, none, or one sent in clear); the connection is closed',
  // Local: TLS and credential files (issue #14).
  ERR_BAD_TLS_FILE:
    'a certificate, key or CA file cannot be read, is not PEM the program can use, or the key does not match the certificate',
  ERR_BAD_AUTH_FILE: 'an auth file cannot be read, or a line of it is not name:secret',
  // Local: the client's view of the server's certificate (issue #14).
  ERR_TLS_CERT_EXPIRED: "the server's certificate has expired (or is not valid yet)",
  ERR_TLS_WRONG_HOST: "the server's certificate is for another host name",
  ERR_TLS_UNKNOWN_CA: "the server's certificate was not issued by a CA the client trusts",
  ERR_TLS_HANDSHAKE_FAILED:
    'the TLS handshake failed for another reason (the server does not speak TLS, or refused the client certificate)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** The one error class of the project: a stable code, a readable message. */
export class MeteoError extends Error {
  override readonly name = 'MeteoError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * One line for a person: the code and the message, never a stack. Errors
 * without a code (a bug, or an error from Node) are shown with their own code
 * when they carry one, as Node's system errors do.
 */
export function describeError(err: unknown): string {
  if (err instanceof MeteoError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    // Node's file errors already start with their code ("ENOENT: no such file...").
    return code && !err.message.startsWith(`${code}:`) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
