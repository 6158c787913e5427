/**
 * Configuration: one frozen table of options per program, and one resolver
 * that merges command-line flags over environment variables over defaults
 * and validates every value up front, naming the option that is wrong.
 * Pure: argv and env are passed in.
 */
import { isIPv4 } from 'node:net';
import { parseArgs } from 'node:util';
import { MeteoError } from './errors.js';
import { READINGS, type Reading } from './protocol.js';

interface OptionBase {
  /** The flag, without its dashes. */
  readonly flag: string;
  /** The environment variable that sets it when the flag is absent. */
  readonly env?: string;
  readonly description: string;
  /** How `--help` shows the default, where the value would say nothing (an empty string). */
  readonly defaultText?: string;
}

export interface IntegerOption extends OptionBase {
  readonly kind: 'integer';
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

export interface StringOption extends OptionBase {
  readonly kind: 'string';
  readonly default: string;
  /** The values allowed, when the option is one of a few words. */
  readonly choices?: readonly string[];
}

export interface BooleanOption extends OptionBase {
  readonly kind: 'boolean';
  readonly default: boolean;
}

export type OptionSpec = IntegerOption | StringOption | BooleanOption;
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The defaults of a table, keyed like it: what a program uses for an option nobody set. */
export function defaultsOf<Table extends OptionTable>(table: Table): ResolvedOptions<Table> {
  return Object.freeze(
    Object.fromEntries(Object.entries(table).map(([key, spec]) => [key, spec.default])),
  ) as ResolvedOptions<Table>;
}

/** The values a table resolves to, keyed like the table. */
export type ResolvedOptions<Table extends OptionTable> = {
  readonly [Key in keyof Table]: Table[Key] extends BooleanOption
    ? boolean
    : Table[Key] extends IntegerOption
      ? number
      : string;
};

/** What a command line asked for: run with these values, or show the help. */
export type Resolution<Table extends OptionTable> =
  | {
      readonly help: false;
      readonly options: ResolvedOptions<Table>;
      /** The arguments that are not flags (a command), when the program takes them; else []. */
      readonly args: readonly string[];
    }
  | { readonly help: true };

const INTEGER = /^[+-]?\d+$/;

function parseValue(
  spec: OptionSpec,
  raw: string | boolean,
  source: string,
): number | string | boolean {
  switch (spec.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      // A string comes only from a variable, and never empty: resolveOptions takes that as unset.
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new MeteoError(
        'ERR_BAD_VALUE',
        `${source} must be true or false (got ${JSON.stringify(raw)})`,
      );
    case 'integer': {
      const text = String(raw).trim();
      const value = Number(text);
      if (
        !INTEGER.test(text) ||
        !Number.isSafeInteger(value) ||
        value < spec.min ||
        value > spec.max
      ) {
        throw new MeteoError(
          'ERR_BAD_VALUE',
          `${source} must be an integer from ${spec.min} to ${spec.max} (got ${JSON.stringify(raw)})`,
        );
      }
      return value;
    }
    case 'string': {
      const text = String(raw).trim();
      if (text === '') throw new MeteoError('ERR_BAD_VALUE', `${source} must not be empty`);
      if (spec.choices && !spec.choices.includes(text)) {
        throw new MeteoError(
          'ERR_BAD_VALUE',
          `${source} must be one of ${spec.choices.join(', ')} (got ${JSON.stringify(text)})`,
        );
      }
      return text;
    }
  }
}

/** One line about what parseArgs refused; its own messages run to several lines of advice. */
function flagProblem(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${quoted}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return message.includes('does not take an argument')
        ? `${quoted} takes no value`
        : `${quoted.split(' ')[0]} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted)}`;
    default:
      return String(message).split('\n')[0] ?? 'bad command line';
  }
}

/** A token that reads as a negative number: a value for the flag before it, never a flag itself. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * `--port -1` as `--port=-1`. Node's parseArgs takes a value that starts
 * with a dash for a flag of its own and refuses `--port -1` as "ambiguous",
 * which would be reported as a missing value although one was given; joined
 * to its flag, the value reaches the range check, which says what is wrong
 * with it (issue #16, item 6). Only a flag that takes a value, and only a
 * token that is a number, so `--host --port 1` still says `--host` needs one.
 */
