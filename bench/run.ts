/**
 * `npm run bench -- [options]`: the side-by-side benchmark of issue #4. For
 * each configuration, and each repetition, it starts the product server
 * (dist/actors/cli/server.js) and then the baseline (bench/baselineServer.ts),
 * each in a fresh process on a free port, and points the load generator
 * (bench/loadgen.ts, a process of its own) at it. It reports the median of
 * each figure and its ratio to the baseline (bench/report.ts).
 *
 * Every child is killed when the run ends, however it ends.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  describeOptions,
  type OptionTable,
  type ResolvedOptions,
  resolveOptions,
} from '../lib/config.js';
import { describeError } from '../lib/errors.js';
import { machineInfo } from './procStats.js';
import {
  type BenchReport,
  CONNECTIONS_FIGURES,
  type Configuration,
  type ConfigurationReport,
  formatReport,
  parseConfigurations,
  type RunKind,
  type RunOf,
  ratios,
  runKinds,
  SERVERS,
  type ServerKind,
  type ServerRunInfo,
  significant,
  summariseConnections,
  summariseThroughput,
  THROUGHPUT_FIGURES,
} from './report.js';
import type { ConnectionsResult, ThroughputResult } from './results.js';

const PROGRAM = 'meteo-bench';

const BENCH_OPTIONS = Object.freeze({
  configs: {
    kind: 'string',
    flag: 'configs',
    default:
      '1x1,50x1,1000x1,50x16,10000,50x1+page,1000x1+page,10000+page,50x1+inspect,1000x1+inspect',
    description:
      'configurations, comma-separated: CxK (C connections, K requests in flight each) or C (open C connections, poll each once); +page runs the product with and without a live page attached, +inspect with and without --inspect (the first 8 connections inspected)',
  },
  repetitions: {
    kind: 'integer',
    flag: 'reps',
    min: 1,
    max: 100,
    default: 3,
    description: 'runs of each server in each configuration (product, baseline, product, ...)',
  },
  warmupMs: {
    kind: 'integer',
    flag: 'warmup',
    min: 0,
    max: 600_000,
    default: 1_000,
    description: 'warm-up before each measured window, ms',
  },
  durationMs: {
    kind: 'integer',
    flag: 'duration',
    min: 100,
    max: 3_600_000,
    default: 3_000,
    description: 'measured window of each run, ms',
  },
  threads: {
    kind: 'integer',
    flag: 'threads',
    min: 1,
    max: 64,
    default: 2,
    description: "the product's --threads",
  },
  servers: {
    kind: 'string',
    flag: 'servers',
    default: 'product,baseline',
    description: 'which servers to run: product, baseline or both',
  },
  profileDir: {
    kind: 'string',
    flag: 'profile-dir',
    default: '-',
    description:
      'run the servers under node --cpu-prof, writing profiles into DIR/product and DIR/baseline (- for none)',
  },
  quick: {
    kind: 'boolean',
    flag: 'quick',
    default: false,
    description:
      'a run of a few seconds: 50x1 only, 1 repetition, 250 ms warm-up, 750 ms measured (flags given explicitly still win)',
  },
  json: {
    kind: 'boolean',
    flag: 'json',
    default: false,
    description: 'print one JSON object (figures, medians, ratios) instead of tables',
  },
  tls: {
    kind: 'boolean',
    flag: 'tls',
    default: false,
    description:
      'both servers serve TLS (a certificate made for the run by openssl) and the load generator checks it (issue #14)',
  },
  tlsResume: {
    kind: 'boolean',
    flag: 'tls-resume',
    default: false,
    description:
      'with --tls: the load generator resumes TLS sessions rather than a full handshake per connection',
  },
  cluster: {
    kind: 'integer',
    flag: 'cluster',
    min: 1,
    max: 64,
    default: 1,
    description:
      "the product's --cluster: server processes sharing the port (issue #15); their CPU and RSS are counted together",
  },
  baselineReads: {
    kind: 'string',
    flag: 'baseline-reads',
    default: 'main',
    choices: ['main', 'pool'],
    description:
      "where the baseline makes its sensor reads: main (its main thread) or pool (the product's sensor pool, with the product's --threads): the floor of the product's design, so the ratio is what actors and machines cost",
  },
} as const satisfies OptionTable);

type BenchOptions = ResolvedOptions<typeof BENCH_OPTIONS>;

const USAGE = `Usage: npm run bench -- [options]

Runs the product server and a bare node:net baseline side by side under the
same load and reports each figure with its ratio to the baseline
(docs/PERFORMANCE.md).

Options:
${describeOptions(BENCH_OPTIONS)}`;

/** What --quick sets, unless the flag is given explicitly. */
const QUICK: Partial<Record<keyof BenchOptions, string | number>> = {
  configs: '50x1',
  repetitions: 1,
  warmupMs: 250,
  durationMs: 750,
};

