/**
 * Clients that say who they are (issue #14): the auth file, the check of a
 * hello's credential, and the record of failed handshakes per address that
 * slows guessing down. The connection actor (actors/connection.ts) asks the
 * gate here as it decodes each hello and again as it writes the answer; no
 * secret goes further than that (README, "Serving beyond localhost").
 *
 * Only `node:crypto`: a secret is kept as an HMAC-SHA-256 under a key drawn
 * when the process starts, and compared with `timingSafeEqual` over two
 * digests of the same length, so neither the comparison nor a secret's
 * length shows in the time a check takes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isLoopbackHost } from '../lib/config.js';
import { describeError, MeteoError } from '../lib/errors.js';
import type { LogFields, Logger } from '../lib/log.js';
import type { Hello } from '../lib/protocol.js';
import type { CheckedHello, CredentialCheck, Reply } from '../lib/session.js';
import type { Telemetry } from '../lib/telemetry.js';

// ---------------------------------------------------------------- the auth file

/** The shortest secret the auth file takes: 16 characters, about 96 bits when random base64. */
export const MIN_SECRET_LENGTH = 16;

/** A client's name: what logs and the `client` label show, so short and plain. */
const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface AuthEntry {
  readonly client: string;
  readonly secret: string;
}

/**
 * The entries of an auth file (`source` names it in errors): one `name:secret`
 * a line, the secret being everything after the first colon; blank lines
 * and lines starting with `#` are skipped. Throws ERR_BAD_AUTH_FILE naming
 * the line (and never quoting a secret) when a name is not 1 to 64 letters,
 * digits, `.`, `_` or `-`, a name comes twice, a secret is shorter than
 * MIN_SECRET_LENGTH or holds a control character, or no line names a client.
 */