function joinNegativeValues(table: OptionTable, argv: readonly string[]): string[] {
  const takesValue = new Set(
    Object.values(table)
      .filter((spec) => spec.kind !== 'boolean')
      .map((spec) => `--${spec.flag}`),
  );
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    const next = argv[i + 1];
    if (takesValue.has(token) && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      joined.push(`${token}=${next}`);
      i++;
    } else {
      joined.push(token);
    }
  }
  return joined;
}

/**
 * Resolves `argv` (without node and the script) and `env` against `table`.
 * Throws `MeteoError` with `ERR_BAD_FLAG` for an unknown flag or a missing
 * value, or an argument that is not a flag when `takesArgs` is false, and
 * `ERR_BAD_VALUE` for a value out of range, naming the flag or the variable
 * it came from.
 */
export function resolveOptions<Table extends OptionTable>(
  table: Table,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  takesArgs = false,
): Resolution<Table> {
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const spec of Object.values(table)) {
    parseOptions[spec.flag] = { type: spec.kind === 'boolean' ? 'boolean' : 'string' };
  }
  let flags: Record<string, string | boolean | undefined>;
  let args: readonly string[];
  try {
    ({ values: flags, positionals: args } = parseArgs({
      args: joinNegativeValues(table, argv),
      options: parseOptions,
      strict: true,
      allowPositionals: takesArgs,
    }));
  } catch (err) {
    throw new MeteoError('ERR_BAD_FLAG', flagProblem(err));
  }
  if (flags['help']) return { help: true };

  const options: Record<string, number | string | boolean> = {};
  for (const [key, spec] of Object.entries(table)) {
    const flagValue = flags[spec.flag];
    const envValue = spec.env === undefined ? undefined : env[spec.env];
    if (flagValue !== undefined) {
      options[key] = parseValue(spec, flagValue, `--${spec.flag}`);
    } else if (envValue !== undefined && envValue !== '') {
      options[key] = parseValue(spec, envValue, spec.env as string);
    } else {
      options[key] = spec.default;
    }
  }
  return {
    help: false,
    options: Object.freeze(options) as ResolvedOptions<Table>,
    args: Object.freeze([...args]),
  };
}

/** The option list for `--help`, generated from the same table the resolver reads. */
export function describeOptions(table: OptionTable): string {
  const rows = Object.values(table).map((spec) => {
    const flag =
      spec.kind === 'boolean'
        ? `--${spec.flag}`
        : `--${spec.flag} ${spec.kind === 'integer' ? 'N' : 'TEXT'}`;
    const env = spec.env ? ` [env ${spec.env}]` : '';
    const fallback =
      spec.kind === 'boolean' ? '' : ` (default ${spec.defaultText ?? String(spec.default)})`;
    return [flag, `${spec.description}${fallback}${env}`] as const;
  });
  rows.push(['--help, -h', 'show this help and exit']);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join('\n');
}

// ---------------------------------------------------------------- watching it run

/** The log levels `--log-level` takes (docs: README, "Logs"). */
export const LOG_LEVEL_CHOICES = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** Flags both programs take to be watched: in the XState inspector, or as a trace on the terminal. */
const WATCH_OPTIONS = {
  inspect: {
    kind: 'boolean',
    flag: 'inspect',
    default: false,
    description: 'send the actors to the Stately inspector (open the printed URL in a browser)',
  },
  inspectPort: {
    kind: 'integer',
    flag: 'inspect-port',
    env: 'METEO_INSPECT_PORT',
    min: 1,
    max: 65_535,
    default: 8_080,
    description: 'port of the inspector relay; a second program with the same port joins the first',
  },
  inspectConnections: {
    kind: 'integer',
    flag: 'inspect-connections',
    env: 'METEO_INSPECT_CONNECTIONS',
    min: 0,
    max: 10_000,
    default: 8,
    description:
      'connection actors sent to the inspector and the trace (the first N); the rest send nothing',
  },
  trace: {
    kind: 'boolean',
    flag: 'trace',
    default: false,
    description:
      "print each state change of the actors on stderr, one line each (as many connections as --inspect's)",
  },
} as const satisfies OptionTable;

