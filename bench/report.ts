/**
 * Turns the runs of the benchmark into its report: the median of each figure
 * per server, each figure's ratio to the baseline, and a table. Pure: runs
 * in, report out (bench/run.ts does the running).
 */
import type { MachineInfo } from './procStats.js';
import type { ConnectionsResult, OpenBlock, ThroughputResult } from './results.js';

/** The two servers a run compares; the baseline is the denominator of every ratio. */
export const SERVERS = ['product', 'baseline'] as const;
export type ServerKind = (typeof SERVERS)[number];

/**
 * What a configuration may compare the product with, instead of the
 * baseline: the product with a live page attached (`+page`, issue #13), or
 * with the Stately inspector on for the first 8 connections (`+inspect`,
 * issue #11).
 */
export const VARIANTS = ['page', 'inspect'] as const;
export type Variant = (typeof VARIANTS)[number];

/** How each run of a configuration is made: one of the two servers, or the product in a variant. */
export type RunKind = ServerKind | Variant;

/**
 * A configuration of the benchmark: C×K under load, or C connections opened
 * and polled once. With a variant (`50x1+page`, `50x1+inspect`), the product
 * is run with and without it, and the ratio is the one to the other.
 */
export type Configuration =
  | {
      readonly kind: 'throughput';
      readonly name: string;
      readonly connections: number;
      readonly depth: number;
      readonly variant: Variant | null;
    }
  | {
      readonly kind: 'connections';
      readonly name: string;
      readonly connections: number;
      readonly variant: Variant | null;
    };

/** The runs a configuration is made of, in the order each repetition runs them. */
export function runKinds(configuration: Configuration, servers: readonly ServerKind[]): RunKind[] {
  return configuration.variant ? ['product', configuration.variant] : [...servers];
}

/**
 * Parses "1x1,50x16,10000,50x1+page,50x1+inspect": C×K for a throughput
 * configuration, a bare C for the connections one, `+page` or `+inspect` for
 * either in that variant.
 */
export function parseConfigurations(text: string): Configuration[] {
  const configurations: Configuration[] = [];
  for (const raw of text.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    const [base = '', suffix, ...more] = name.split('+');
    if (more.length > 0) {
      throw new RangeError(
        `--configs: ${name}: one variant at a time (+${VARIANTS.join(' or +')})`,
      );
    }
    const variant =
      suffix === undefined ? null : (VARIANTS.find((known) => known === suffix) ?? null);
    if (suffix !== undefined && variant === null) {
      throw new RangeError(`--configs: ${name}: +${suffix} is not one of +${VARIANTS.join(', +')}`);
    }
    const pair = /^(\d+)x(\d+)$/.exec(base);
    const single = /^(\d+)$/.exec(base);
    if (pair) {
      const connections = Number(pair[1]);
      const depth = Number(pair[2]);
      if (connections < 1 || connections > 19_000 || depth < 1 || depth > 1024) {
        throw new RangeError(
          `--configs: ${name} is out of range (C from 1 to 19000, K from 1 to 1024)`,
        );
      }
      configurations.push({ kind: 'throughput', name, connections, depth, variant });
    } else if (single) {
      const connections = Number(single[1]);
      if (connections < 10 || connections > 19_000) {
        throw new RangeError(`--configs: ${name} connections is out of range (10 to 19000)`);
      }
      configurations.push({ kind: 'connections', name, connections, variant });
    } else {
      throw new RangeError(
        `--configs: "${raw}" is neither CxK (e.g. 50x16) nor a connection count (e.g. 10000), with or without +page or +inspect`,
      );
    }
  }
  if (configurations.length === 0) throw new RangeError('--configs names no configuration');
  return configurations;
}

/** What the runner learned about a server process, besides the load generator's figures. */
export interface ServerRunInfo {
  /** Log lines at WARN or ERROR while it ran. */
  readonly warnings: number;
  /** The first few of them. */
  readonly warningSamples: readonly string[];
  /** Exit code after SIGTERM, or the signal that had to kill it. */
  readonly exit: number | string | null;
  /** From SIGTERM to exit, ms. */
  readonly stopMs: number;
}