export function parseAuthFile(text: string, source: string): AuthEntry[] {
  const entries: AuthEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const where = `${source}:${i + 1}`;
    const colon = line.indexOf(':');
    if (colon < 0) throw new MeteoError('ERR_BAD_AUTH_FILE', `${where}: not name:secret`);
    const client = line.slice(0, colon);
    const secret = line.slice(colon + 1);
    if (!CLIENT_NAME.test(client)) {
      throw new MeteoError(
        'ERR_BAD_AUTH_FILE',
        `${where}: a client name is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      );
    }
    if (seen.has(client)) {
      throw new MeteoError('ERR_BAD_AUTH_FILE', `${where}: client ${client} is named twice`);
    }
    if ([...secret].length < MIN_SECRET_LENGTH) {
      throw new MeteoError(
        'ERR_BAD_AUTH_FILE',
        `${where}: the secret of ${client} is shorter than ${MIN_SECRET_LENGTH} characters (try: openssl rand -base64 24)`,
      );
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
    if (/[\u0000-\u001f\u007f]/.test(secret)) {
      throw new MeteoError(
        'ERR_BAD_AUTH_FILE',
        `${where}: the secret of ${client} holds a control character`,
      );
    }
    seen.add(client);
    entries.push({ client, secret });
  }
  if (entries.length === 0) {
    throw new MeteoError('ERR_BAD_AUTH_FILE', `${source}: names no client (name:secret lines)`);
  }
  return entries;
}

/** The key of this process's secret digests: drawn once, never written anywhere. */
const DIGEST_KEY = randomBytes(32);

function digest(secret: string): Buffer {
  return createHmac('sha256', DIGEST_KEY).update(secret, 'utf8').digest();
}

/** What an unknown client's secret is compared with, so that it costs what a known one does. */
const NOBODY = digest(randomBytes(32).toString('base64'));

/** The clients of an auth file, each held as the digest of its secret. */
export class AuthTable {
  readonly #digests: ReadonlyMap<string, Buffer>;

  constructor(entries: readonly AuthEntry[]) {
    this.#digests = new Map(entries.map(({ client, secret }) => [client, digest(secret)]));
  }

  /** Reads and parses an auth file: ERR_BAD_AUTH_FILE when it cannot be read or parsed. */
  static fromText(text: string, source: string): AuthTable {
    return new AuthTable(parseAuthFile(text, source));
  }

  get size(): number {
    return this.#digests.size;
  }

  has(client: string): boolean {
    return this.#digests.has(client);
  }

  /** Checks a credential; the time taken does not depend on the secret, nor on whether the client exists. */
  check(client: string, secret: string): 'ok' | 'unknown-client' | 'wrong-secret' {
    const known = this.#digests.get(client);
    const same = timingSafeEqual(digest(secret), known ?? NOBODY);
    if (known === undefined) return 'unknown-client';
    return same ? 'ok' : 'wrong-secret';
  }

  /** The clients of this table that `next` no longer lets in with the same secret: gone, or given another. */
  revokedBy(next: AuthTable): string[] {
    const revoked: string[] = [];
    for (const [client, secret] of this.#digests) {
      const now = next.#digests.get(client);
      if (now === undefined || !timingSafeEqual(now, secret)) revoked.push(client);
    }
    return revoked;
  }
}

/** An auth file, read: its table, and whether users other than its owner may read it. */
export interface AuthFile {
  readonly table: AuthTable;
  readonly readableByOthers: boolean;
}

/** Reads an auth file: ERR_BAD_AUTH_FILE when it cannot be read or a line is wrong. */
export function loadAuthFile(file: string): AuthFile {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (err) {
    throw new MeteoError(
      'ERR_BAD_AUTH_FILE',
      `cannot read the auth file ${file}: ${describeError(err)}`,
    );
  }
  return { table: AuthTable.fromText(text, file), readableByOthers: (mode & 0o077) !== 0 };
}

// ---------------------------------------------------------------- addresses

/** The eight groups of an IPv6 address, `::` expanded. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...(tail === undefined ? [] : fill), ...right];
}

/**
 * The key an address's failures are counted under: an IPv4 address itself,
 * and for IPv6 its /64, since one host is routinely given a whole /64 and
 * could otherwise start afresh from each of its 2^64 addresses.
 */
export function addressKey(address: string): string {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4) || !isIPv6(address)) return v4;
  const groups = ipv6Groups(address.split('%')[0] as string).slice(0, 4);
  return `${groups.map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/**
 * What a server on `host` tells its operator at start about who can reach
 * it and read its traffic (issue #14, "Safe defaults"): one WARN line each.
 */
export function exposureWarnings(settings: {
  readonly host: string;
  readonly tls: boolean;
  readonly authFile: string | undefined;
  readonly authFileReadableByOthers: boolean;
}): { readonly message: string; readonly fields: LogFields }[] {
  const warnings: { message: string; fields: LogFields }[] = [];
  const { host, tls, authFile } = settings;
  const exposed = !isLoopbackHost(host);
  if (exposed && !tls) {
    warnings.push({
      message:
        'serving in clear on a non-loopback address: anyone on the network can read and change the traffic; give --tls-cert and --tls-key',
      fields: {
        host,
        ...(authFile === undefined ? {} : { auth: 'only loopback clients can send a secret' }),
      },
    });
  }
  if (exposed && authFile === undefined) {
    warnings.push({
      message:
        'serving a non-loopback address without --auth-file: any client that reaches it is served',
      fields: { host },
    });
  }
  if (authFile !== undefined && settings.authFileReadableByOthers) {
    warnings.push({
      message: 'the auth file can be read by other users of this machine; chmod 600 it',
      fields: { file: authFile },
    });
  }
  return warnings;
}

// ---------------------------------------------------------------- guessing

/** How failed handshakes slow an address down (README, "Serving beyond localhost"). */
export interface GuessLimits {
  /** Delay of an address's first failure; each further one doubles it... */
  readonly firstDelayMs: number;
  /** ...up to this. */
  readonly maxDelayMs: number;
  /**
   * How far ahead an address's answers may be booked. Past it, a hello
   * from the address is refused without its credential being checked.
   */
  readonly maxBacklogMs: number;
  /** An address with no failure for this long starts afresh. */
  readonly forgetAfterMs: number;
  /** Addresses remembered at once; the one idle longest is forgotten first. */
  readonly maxAddresses: number;
}

export const GUESS_LIMITS: GuessLimits = Object.freeze({
  firstDelayMs: 100,
  maxDelayMs: 5_000,
  maxBacklogMs: 30_000,
  forgetAfterMs: 15 * 60_000,
  maxAddresses: 10_000,
});

interface Failures {
  /** Failures since the address was last forgotten. */
  readonly count: number;
  /** When the last answer booked for this address goes out. */
  readonly busyUntil: number;
}

/**
 * The failed handshakes of each address, in a table of at most
 * `maxAddresses` (least recently failed forgotten first). The answers to
 * the checked hellos of one address go out one after another: the n-th
 * failure waits min(maxDelay, firstDelay × 2^(n−1)) after the answer
 * before it, so however many connections an address opens at once, its
 * guesses are answered no faster than that. A good credential waits only
 * for the failures already booked (it adds none); were it answered at once,
 * a guesser could take any answer not yet come for a failure.
 */
export class GuessTable {
  readonly #limits: GuessLimits;
  readonly #now: () => number;
  /** In the order of their last failure: a Map keeps insertion order, so the first is the stalest. */
  readonly #failures = new Map<string, Failures>();

  constructor(limits: GuessLimits = GUESS_LIMITS, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#failures.size;
  }

  #current(key: string, now: number): Failures | undefined {
    const failures = this.#failures.get(key);
    if (failures === undefined) return undefined;
    if (now - failures.busyUntil > this.#limits.forgetAfterMs) {
      this.#failures.delete(key);
      return undefined;
    }
    return failures;
  }

  /** True when the address has so many answers booked that its next hello is not checked at all. */
  throttled(address: string): boolean {
    const now = this.#now();
    const failures = this.#current(addressKey(address), now);
    return failures !== undefined && failures.busyUntil - now > this.#limits.maxBacklogMs;
  }

  /** The delay of the address's n-th failure, ms. */
  penalty(count: number): number {
    const { firstDelayMs, maxDelayMs } = this.#limits;
    return Math.min(maxDelayMs, firstDelayMs * 2 ** Math.min(count - 1, 30));
  }

  /**
   * Books the answer to a checked hello from `address` and says how long
   * to wait before writing it, ms: a failure is counted and waits its
   * penalty after the address's last booked answer; a success waits for
   * that answer only.
   */
  book(address: string, failed: boolean): number {
    const now = this.#now();
    const key = addressKey(address);
    const failures = this.#current(key, now);
    if (!failed)
      return failures === undefined ? 0 : Math.max(0, Math.ceil(failures.busyUntil - now));
    const count = (failures?.count ?? 0) + 1;
    const busyUntil = Math.max(now, failures?.busyUntil ?? now) + this.penalty(count);
    this.#failures.delete(key);
    this.#failures.set(key, { count, busyUntil });
    if (this.#failures.size > this.#limits.maxAddresses) {
      const stalest = this.#failures.keys().next().value as string;
      this.#failures.delete(stalest);
    }
    return Math.ceil(busyUntil - now);
  }
}

// ---------------------------------------------------------------- the gate

/** What the gate needs to know of a connection. */
export interface Link {
  /** The peer as logs show it ("10.0.0.7:50412"). */
  readonly peer: string;
  /** The peer's address, whose failures are counted (empty when unknown: a spec's fake stream). */
  readonly address: string;
  /**
   * The connection is TLS, or arrived on a loopback address: a secret sent
   * on it has not crossed a network in clear.
   */
  readonly private: boolean;
}

/** What a connection actor asks about hellos (actors/connection.ts). */
export interface HelloGate {
  /** Checks a hello's credential as it is decoded: the hello handed on holds no secret. */
  check(hello: Hello, link: Link): Hello | CheckedHello;
  /**
   * As the answer to a checked hello is written: counts and logs a failure,
   * and says how long to wait before writing, ms.
   */
  answered(link: Link, outcome: NonNullable<Reply['hello']>, connection: number): number;
}

/** A hello without its secret, for a server that checks none: no machine ever holds one. */
export function withoutSecret(hello: Hello): Hello {
  if (hello.auth === undefined) return hello;
  const { auth: _dropped, ...rest } = hello;
  return rest;
}

/** A name from the wire, for a log line: its first 64 characters. */
function shown(client: string | null): string | null {
  return client === null ? null : Array.from(client).slice(0, 64).join('');
}

export interface ClientAuthOptions {
  /** The clients let in; null when the server requires no credential. */
  readonly table: AuthTable | null;
  readonly limits?: GuessLimits;
  readonly log: Logger;
  readonly telemetry: Telemetry;
  /** The clock of the guessing table (specs pin it). */
  readonly now?: () => number;
}

/**
 * The server's gate: who is let in (the current auth table, replaced on
 * reload), and how fast each address may guess.
 */
export class ClientAuth implements HelloGate {
  #table: AuthTable | null;
  readonly #guesses: GuessTable;
  readonly #log: Logger;
  readonly #telemetry: Telemetry;

  constructor(options: ClientAuthOptions) {
    this.#table = options.table;
    this.#guesses = new GuessTable(options.limits ?? GUESS_LIMITS, options.now);
    this.#log = options.log;
    this.#telemetry = options.telemetry;
  }

  /** True when every hello must carry a credential of the auth file. */
  get required(): boolean {
    return this.#table !== null;
  }

  /** Addresses with failures remembered now. */
  get addresses(): number {
    return this.#guesses.size;
  }

  /** Lets in the clients of `table` from now on; returns the clients the old table had that it does not let in. */
  replace(table: AuthTable): string[] {
    const revoked = this.#table?.revokedBy(table) ?? [];
    this.#table = table;
    return revoked;
  }

  check(hello: Hello, link: Link): Hello | CheckedHello {
    const { auth } = hello;
    const table = this.#table;
    // The usual hello of a server without an auth file goes through as it is.
    if (auth === undefined) return table === null ? hello : { ...hello, credential: 'missing' };
    const checked = { ...withoutSecret(hello), client: auth.name };
    if (!link.private) return { ...checked, credential: 'cleartext' };
    if (table === null) return withoutSecret(hello);
    if (this.#guesses.throttled(link.address)) return { ...checked, credential: 'throttled' };
    return { ...checked, credential: table.check(auth.name, auth.secret) };
  }

  answered(link: Link, outcome: NonNullable<Reply['hello']>, connection: number): number {
    const { credential } = outcome;
    if (credential === 'ok') return this.#guesses.book(link.address, false);
    this.#telemetry.authFailed?.(credential);
    this.#log.warn('authentication failed', {
      code: 'ERR_AUTH_FAILED',
      connection,
      peer: link.peer,
      client: shown(outcome.client),
      reason: credential,
    });
    return isGuess(credential) ? this.#guesses.book(link.address, true) : 0;
  }
}

/** A credential that was checked and found wrong: a guess, which the table slows down. */
function isGuess(credential: CredentialCheck): boolean {
  return credential === 'unknown-client' || credential === 'wrong-secret';
}