// ---------------------------------------------------------------- the server

/** The port the server listens on by default (docs/PROTOCOL.md §1). */
export const DEFAULT_PORT = 7210;

/** The port of the live view and /metrics by default: the one after the protocol's (README, "Watch it run"). */
export const DEFAULT_HTTP_PORT = 7211;

/**
 * The default of `--http-port` and `--metrics-port` as the table holds it: a
 * value no flag can give, so that which of the two names was set can be told.
 */
const UNSET_PORT = -1;

/**
 * The HTTP port the server serves the live view and /metrics on, from
 * `--http-port` and its former name `--metrics-port`: the one set (by flag or
 * variable), DEFAULT_HTTP_PORT when neither is, and 0 for none. Both set to
 * different ports is refused (ERR_BAD_FLAG): which one was meant cannot be known.
 */
export function httpPortOf(options: {
  readonly httpPort: number;
  readonly metricsPort: number;
}): number {
  const { httpPort, metricsPort } = options;
  if (httpPort !== UNSET_PORT && metricsPort !== UNSET_PORT && httpPort !== metricsPort) {
    throw new MeteoError(
      'ERR_BAD_FLAG',
      `--metrics-port is the former name of --http-port: give one of them (got ${httpPort} and ${metricsPort})`,
    );
  }
  if (httpPort !== UNSET_PORT) return httpPort;
  return metricsPort !== UNSET_PORT ? metricsPort : DEFAULT_HTTP_PORT;
}