const PRODUCT_SERVER = fileURLToPath(new URL('../actors/cli/server.js', import.meta.url));
const BASELINE_SERVER = fileURLToPath(new URL('./baselineServer.js', import.meta.url));
const LOADGEN = fileURLToPath(new URL('./loadgen.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How long a server may take to print its "listening" line. */
const START_TIMEOUT_MS = 20_000;
/** After SIGTERM, how long before SIGKILL (the product drains for up to 5 s). */
const STOP_TIMEOUT_MS = 10_000;
/** Between a server's "listening" line and the load: its worker threads finish starting. */
const SETTLE_MS = 300;
/** Connections the load generator opens at once. */
const OPEN_WINDOW = 200;
/** Log lines shown when a server fails to start. */
const TAIL_LINES = 20;

/** Every child process still running; all are killed when this process exits. */
const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

interface StartedServer {
  readonly kind: RunKind;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** Where its stdout and stderr go. */
  readonly logFile: string;
  /** Its HTTP port, where the stand-in page attaches (`page` runs); 0 for none. */
  readonly httpPort: number;
}

/** Log files of the servers, one per run; removed when the bench exits. */
let logDir: string | undefined;
let logFiles = 0;

function newLogFile(kind: RunKind): string {
  logDir ??= mkdtempSync(join(tmpdir(), 'meteo-bench-'));
  return join(logDir, `${++logFiles}-${kind}.log`);
}

/** The certificate both servers serve with --tls, made once per run; undefined without --tls. */
let certificate: { readonly cert: string; readonly key: string } | undefined;

/**
 * A self-signed P-256 certificate for 127.0.0.1, valid 30 days (past the
 * server's warning of an expiry within 14), in the log directory (and
 * removed with it): the load generator trusts it as its own CA. One for the
 * whole run, so both servers hand out the same, and no key outlives it.
 */
function benchCertificate(): { readonly cert: string; readonly key: string } {
  if (certificate) return certificate;
  logDir ??= mkdtempSync(join(tmpdir(), 'meteo-bench-'));
  const cert = join(logDir, 'bench.pem');
  const key = join(logDir, 'bench.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '30',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  certificate = { cert, key };
  return certificate;
}

function removeLogs(): void {
  if (logDir !== undefined) rmSync(logDir, { recursive: true, force: true });
  logDir = undefined;
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** pino's number for `warn`: a JSON log line at this level or above is a problem. */
const PINO_WARN = 40;

/**
 * Whether a log line is routine: INFO or DEBUG, in either of the servers'
 * formats (pino's JSON lines, or lib/log.ts's "TIME LEVEL message key=value").
 * Anything else is a problem worth reporting: a warning, an error, a stack,
 * a warning from Node itself.
 */
function isRoutine(line: string): boolean {
  if (line === '') return true;
  if (line.startsWith('{')) {
    try {
      const { level } = JSON.parse(line) as { level?: unknown };
      return typeof level === 'number' && level < PINO_WARN;
    } catch {
      return false;
    }
  }
  return /^\d{4}-\d\d-\d\dT\S+Z (DEBUG|INFO ) /.test(line);
}

function problems(log: string): string[] {
  return log.split('\n').filter((line) => !isRoutine(line));
}

/** The port in a server's "listening" line, in either log format; 0 until there is one. */
function listeningPort(log: string): number {
  for (const line of log.split('\n')) {
    if (!/\blistening\b/.test(line)) continue;
    const match = /"port":(\d+)|\bport=(\d+)/.exec(line);
    if (match) return Number(match[1] ?? match[2]);
  }
  return 0;
}

/** A loopback port that was free a moment ago, for a product's HTTP port (its CLI takes 0 as none). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Starts one server. The product serves its HTTP port (/metrics, the live
 * view) in a `+page` configuration, with the page (`page`) and without
 * (`product`), so that the ratio is the page's cost alone; elsewhere it
 * serves none, as when the figures of docs/PERFORMANCE.md were measured. An
 * `inspect` run is the product with --inspect, its relay on a free port.
 */
/**
 * The product's flags for `--cluster N`. Each process enforces its share of
 * `--max-connections` (README, "More cores, more machines"), and the
 * primary hands a connection to whichever process is free, not strictly in
 * turn, so at the default 10,000 one process can fill its share before the
 * 10,000-connection run is done. The limit is raised so that the run
 * measures serving, not refusing.
 */
function clusterArgs(processes: number): string[] {
  return ['--cluster', String(processes), '--max-connections', '100000'];
}

async function startServer(
  kind: RunKind,
  options: BenchOptions,
  http: boolean,
): Promise<StartedServer> {
  // Profiles go to DIR/product and DIR/baseline: one file per thread, written when the server exits.
  const nodeArgs =
    options.profileDir === '-'
      ? []
      : ['--cpu-prof', '--cpu-prof-dir', join(resolvePath(options.profileDir), kind)];
  const httpPort = http && kind !== 'baseline' ? await freePort() : 0;
  const inspect =
    kind === 'inspect'
      ? ['--inspect', '--inspect-port', String(await freePort()), '--inspect-connections', '8']
      : [];
  const tls = options.tls
    ? ['--tls-cert', benchCertificate().cert, '--tls-key', benchCertificate().key]
    : [];
  const args =
    kind === 'baseline'
      ? [
          ...nodeArgs,
          BASELINE_SERVER,
          '--port',
          '0',
          '--reads',
          options.baselineReads,
          '--threads',
          String(options.threads),
          ...tls,
        ]
      : [
          ...nodeArgs,
          PRODUCT_SERVER,
          '--port',
          '0',
          '--http-port',
          String(httpPort),
          '--threads',
          String(options.threads),
          '--ready-grace',
          '0',
          ...(options.cluster > 1 ? clusterArgs(options.cluster) : []),
          ...inspect,
          ...tls,
        ];
  // The product logs two lines per connection. Into a file, never a pipe: a write to a pipe
  // blocks the server whenever this process is slow to read, which would be measured as its cost.
  const logFile = newLogFile(kind);
  const fd = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = track(spawn(process.execPath, args, { stdio: ['ignore', fd, fd], cwd: ROOT }));
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const port = listeningPort(readLog(logFile));
    if (port > 0 && child.pid !== undefined) {
      return { kind, child, pid: child.pid, port, logFile, httpPort };
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const tail = readLog(logFile).split('\n').slice(-TAIL_LINES).join('\n');
      throw new Error(`the ${kind} server did not start:\n${tail}`);
    }
    await delay(20);
  }
}

async function stopServer(server: StartedServer): Promise<ServerRunInfo> {
  const start = Date.now();
  server.child.kill('SIGTERM');
  let exit: number | string | null;
  if (await exited(server.child, STOP_TIMEOUT_MS)) {
    exit = server.child.exitCode ?? server.child.signalCode;
  } else {
    server.child.kill('SIGKILL');
    await exited(server.child, STOP_TIMEOUT_MS);
    exit = 'SIGKILL';
  }
  const stopMs = Date.now() - start;
  const found = problems(readLog(server.logFile));
  if (exit !== 0) found.push(`exited with ${exit} after SIGTERM`);
  return {
    warnings: found.length,
    warningSamples: found.slice(0, 3).map((line) => `${server.kind}: ${line}`),
    exit,
    stopMs,
  };
}

/** Runs the load generator against a server and returns what it printed. */
async function loadgen<Result>(args: readonly string[], timeoutMs: number): Promise<Result> {
  const child = track(
    spawn(process.execPath, [LOADGEN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  if (!(await exited(child, timeoutMs))) {
    child.kill('SIGKILL');
    throw new Error(`the load generator did not finish in ${timeoutMs} ms:\n${stderr}`);
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  if (child.exitCode !== 0 || line === '') {
    throw new Error(`the load generator failed (exit ${child.exitCode}):\n${stderr}${stdout}`);
  }
  return JSON.parse(line) as Result;
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

async function runOnce(
  kind: RunKind,
  configuration: Configuration,
  options: BenchOptions,
  clockTicks: number,
): Promise<RunOf<ThroughputResult> | RunOf<ConnectionsResult>> {
  const server = await startServer(kind, options, configuration.variant === 'page');
  let outcome: { result: ThroughputResult | ConnectionsResult } | { error: unknown };
  try {
    await delay(SETTLE_MS);
    const result = await measure(server, configuration, options, clockTicks);
    // A page run whose page heard nothing measured the product without one.
    if (kind === 'page' && !(result.page && result.page.messages > 0)) {
      throw new Error('the stand-in live page received nothing from the feed');
    }
    outcome = { result };
  } catch (error) {
    outcome = { error };
  }
  const info = await stopServer(server);
  if ('error' in outcome) throw outcome.error;
  return { ...outcome.result, server: info };
}

function measure(
  server: StartedServer,
  configuration: Configuration,
  options: BenchOptions,
  clockTicks: number,
): Promise<ThroughputResult | ConnectionsResult> {
  const common = [
    '--port',
    String(server.port),
    '--server-pid',
    String(server.pid),
    '--clock-ticks',
    String(clockTicks),
    '--connections',
    String(configuration.connections),
    '--open-window',
    String(OPEN_WINDOW),
    '--page-port',
    String(server.kind === 'page' ? server.httpPort : 0),
    ...(options.tls ? ['--tls', '--ca', benchCertificate().cert] : []),
    ...(options.tls && options.tlsResume ? ['--tls-resume'] : []),
  ];
  // Opening connections, warm-up, window, drain, and a generous margin: a hung run still ends.
  const timeoutMs = options.warmupMs + options.durationMs + configuration.connections * 20 + 60_000;
  if (configuration.kind === 'connections') {
    return loadgen<ConnectionsResult>([...common, '--mode', 'connections'], timeoutMs);
  }
  return loadgen<ThroughputResult>(
    [
      ...common,
      '--mode',
      'throughput',
      '--depth',
      String(configuration.depth),
      '--warmup-ms',
      String(options.warmupMs),
      '--duration-ms',
      String(options.durationMs),
    ],
    timeoutMs,
  );
}

function describeRun(result: ThroughputResult | ConnectionsResult): string {
  const page = result.page
    ? `, page ${result.page.messages} messages (${Math.round(result.page.bytes / 1024)} KiB, longest wait ${result.page.maxGapMs} ms)`
    : '';
  if (result.mode === 'throughput') {
    return (
      `${Math.round(result.requestsPerSecond).toLocaleString('en-US')} req/s, ` +
      `p50 ${result.latencyUs.p50} µs, p99 ${result.latencyUs.p99} µs, ` +
      `CPU ${result.serverCpuUsPerRequest.toFixed(1)} µs/req, errors ${result.errorTotal}${page}`
    );
  }
  return (
    `${result.opened} open in ${(result.openMs / 1000).toFixed(2)} s, ` +
    `${(result.rssBytesPerConnection / 1024).toFixed(1)} KiB/conn, ` +
    `poll ${(result.pollMs / 1000).toFixed(2)} s, errors ${result.errorTotal}${page}`
  );
}

function summariseConfiguration(
  configuration: Configuration,
  runs: Record<RunKind, (RunOf<ThroughputResult> | RunOf<ConnectionsResult>)[]>,
): ConfigurationReport {
  if (configuration.kind === 'throughput') {
    const of = (server: RunKind) =>
      runs[server].length > 0
        ? summariseThroughput(runs[server] as RunOf<ThroughputResult>[])
        : undefined;
    const product = of('product');
    const baseline = of('baseline');
    const withVariant = configuration.variant ? of(configuration.variant) : undefined;
    return {
      kind: 'throughput',
      connections: configuration.connections,
      depth: configuration.depth,
      ...(product ? { product } : {}),
      ...(baseline ? { baseline } : {}),
      ratio: ratios(THROUGHPUT_FIGURES, product, baseline),
      ...(withVariant && configuration.variant
        ? {
            variant: configuration.variant,
            withVariant,
            variantRatio: ratios(THROUGHPUT_FIGURES, withVariant, product),
          }
        : {}),
    };
  }
  const of = (server: RunKind) =>
    runs[server].length > 0
      ? summariseConnections(runs[server] as RunOf<ConnectionsResult>[])
      : undefined;
  const product = of('product');
  const baseline = of('baseline');
  const withVariant = configuration.variant ? of(configuration.variant) : undefined;
  return {
    kind: 'connections',
    connections: configuration.connections,
    ...(product ? { product } : {}),
    ...(baseline ? { baseline } : {}),
    ratio: ratios(CONNECTIONS_FIGURES, product, baseline),
    ...(withVariant && configuration.variant
      ? {
          variant: configuration.variant,
          withVariant,
          variantRatio: ratios(CONNECTIONS_FIGURES, withVariant, product),
        }
      : {}),
  };
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync(
      'git',
      ['status', '--porcelain', '--', 'lib', 'machines', 'actors'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    ).trim();
    return dirty === '' ? head : `${head}+uncommitted`;
  } catch {
    return 'unknown';
  }
}

function parseServers(text: string): ServerKind[] {
  const servers = text.split(',').map((s) => s.trim());
  for (const server of servers) {
    if (!(SERVERS as readonly string[]).includes(server)) {
      throw new RangeError(`--servers: "${server}" is not one of ${SERVERS.join(', ')}`);
    }
  }
  return SERVERS.filter((server) => servers.includes(server));
}

function resolveBenchOptions(argv: readonly string[]): BenchOptions | undefined {
  const resolution = resolveOptions(BENCH_OPTIONS, argv, {});
  if (resolution.help) return undefined;
  const options = { ...resolution.options } as Record<string, unknown>;
  if (resolution.options.quick) {
    for (const [key, value] of Object.entries(QUICK)) {
      const flag = BENCH_OPTIONS[key as keyof typeof BENCH_OPTIONS].flag;
      const given = argv.some((arg) => arg === `--${flag}` || arg.startsWith(`--${flag}=`));
      if (!given) options[key] = value;
    }
  }
  return options as BenchOptions;
}

async function main(): Promise<number> {
  let options: BenchOptions | undefined;
  let configurations: Configuration[];
  let servers: ServerKind[];
  try {
    options = resolveBenchOptions(process.argv.slice(2));
    if (options === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    configurations = parseConfigurations(options.configs);
    servers = parseServers(options.servers);
    if (options.tlsResume && !options.tls) throw new RangeError('--tls-resume goes with --tls');
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${describeError(err)} (try --help)\n`);
    return 2;
  }

  const started = Date.now();
  const loadAtStart = loadavg().map((load) => significant(load, 3));
  const machine = machineInfo();
  const revision = commit();
  const results: Record<string, ConfigurationReport> = {};
  let errors = 0;
  for (const configuration of configurations) {
    const runs: Record<RunKind, (RunOf<ThroughputResult> | RunOf<ConnectionsResult>)[]> = {
      product: [],
      baseline: [],
      page: [],
      inspect: [],
    };
    for (let rep = 1; rep <= options.repetitions; rep++) {
      // Alternate: product, baseline, product, ... so drift on a shared machine hits both alike
      // (product, product + page, ... for a +page or +inspect configuration).
      for (const server of runKinds(configuration, servers)) {
        const result = await runOnce(server, configuration, options, machine.clockTicksPerSecond);
        runs[server].push(result);
        progress(
          `${configuration.name} ${rep}/${options.repetitions} ${server.padEnd(8)} ${describeRun(result)}`,
        );
      }
    }
    const entry = summariseConfiguration(configuration, runs);
    results[configuration.name] = entry;
    errors +=
      (entry.product?.errors ?? 0) +
      (entry.baseline?.errors ?? 0) +
      (entry.withVariant?.errors ?? 0);
  }
  const report: BenchReport = {
    benchmark: 'meteo-actors issue 4',
    startedAt: new Date(started).toISOString(),
    elapsedSeconds: Math.round((Date.now() - started) / 100) / 10,
    commit: revision,
    machine,
    loadAverage: { atStart: loadAtStart, atEnd: loadavg().map((load) => significant(load, 3)) },
    settings: {
      repetitions: options.repetitions,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      threads: options.threads,
      servers,
      transport: options.tls ? (options.tlsResume ? 'tls, resumed sessions' : 'tls') : 'tcp',
      baselineReads: options.baselineReads as 'main' | 'pool',
      cluster: options.cluster,
    },
    errors,
    configurations: results,
  };

  process.stdout.write(
    options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`,
  );
  return report.errors === 0 ? 0 : 1;
}

process.on('exit', () => {
  killAll();
  removeLogs();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

main().then(
  (code) => {
    killAll();
    process.exitCode = code;
  },
  (err: unknown) => {
    killAll();
    process.stderr.write(`${PROGRAM}: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