export type RunOf<Result> = Result & { readonly server: ServerRunInfo };

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Rounds to `digits` significant digits, so the JSON and the table stay readable. */
export function significant(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** The throughput figures, one number each; a summary holds their medians. */
export const THROUGHPUT_FIGURES = [
  'requestsPerSecond',
  'latencyP50Us',
  'latencyP99Us',
  'latencyP999Us',
  'latencyMaxUs',
  'serverCpuUsPerRequest',
  'serverMainThreadCpuUsPerRequest',
  'serverRssMiB',
  'serverCpuCores',
  'loadgenCpuCores',
  'otherCpuCores',
] as const;
export type ThroughputFigure = (typeof THROUGHPUT_FIGURES)[number];

export const CONNECTIONS_FIGURES = [
  'opened',
  'openSeconds',
  'connectionsPerSecond',
  'handshakeP50Us',
  'handshakeP99Us',
  'rssKiBPerConnection',
  'firstBlockWallUsPerConnection',
  'lastBlockWallUsPerConnection',
  'acceptWallGrowth',
  'firstBlockServerCpuUsPerConnection',
  'lastBlockServerCpuUsPerConnection',
  'acceptCpuGrowth',
  'pollSeconds',
  'pollP50Us',
  'pollP99Us',
  'pollReadings',
  'pollServerCpuUsPerRequest',
  'serverRssAfterPollMiB',
] as const;
export type ConnectionsFigure = (typeof CONNECTIONS_FIGURES)[number];

const MIB = 1024 * 1024;

export function throughputFigures(run: ThroughputResult): Record<ThroughputFigure, number> {
  return {
    requestsPerSecond: run.requestsPerSecond,
    latencyP50Us: run.latencyUs.p50,
    latencyP99Us: run.latencyUs.p99,
    latencyP999Us: run.latencyUs.p999,
    latencyMaxUs: run.latencyUs.max,
    serverCpuUsPerRequest: run.serverCpuUsPerRequest,
    serverMainThreadCpuUsPerRequest: run.serverMainThreadCpuUsPerRequest,
    serverRssMiB: run.serverRssBytes / MIB,
    serverCpuCores: run.serverCpuCores,
    loadgenCpuCores: run.loadgenCpuCores,
    otherCpuCores: run.otherCpuCores,
  };
}

export function connectionsFigures(run: ConnectionsResult): Record<ConnectionsFigure, number> {
  const first = run.blocks[0];
  const last = run.blocks[run.blocks.length - 1];
  const growth = (a: number | undefined, b: number | undefined): number =>
    a !== undefined && b !== undefined && a > 0 ? b / a : Number.NaN;
  return {
    opened: run.opened,
    openSeconds: run.openMs / 1000,
    connectionsPerSecond: run.openMs > 0 ? run.opened / (run.openMs / 1000) : 0,
    handshakeP50Us: run.handshakeUs.p50,
    handshakeP99Us: run.handshakeUs.p99,
    rssKiBPerConnection: run.rssBytesPerConnection / 1024,
    firstBlockWallUsPerConnection: first?.wallUsPerConnection ?? Number.NaN,
    lastBlockWallUsPerConnection: last?.wallUsPerConnection ?? Number.NaN,
    acceptWallGrowth: growth(first?.wallUsPerConnection, last?.wallUsPerConnection),
    firstBlockServerCpuUsPerConnection: first?.serverCpuUsPerConnection ?? Number.NaN,
    lastBlockServerCpuUsPerConnection: last?.serverCpuUsPerConnection ?? Number.NaN,
    acceptCpuGrowth: growth(first?.serverCpuUsPerConnection, last?.serverCpuUsPerConnection),
    pollSeconds: run.pollMs / 1000,
    pollP50Us: run.pollUs.p50,
    pollP99Us: run.pollUs.p99,
    pollReadings: run.pollReadings,
    pollServerCpuUsPerRequest: run.pollServerCpuUsPerRequest,
    serverRssAfterPollMiB: run.serverRssAfterPollBytes / MIB,
  };
}

/** One server in one configuration: the median of each figure, and every error. */
export type ServerSummary<Figure extends string> = Record<Figure, number> & {
  readonly runs: number;
  /** Errors summed over every run (not a median: one is one too many). */
  readonly errors: number;
  /** Log lines at WARN or ERROR, summed over every run. */
  readonly serverWarnings: number;
  /** A few error and warning descriptions, when there were any. */
  readonly errorSamples: readonly string[];
  /** The figure of each run, in run order, for the spread. */
  readonly each: Record<Figure, readonly number[]>;
};

function summarise<Figure extends string, Run extends { server: ServerRunInfo }>(
  figures: readonly Figure[],
  runs: readonly Run[],
  figuresOf: (run: Run) => Record<Figure, number>,
  errorsOf: (run: Run) => { total: number; samples: readonly string[] },
): ServerSummary<Figure> {
  const perRun = runs.map(figuresOf);
  const medians = {} as Record<Figure, number>;
  const each = {} as Record<Figure, number[]>;
  for (const figure of figures) {
    each[figure] = perRun.map((f) => significant(f[figure]));
    medians[figure] = significant(median(perRun.map((f) => f[figure])));
  }
  const samples: string[] = [];
  let errors = 0;
  let serverWarnings = 0;
  for (const run of runs) {
    const { total, samples: errorSamples } = errorsOf(run);
    errors += total;
    serverWarnings += run.server.warnings;
    samples.push(...errorSamples, ...run.server.warningSamples);
  }
  return {
    ...medians,
    runs: runs.length,
    errors,
    serverWarnings,
    errorSamples: samples.slice(0, 8),
    each,
  };
}

export function summariseThroughput(
  runs: readonly RunOf<ThroughputResult>[],
): ServerSummary<ThroughputFigure> {
  return summarise(THROUGHPUT_FIGURES, runs, throughputFigures, (run) => ({
    total: run.errorTotal,
    samples: run.errors.samples,
  }));
}

/** The cost of opening each tenth of the connections, median over the runs: flat or growing. */
export interface BlockCurve {
  readonly from: readonly number[];
  readonly wallUsPerConnection: readonly number[];
  readonly serverCpuUsPerConnection: readonly number[];
}

export type ConnectionsSummary = ServerSummary<ConnectionsFigure> & { readonly blocks: BlockCurve };

export function summariseConnections(
  runs: readonly RunOf<ConnectionsResult>[],
): ConnectionsSummary {
  const summary = summarise(CONNECTIONS_FIGURES, runs, connectionsFigures, (run) => ({
    total: run.errorTotal,
    samples: run.errors.samples,
  }));
  const length = Math.min(...runs.map((run) => run.blocks.length));
  const at = (i: number, pick: (block: OpenBlock) => number): number =>
    significant(median(runs.map((run) => pick(run.blocks[i] as OpenBlock))), 3);
  const indices = Array.from({ length: Number.isFinite(length) ? length : 0 }, (_, i) => i);
  return {
    ...summary,
    blocks: {
      from: indices.map((i) => runs[0]?.blocks[i]?.from ?? 0),
      wallUsPerConnection: indices.map((i) => at(i, (block) => block.wallUsPerConnection)),
      serverCpuUsPerConnection: indices.map((i) =>
        at(i, (block) => block.serverCpuUsPerConnection),
      ),
    },
  };
}

/** product ÷ baseline for each figure: above 1 means the product's figure is the larger. */
export function ratios<Figure extends string>(
  figures: readonly Figure[],
  product: Readonly<Record<Figure, number>> | undefined,
  baseline: Readonly<Record<Figure, number>> | undefined,
): Record<Figure, number | null> {
  const out = {} as Record<Figure, number | null>;
  for (const figure of figures) {
    const p = product?.[figure];
    const b = baseline?.[figure];
    out[figure] =
      p === undefined || b === undefined || !Number.isFinite(p) || !Number.isFinite(b) || b === 0
        ? null
        : significant(p / b, 3);
  }
  return out;
}

export type ConfigurationReport =
  | {
      readonly kind: 'throughput';
      readonly connections: number;
      readonly depth: number;
      readonly product?: ServerSummary<ThroughputFigure>;
      readonly baseline?: ServerSummary<ThroughputFigure>;
      readonly ratio: Record<ThroughputFigure, number | null>;
      /** A variant: the product in it, and its ratio to the product without. */
      readonly variant?: Variant;
      readonly withVariant?: ServerSummary<ThroughputFigure>;
      readonly variantRatio?: Record<ThroughputFigure, number | null>;
    }
  | {
      readonly kind: 'connections';
      readonly connections: number;
      readonly product?: ConnectionsSummary;
      readonly baseline?: ConnectionsSummary;
      readonly ratio: Record<ConnectionsFigure, number | null>;
      /** A variant: the product in it, and its ratio to the product without. */
      readonly variant?: Variant;
      readonly withVariant?: ConnectionsSummary;
      readonly variantRatio?: Record<ConnectionsFigure, number | null>;
    };

export interface BenchSettings {
  readonly repetitions: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly threads: number;
  readonly servers: readonly ServerKind[];
  /** How the load generator reached the servers (issue #14); plain TCP when absent. */
  readonly transport?: 'tcp' | 'tls' | 'tls, resumed sessions';
  /** Where the baseline made its reads: its main thread, or the product's sensor pool (the design's floor). */
  readonly baselineReads?: 'main' | 'pool';
  /** The product's --cluster: its server processes. */
  readonly cluster?: number;
}

export interface BenchReport {
  readonly benchmark: 'meteo-actors issue 4';
  readonly startedAt: string;
  readonly elapsedSeconds: number;
  readonly commit: string;
  readonly machine: MachineInfo;
  /** 1-, 5- and 15-minute load averages when the run started and ended: how busy the machine was. */
  readonly loadAverage: { readonly atStart: readonly number[]; readonly atEnd: readonly number[] };
  readonly settings: BenchSettings;
  /** Errors over every run of every configuration and server. */
  readonly errors: number;
  readonly configurations: Record<string, ConfigurationReport>;
}

function format(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return String(significant(value, digits));
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** Columns that describe the run rather than the server: no ratio in the table (the JSON has them). */
const CONTEXT_FIGURES: ReadonlySet<ThroughputFigure> = new Set([
  'serverCpuCores',
  'loadgenCpuCores',
  'otherCpuCores',
]);

const THROUGHPUT_COLUMNS: readonly [ThroughputFigure, string][] = [
  ['requestsPerSecond', 'req/s'],
  ['latencyP50Us', 'p50 µs'],
  ['latencyP99Us', 'p99 µs'],
  ['latencyP999Us', 'p99.9 µs'],
  ['serverCpuUsPerRequest', 'server CPU µs/req'],
  ['serverMainThreadCpuUsPerRequest', 'of which main thread'],
  ['serverRssMiB', 'server RSS MiB'],
  ['serverCpuCores', 'server cores'],
  ['loadgenCpuCores', 'loadgen cores'],
  ['otherCpuCores', 'other load, cores'],
];

const CONNECTIONS_ROWS: readonly [ConnectionsFigure, string][] = [
  ['opened', 'connections accepted and welcomed'],
  ['openSeconds', 'time to accept + handshake all, s'],
  ['connectionsPerSecond', 'connections per second'],
  ['handshakeP50Us', 'handshake p50, µs (200 opening at once)'],
  ['handshakeP99Us', 'handshake p99, µs'],
  ['rssKiBPerConnection', 'RSS per connection, KiB'],
  ['firstBlockWallUsPerConnection', 'first tenth: wall µs per connection'],
  ['lastBlockWallUsPerConnection', 'last tenth: wall µs per connection'],
  ['acceptWallGrowth', 'last ÷ first tenth, wall'],
  ['firstBlockServerCpuUsPerConnection', 'first tenth: server CPU µs per connection'],
  ['lastBlockServerCpuUsPerConnection', 'last tenth: server CPU µs per connection'],
  ['acceptCpuGrowth', 'last ÷ first tenth, server CPU'],
  ['pollSeconds', 'one poll on every connection, s'],
  ['pollP50Us', 'poll (4 readings) p50, µs'],
  ['pollP99Us', 'poll p99, µs'],
  ['pollReadings', 'readings received'],
  ['pollServerCpuUsPerRequest', 'poll: server CPU µs per reading'],
  ['serverRssAfterPollMiB', 'server RSS after the poll, MiB'],
];

/** The report as Markdown tables, as docs/PERFORMANCE.md shows them. */
export function formatReport(report: BenchReport): string {
  const lines: string[] = [];
  const { machine, settings } = report;
  lines.push(
    `meteo-actors benchmark, ${report.startedAt}, commit ${report.commit}`,
    `${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}; ` +
      `${settings.repetitions} repetitions of ${settings.warmupMs} ms warm-up + ${settings.durationMs} ms measured; ` +
      `product with --threads ${settings.threads}${(settings.cluster ?? 1) > 1 ? ` in each of --cluster ${settings.cluster} processes (--max-connections 100000)` : ''}; over ${settings.transport ?? 'tcp'}; baseline reads on ${settings.baselineReads === 'pool' ? "the product's sensor pool (the design's floor)" : 'its main thread'}. Medians; ratio = product ÷ baseline.`,
    `Load average at start ${report.loadAverage.atStart.join(' ')}, at end ${report.loadAverage.atEnd.join(' ')}; ` +
      `took ${report.elapsedSeconds} s.`,
    '',
  );
  const throughput = Object.entries(report.configurations).filter(
    ([, c]) => c.kind === 'throughput',
  );
  if (throughput.length > 0) {
    lines.push(
      row(['C×K', 'server', ...THROUGHPUT_COLUMNS.map(([, title]) => title), 'errors']),
      row(['---', '---', ...THROUGHPUT_COLUMNS.map(() => '---:'), '---:']),
    );
    for (const [name, c] of throughput) {
      if (c.kind !== 'throughput') continue;
      let first = true;
      for (const server of SERVERS) {
        const s = c[server];
        if (!s) continue;
        lines.push(
          row([
            first ? name : '',
            server,
            ...THROUGHPUT_COLUMNS.map(([figure]) => format(s[figure])),
            String(s.errors),
          ]),
        );
        first = false;
      }
      if (c.product && c.baseline) {
        lines.push(
          row([
            '',
            '**ratio**',
            ...THROUGHPUT_COLUMNS.map(([figure]) =>
              CONTEXT_FIGURES.has(figure) ? '' : `**${format(c.ratio[figure])}**`,
            ),
            '',
          ]),
        );
      }
      const inVariant = c.withVariant;
      if (inVariant) {
        lines.push(
          row([
            first ? name : '',
            `product + ${c.variant}`,
            ...THROUGHPUT_COLUMNS.map(([figure]) => format(inVariant[figure])),
            String(inVariant.errors),
          ]),
        );
        if (c.product && c.variantRatio) {
          const variantRatio = c.variantRatio;
          lines.push(
            row([
              '',
              `**with ${c.variant} ÷ without**`,
              ...THROUGHPUT_COLUMNS.map(([figure]) =>
                CONTEXT_FIGURES.has(figure) ? '' : `**${format(variantRatio[figure])}**`,
              ),
              '',
            ]),
          );
        }
      }
    }
    lines.push('');
  }
  for (const [name, c] of Object.entries(report.configurations)) {
    if (c.kind !== 'connections') continue;
    // A variant's configuration compares the product in it to the product without.
    const other = c.withVariant ?? c.baseline;
    const ratio = c.withVariant ? c.variantRatio : c.ratio;
    lines.push(
      `${c.connections.toLocaleString('en-US')} connections (configuration "${name}")`,
      '',
      row(['figure', 'product', c.withVariant ? `product + ${c.variant}` : 'baseline', 'ratio']),
      row(['---', '---:', '---:', '---:']),
    );
    for (const [figure, title] of CONNECTIONS_ROWS) {
      lines.push(
        row([title, format(c.product?.[figure]), format(other?.[figure]), format(ratio?.[figure])]),
      );
    }
    lines.push(
      row([
        'errors (all runs)',
        String(c.product?.errors ?? '–'),
        String(other?.errors ?? '–'),
        '',
      ]),
      '',
    );
    for (const server of SERVERS) {
      const blocks = c[server]?.blocks;
      if (!blocks) continue;
      lines.push(
        `${server}, wall µs per connection by tenth opened: ${blocks.wallUsPerConnection.map((v) => format(v)).join(', ')}`,
        `${server}, server CPU µs per connection by tenth: ${blocks.serverCpuUsPerConnection.map((v) => format(v)).join(', ')}`,
      );
    }
    lines.push('');
  }
  const warnings = Object.entries(report.configurations).flatMap(([name, c]) =>
    (['product', 'baseline', 'withVariant'] as const).flatMap((server) => {
      const s = c[server];
      return s && (s.errors > 0 || s.serverWarnings > 0)
        ? [
            `${name} ${server}: ${s.errors} errors, ${s.serverWarnings} server warnings; ${s.errorSamples.join(' / ')}`,
          ]
        : [];
    }),
  );
  lines.push(
    warnings.length === 0 ? 'No errors, no server warnings.' : `Problems:\n${warnings.join('\n')}`,
  );
  return lines.join('\n');
}