export const SERVER_OPTIONS = Object.freeze({
  host: {
    kind: 'string',
    flag: 'host',
    env: 'METEO_HOST',
    default: '127.0.0.1',
    description: 'address to listen on; loopback only unless you choose otherwise',
  },
  port: {
    kind: 'integer',
    flag: 'port',
    env: 'METEO_PORT',
    min: 0,
    max: 65_535,
    default: DEFAULT_PORT,
    description: 'TCP port to listen on; 0 picks a free one',
  },
  threads: {
    kind: 'integer',
    flag: 'threads',
    env: 'METEO_THREADS',
    min: 1,
    max: 64,
    default: 2,
    description:
      'worker threads in the sensor pool of each server process (a fixed size: threads are never churned)',
  },
  seed: {
    kind: 'integer',
    flag: 'seed',
    env: 'METEO_SEED',
    min: 0,
    max: 0xffff_ffff,
    default: 1,
    description:
      'seed of the simulated weather; the same seed gives the same readings at the same time',
  },
  stations: {
    kind: 'string',
    flag: 'stations',
    env: 'METEO_STATIONS',
    default: 'seattle',
    description:
      'stations served, comma-separated, the default first: seattle, singapore, reykjavik, melbourne, mcmurdo, south-pole',
  },
  source: {
    kind: 'string',
    flag: 'source',
    env: 'METEO_SOURCE',
    default: 'sim',
    description:
      'where the stations read from: sim (the station model, for all), or STATION=replay:FILE of observations for one station, comma-separated; replay:FILE alone feeds the only station served, and replay:seattle (the bundled NOAA record) feeds seattle',
  },
  replaySpeed: {
    kind: 'integer',
    flag: 'speed',
    env: 'METEO_REPLAY_SPEED',
    min: 1,
    max: 100_000_000,
    default: 1,
    description: 'replay speed: 1 is real time, 1440 a day a minute',
  },
  maxConnections: {
    kind: 'integer',
    flag: 'max-connections',
    env: 'METEO_MAX_CONNECTIONS',
    min: 1,
    max: 1_000_000,
    default: 10_000,
    description:
      'connections served at once (under --cluster, shared out among the processes); one more is told ERR_TOO_MANY_CONNECTIONS and closed',
  },
  handshakeTimeoutMs: {
    kind: 'integer',
    flag: 'handshake-timeout',
    env: 'METEO_HANDSHAKE_TIMEOUT_MS',
    min: 100,
    max: 600_000,
    default: 5_000,
    description: 'milliseconds a new connection has to say hello',
  },
  idleTimeoutMs: {
    kind: 'integer',
    flag: 'idle-timeout',
    env: 'METEO_IDLE_TIMEOUT_MS',
    min: 1_000,
    max: 86_400_000,
    default: 300_000,
    description: 'milliseconds a connection may go without a request before it is closed',
  },
  maxQueuedRequests: {
    kind: 'integer',
    flag: 'max-pipeline',
    env: 'METEO_MAX_PIPELINE',
    min: 1,
    max: 100_000,
    default: 256,
    description:
      'requests waiting per connection; at this depth the server stops reading that socket',
  },
  maxOutputBytes: {
    kind: 'integer',
    flag: 'max-output',
    env: 'METEO_MAX_OUTPUT_BYTES',
    min: 4_096,
    max: 1_073_741_824,
    default: 1_048_576,
    description:
      "bytes one batch of replies may leave in the server's own socket buffer (Node's writableLength) once written, before the connection is closed; at least 4096",
  },
  writeTimeoutMs: {
    kind: 'integer',
    flag: 'write-timeout',
    env: 'METEO_WRITE_TIMEOUT_MS',
    min: 100,
    max: 3_600_000,
    default: 30_000,
    description:
      'milliseconds a write of replies may wait for the peer to read before the connection is closed',
  },
  drainTimeoutMs: {
    kind: 'integer',
    flag: 'drain-timeout',
    env: 'METEO_DRAIN_TIMEOUT_MS',
    min: 0,
    max: 600_000,
    default: 5_000,
    description: 'milliseconds a shutdown waits for connections to finish before closing them',
  },
  cluster: {
    kind: 'integer',
    flag: 'cluster',
    env: 'METEO_CLUSTER',
    min: 0,
    max: 256,
    default: 1,
    description:
      'server processes sharing the port (node:cluster), each with its own actors and a pool of --threads threads, under a primary that restarts them; 0 is one per core; 1 is one process, no primary',
  },
  readyGraceMs: {
    kind: 'integer',
    flag: 'ready-grace',
    env: 'METEO_READY_GRACE_MS',
    min: 0,
    max: 600_000,
    default: 2_000,
    description:
      'on SIGTERM, milliseconds the server says it is not ready (/readyz 503) while it still accepts, before it drains; Ctrl-C (SIGINT) drains at once',
  },
  httpPort: {
    kind: 'integer',
    flag: 'http-port',
    env: 'METEO_HTTP_PORT',
    min: 0,
    max: 65_535,
    default: UNSET_PORT,
    defaultText: String(DEFAULT_HTTP_PORT),
    description:
      'serve the live view at http://HOST:PORT/, Prometheus metrics at /metrics, and health checks at /healthz and /readyz (under --cluster: no live view, and /metrics adds up every process); 0 serves none of them',
  },
  metricsPort: {
    kind: 'integer',
    flag: 'metrics-port',
    env: 'METEO_METRICS_PORT',
    min: 0,
    max: 65_535,
    default: UNSET_PORT,
    defaultText: 'unset',
    description: 'the former name of --http-port, still taken: the same port, serving the same',
  },
  logLevel: {
    kind: 'string',
    flag: 'log-level',
    env: 'METEO_LOG_LEVEL',
    default: 'info',
    choices: LOG_LEVEL_CHOICES,
    description: `least severe log level printed: ${LOG_LEVEL_CHOICES.join(', ')}`,
  },
  tlsCert: {
    kind: 'string',
    flag: 'tls-cert',
    env: 'METEO_TLS_CERT',
    default: '',
    defaultText: 'none: plain TCP',
    description:
      'serve TLS with this PEM certificate (and its chain), with --tls-key; SIGHUP reloads it',
  },
  tlsKey: {
    kind: 'string',
    flag: 'tls-key',
    env: 'METEO_TLS_KEY',
    default: '',
    defaultText: 'none',
    description: 'the PEM private key of --tls-cert, not encrypted',
  },
  tlsCa: {
    kind: 'string',
    flag: 'tls-ca',
    env: 'METEO_TLS_CA',
    default: '',
    defaultText: 'none: no client certificate asked',
    description:
      'require a client certificate issued by a CA of this PEM file (mutual TLS), with --tls-cert',
  },
  authFile: {
    kind: 'string',
    flag: 'auth-file',
    env: 'METEO_AUTH_FILE',
    default: '',
    defaultText: 'none: any client is served',
    description:
      'require every client to say who it is, by a name:secret line of this file; SIGHUP reloads it',
  },
  ...WATCH_OPTIONS,
} as const satisfies OptionTable);

export type ServerOptions = ResolvedOptions<typeof SERVER_OPTIONS>;

// ---------------------------------------------------------------- the client

/** How often the client polls the station, unless `--interval` says otherwise. */
export const DEFAULT_POLL_INTERVAL_MS = 5_000;

export const CLIENT_OPTIONS = Object.freeze({
  host: {
    kind: 'string',
    flag: 'host',
    env: 'METEO_HOST',
    default: '127.0.0.1',
    description: 'server address',
  },
  port: {
    kind: 'integer',
    flag: 'port',
    env: 'METEO_PORT',
    min: 1,
    max: 65_535,
    default: DEFAULT_PORT,
    description: 'server port',
  },
  pollIntervalMs: {
    kind: 'integer',
    flag: 'interval',
    env: 'METEO_INTERVAL_MS',
    min: 1,
    max: 86_400_000,
    default: DEFAULT_POLL_INTERVAL_MS,
    description: 'milliseconds between polls',
  },
  connections: {
    kind: 'integer',
    flag: 'connections',
    env: 'METEO_CONNECTIONS',
    min: 1,
    max: 10_000,
    default: 1,
    description: 'concurrent connections, each polling on its own socket',
  },
  count: {
    kind: 'integer',
    flag: 'count',
    env: 'METEO_COUNT',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: 0,
    description: 'polls per connection before exiting; 0 polls until interrupted',
  },
  station: {
    kind: 'string',
    flag: 'station',
    env: 'METEO_STATION',
    default: '',
    defaultText: "the server's default station",
    description: 'station to poll, by id',
  },
  units: {
    kind: 'string',
    flag: 'units',
    env: 'METEO_UNITS',
    default: 'metric',
    choices: ['metric', 'us'],
    description:
      'units to show: metric (°C, hPa, mm, as on the wire) or us (°F, inHg, in); JSON stays metric',
  },
  requestTimeoutMs: {
    kind: 'integer',
    flag: 'request-timeout',
    env: 'METEO_REQUEST_TIMEOUT_MS',
    min: 1,
    max: 3_600_000,
    default: 5_000,
    description:
      'milliseconds a request waits for its reply before the poll is reported incomplete (and a connect, or a hello, for its answer)',
  },
  json: {
    kind: 'boolean',
    flag: 'json',
    default: false,
    description: 'print one JSON object per poll per connection, one per line',
  },
  raw: {
    kind: 'boolean',
    flag: 'raw',
    default: false,
    description: 'with get: print only the numbers, one a line, for scripts',
  },
  tls: {
    kind: 'boolean',
    flag: 'tls',
    default: false,
    description: "connect with TLS, and check the server's certificate",
  },
  ca: {
    kind: 'string',
    flag: 'ca',
    env: 'METEO_CA',
    default: '',
    defaultText: "the system's CAs",
    description: "with --tls: trust this PEM file's CAs for the server's certificate",
  },
  cert: {
    kind: 'string',
    flag: 'cert',
    env: 'METEO_CLIENT_CERT',
    default: '',
    defaultText: 'none',
    description: 'with --tls: this PEM certificate, with --key, for a server that asks for one',
  },
  key: {
    kind: 'string',
    flag: 'key',
    env: 'METEO_CLIENT_KEY',
    default: '',
    defaultText: 'none',
    description: 'the PEM private key of --cert, not encrypted',
  },
  servername: {
    kind: 'string',
    flag: 'servername',
    env: 'METEO_SERVERNAME',
    default: '',
    defaultText: '--host',
    description: "with --tls: the name the server's certificate must carry",
  },
  insecureSkipVerify: {
    kind: 'boolean',
    flag: 'insecure-skip-verify',
    default: false,
    description:
      "with --tls: do not check the server's certificate (anyone on the path can then read the connection); says so at every connect",
  },
  authFile: {
    kind: 'string',
    flag: 'auth-file',
    env: 'METEO_AUTH_FILE',
    default: '',
    defaultText: 'none',
    description:
      'say who this client is: the secret of --name is its name:secret line of this file (or METEO_SECRET)',
  },
  name: {
    kind: 'string',
    flag: 'name',
    env: 'METEO_CLIENT_NAME',
    default: '',
    defaultText: 'none: the client says no name',
    description: 'the name this client says it is, with --auth-file or METEO_SECRET',
  },
  ...WATCH_OPTIONS,
} as const satisfies OptionTable);

export type ClientOptions = ResolvedOptions<typeof CLIENT_OPTIONS>;

// ---------------------------------------------------------------- TLS and credentials (issue #14)

/** True for an address of this machine's loopback: 127.0.0.0/8, ::1, and 127.x as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

/** True for a host to listen on or connect to that stays on this machine: `localhost`, or a loopback address. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}

/** What a server's flags ask of TLS and credentials. */
export interface ServerSecurity {
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile?: string };
  readonly authFile?: string;
}

/** The TLS and auth files a server's flags name. Throws ERR_BAD_FLAG for a flag without its partner. */
export function serverSecurityOf(
  options: Pick<ServerOptions, 'tlsCert' | 'tlsKey' | 'tlsCa' | 'authFile'>,
): ServerSecurity {
  const { tlsCert, tlsKey, tlsCa, authFile } = options;
  if ((tlsCert === '') !== (tlsKey === '')) {
    throw new MeteoError('ERR_BAD_FLAG', '--tls-cert and --tls-key go together');
  }
  if (tlsCa !== '' && tlsCert === '') {
    throw new MeteoError('ERR_BAD_FLAG', '--tls-ca goes with --tls-cert and --tls-key');
  }
  return {
    ...(tlsCert === ''
      ? {}
      : {
          tls: { certFile: tlsCert, keyFile: tlsKey, ...(tlsCa === '' ? {} : { caFile: tlsCa }) },
        }),
    ...(authFile === '' ? {} : { authFile }),
  };
}

/** The variable a client's secret may come from, instead of an auth file: a flag would show in `ps`. */
export const SECRET_VARIABLE = 'METEO_SECRET';

/** What a client's flags ask of TLS and credentials. */
export interface ClientSecurity {
  readonly tls?: {
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly servername?: string;
    readonly insecureSkipVerify: boolean;
  };
  /** Who it says it is: its name, and the auth file its secret is in (else SECRET_VARIABLE). */
  readonly credential?: { readonly client: string; readonly authFile?: string };
}

/**
 * The TLS and credential a client's flags and environment ask for. Throws
 * ERR_BAD_FLAG for a TLS flag without --tls, a half-given pair, a name
 * without a secret or a secret without a name, and a secret that would
 * cross the network in clear (a host off this machine, without --tls).
 */
export function clientSecurityOf(
  options: Pick<
    ClientOptions,
    | 'host'
    | 'tls'
    | 'ca'
    | 'cert'
    | 'key'
    | 'servername'
    | 'insecureSkipVerify'
    | 'authFile'
    | 'name'
  >,
  env: Readonly<Record<string, string | undefined>>,
): ClientSecurity {
  const { host, tls, ca, cert, key, servername, insecureSkipVerify, authFile, name } = options;
  if (!tls) {
    const given = [
      ['--ca', ca !== ''],
      ['--cert', cert !== ''],
      ['--key', key !== ''],
      ['--servername', servername !== ''],
      ['--insecure-skip-verify', insecureSkipVerify],
    ].find(([, set]) => set);
    if (given) throw new MeteoError('ERR_BAD_FLAG', `${given[0]} goes with --tls`);
  }
  if ((cert === '') !== (key === '')) {
    throw new MeteoError('ERR_BAD_FLAG', '--cert and --key go together');
  }
  const envSecret = (env[SECRET_VARIABLE] ?? '') !== '';
  if (name === '' && (authFile !== '' || envSecret)) {
    throw new MeteoError(
      'ERR_BAD_FLAG',
      `${authFile !== '' ? '--auth-file' : SECRET_VARIABLE} needs --name: the client's name in the server's auth file`,
    );
  }
  if (name !== '' && authFile === '' && !envSecret) {
    throw new MeteoError(
      'ERR_BAD_FLAG',
      `--name needs a secret: --auth-file FILE (its name:secret line), or ${SECRET_VARIABLE}`,
    );
  }
  if (name !== '' && !tls && !isLoopbackHost(host)) {
    throw new MeteoError(
      'ERR_BAD_FLAG',
      `the secret would cross the network to ${host} in clear: add --tls`,
    );
  }
  return {
    ...(tls
      ? {
          tls: {
            ...(ca === '' ? {} : { caFile: ca }),
            ...(cert === '' ? {} : { certFile: cert, keyFile: key }),
            ...(servername === '' ? {} : { servername }),
            insecureSkipVerify,
          },
        }
      : {}),
    ...(name === ''
      ? {}
      : { credential: { client: name, ...(authFile === '' ? {} : { authFile }) } }),
  };
}

/** The names `get` takes for each reading: the wire's, and the labels the poll line shows. */
export const READING_NAMES: Readonly<Record<string, Reading>> = Object.freeze({
  minTemperature: 'minTemperature',
  min: 'minTemperature',
  maxTemperature: 'maxTemperature',
  max: 'maxTemperature',
  pressure: 'pressure',
  rainfall: 'rainfall',
  rain: 'rainfall',
});

/** What the client is asked to do: poll (no command), or `get` some readings once. */
export type ClientCommand =
  | { readonly kind: 'poll' }
  | {
      readonly kind: 'get';
      readonly readings: readonly Reading[];
      /** `get all`: a reading the station's source does not have is no failure. */
      readonly all: boolean;
    };

/**
 * The client's command from its arguments (what is not a flag): none polls;
 * `get READING...` or `get all` asks once, as `redis-cli GET` does. Throws
 * ERR_BAD_FLAG for another command, `get` without a reading, or `--raw`
 * without `get`, and ERR_BAD_VALUE for a reading it does not know.
 */
export function clientCommand(args: readonly string[], raw: boolean): ClientCommand {
  const [command, ...names] = args;
  if (command === undefined) {
    if (raw) throw new MeteoError('ERR_BAD_FLAG', '--raw goes with get (say, get pressure --raw)');
    return { kind: 'poll' };
  }
  if (command !== 'get')
    throw new MeteoError('ERR_BAD_FLAG', `unexpected argument ${JSON.stringify(command)}`);
  const known = `${Object.keys(READING_NAMES).join(', ')} or all`;
  if (names.length === 0) throw new MeteoError('ERR_BAD_FLAG', `get needs a reading: ${known}`);
  if (names.includes('all')) {
    if (names.length > 1) throw new MeteoError('ERR_BAD_VALUE', `get: "all" goes alone`);
    return { kind: 'get', readings: READINGS, all: true };
  }
  const readings = names.map((name) => {
    const reading = Object.hasOwn(READING_NAMES, name) ? READING_NAMES[name] : undefined;
    if (reading === undefined)
      throw new MeteoError(
        'ERR_BAD_VALUE',
        `get: no reading ${JSON.stringify(name)}; readings are ${known}`,
      );
    return reading;
  });
  return { kind: 'get', readings: [...new Set(readings)], all: false };
}
