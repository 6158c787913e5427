/**
 * `node dist/bench/profileSummary.js FILE.cpuprofile [--from-ms N] [--to-ms N] [--top N]`:
 * where a V8 CPU profile (`node --cpu-prof`) spends its time. Self time per
 * function, from the samples' time deltas, grouped into the parts of the
 * server that issue #4 asks about: XState's machinery, socket reads and
 * writes, MessagePack, pool messaging, the project's own code, and so on.
 * `--timeline` shows the busy share of each second, to pick the window of
 * steady load (`--from-ms`, `--to-ms`, from the profile's start).
 */
import { readFileSync } from 'node:fs';
import { isEntryPoint } from '../actors/cli/program.js';
import { type OptionTable, resolveOptions } from '../lib/config.js';
import { describeError } from '../lib/errors.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

/** The `.cpuprofile` format (Chrome DevTools protocol, Profiler.Profile). */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The groups a function's self time is filed under, first match wins. */
export const CATEGORIES: readonly (readonly [string, (frame: CallFrame) => boolean])[] = [
  ['idle (waiting in epoll)', (f) => f.functionName === '(idle)'],
  // Piscina's workers wait for a task in Atomics.wait, a blocking futex wait the profiler
  // samples as JavaScript: it is waiting, not work.
  ['idle (worker blocked in Atomics.wait)', (f) => f.functionName === 'atomicsWaitLoop'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['V8/native, unattributed', (f) => f.functionName === '(program)'],
  ['XState machinery', (f) => f.url.includes('/node_modules/xstate/')],
  ['MessagePack (msgpackr)', (f) => f.url.includes('/node_modules/msgpackr/')],
  ['pool messaging (piscina)', (f) => f.url.includes('/node_modules/piscina/')],
  // Before the writes: onStreamRead lives in the same module as the write helpers.
  [
    'socket reads',
    (f) =>
      /internal\/streams\/readable|internal\/streams\/(add-abort|end-of-stream)/.test(f.url) ||
      f.functionName === 'onStreamRead',
  ],
  [
    'socket writes (the write syscall is inside writeBuffer)',
    (f) =>
      /internal\/stream_base_commons|internal\/streams\/writable/.test(f.url) ||
      /^(writeBuffer|writev|writeUtf8String|writeLatin1String)$/.test(f.functionName),
  ],
  ['socket setup and teardown (node:net)', (f) => f.url === 'node:net'],
  [
    'worker-thread messaging (MessagePort)',
    (f) => /internal\/worker|internal\/per_context\/messageport/.test(f.url),
  ],
  [
    'timers, immediates, microtasks',
    (f) => /internal\/timers|internal\/process\/task_queues|^node:timers/.test(f.url),
  ],
  ['events (EventEmitter)', (f) => f.url === 'node:events' || f.url.includes('internal/events')],
  ['logging', (f) => /\/lib\/log\.js$/.test(f.url) || /tty|internal\/fs\/|node:fs/.test(f.url)],
  ['project: framing and protocol', (f) => /\/lib\/(framing|protocol)\.js$/.test(f.url)],
  ['project: sensor model', (f) => /\/lib\/sensors\//.test(f.url)],
  ['project: machines', (f) => /\/machines\//.test(f.url)],
  [
    'project: statechart runtime and protocol session',
    (f) => /\/lib\/(statechart\/|session\.js$)/.test(f.url),
  ],
  ['project: actors', (f) => /\/actors\//.test(f.url)],
  ['project: other', (f) => /\/dist\//.test(f.url)],
  ['other node internals', (f) => f.url.startsWith('node:')],
  ['other native (builtins, bindings)', (f) => f.url === ''],
  ['other', () => true],
];

export function isIdle(category: string): boolean {
  return category.startsWith('idle');
}

export function categoryOf(frame: CallFrame): string {
  for (const [name, matches] of CATEGORIES) if (matches(frame)) return name;
  return 'other';
}

export interface FunctionTime {
  readonly name: string;
  readonly where: string;
  readonly category: string;
  readonly selfMs: number;
}

export interface ProfileSummary {
  /** Sampled time in the window, ms, idle included. */
  readonly totalMs: number;
  readonly idleMs: number;
  /** Self time by category, ms, most first. */
  readonly categories: readonly { readonly category: string; readonly selfMs: number }[];
  /** Self time by function, ms, most first. */
  readonly functions: readonly FunctionTime[];
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url;
}

/** Self time per function and per category over samples from `fromMs` to `toMs` after the start. */
export function summarise(profile: CpuProfile, fromMs = 0, toMs = Infinity): ProfileSummary {
  const frames = new Map<number, CallFrame>();
  for (const node of profile.nodes) frames.set(node.id, node.callFrame);
  const byFunction = new Map<string, { frame: CallFrame; us: number }>();
  let elapsedUs = 0;
  let totalUs = 0;
  // timeDeltas[i] is the time from sample i−1 to sample i; charge it to sample i, as DevTools does.
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    elapsedUs += delta;
    if (elapsedUs < fromMs * 1000 || elapsedUs > toMs * 1000) continue;
    const frame = frames.get(profile.samples[i] as number);
    if (!frame) continue;
    const key = `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}`;
    const entry = byFunction.get(key) ?? { frame, us: 0 };
    entry.us += delta;
    byFunction.set(key, entry);
    totalUs += delta;
  }
  const functions: FunctionTime[] = [...byFunction.values()]
    .map(({ frame, us }) => ({
      name: frame.functionName || '(anonymous)',
      where: frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '',
      category: categoryOf(frame),
      selfMs: us / 1000,
    }))
    .sort((a, b) => b.selfMs - a.selfMs);
  const byCategory = new Map<string, number>();
  for (const f of functions)
    byCategory.set(f.category, (byCategory.get(f.category) ?? 0) + f.selfMs);
  return {
    totalMs: totalUs / 1000,
    idleMs: [...byCategory.entries()]
      .filter(([category]) => isIdle(category))
      .reduce((sum, [, ms]) => sum + ms, 0),
    categories: [...byCategory.entries()]
      .map(([category, selfMs]) => ({ category, selfMs }))
      .sort((a, b) => b.selfMs - a.selfMs),
    functions,
  };
}

/** Busy share (not idle) of each second of the profile. */
export function timeline(profile: CpuProfile): number[] {
  const frames = new Map<number, CallFrame>();
  for (const node of profile.nodes) frames.set(node.id, node.callFrame);
  const busy: number[] = [];
  const total: number[] = [];
  let elapsedUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    elapsedUs += delta;
    const second = Math.floor(elapsedUs / 1e6);
    total[second] = (total[second] ?? 0) + delta;
    const frame = frames.get(profile.samples[i] as number);
    if (frame && !isIdle(categoryOf(frame))) {
      busy[second] = (busy[second] ?? 0) + delta;
    }
  }
  return Array.from(total, (t, s) => (t ? (busy[s] ?? 0) / t : 0));
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : '–';
}

export function formatSummary(summary: ProfileSummary, top: number): string {
  const busy = summary.totalMs - summary.idleMs;
  const lines = [
    `sampled ${summary.totalMs.toFixed(0)} ms, idle ${percent(summary.idleMs, summary.totalMs)}; ` +
      `busy ${busy.toFixed(0)} ms = 100 % below`,
    '',
    '| category | self ms | % of busy |',
    '| --- | ---: | ---: |',
  ];
  for (const { category, selfMs } of summary.categories) {
    if (isIdle(category)) continue;
    lines.push(`| ${category} | ${selfMs.toFixed(0)} | ${percent(selfMs, busy)} |`);
  }
  lines.push(
    '',
    '| function | where | category | self ms | % of busy |',
    '| --- | --- | --- | ---: | ---: |',
  );
  for (const f of summary.functions.filter((f) => !isIdle(f.category)).slice(0, top)) {
    lines.push(
      `| ${f.name} | ${f.where} | ${f.category} | ${f.selfMs.toFixed(0)} | ${percent(f.selfMs, busy)} |`,
    );
  }
  return lines.join('\n');
}

const OPTIONS = Object.freeze({
  fromMs: {
    kind: 'integer',
    flag: 'from-ms',
    min: 0,
    max: 86_400_000,
    default: 0,
    description: 'ignore samples before this, ms after the profile starts',
  },
  toMs: {
    kind: 'integer',
    flag: 'to-ms',
    min: 0,
    max: 86_400_000,
    default: 86_400_000,
    description: 'ignore samples after this, ms after the profile starts',
  },
  top: {
    kind: 'integer',
    flag: 'top',
    min: 1,
    max: 1000,
    default: 25,
    description: 'functions listed',
  },
  timeline: {
    kind: 'boolean',
    flag: 'timeline',
    default: false,
    description: 'print the busy share of each second instead',
  },
} as const satisfies OptionTable);

function main(argv: readonly string[]): number {
  const files = argv.filter((arg) => arg.endsWith('.cpuprofile'));
  const flags = argv.filter((arg) => !arg.endsWith('.cpuprofile'));
  const resolution = resolveOptions(OPTIONS, flags, {});
  if (resolution.help || files.length === 0) {
    process.stdout.write(
      'Usage: node dist/bench/profileSummary.js FILE.cpuprofile [--from-ms N] [--to-ms N] [--top N] [--timeline]\n',
    );
    return resolution.help ? 0 : 2;
  }
  const { options } = resolution;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    process.stdout.write(`## ${file}\n\n`);
    if (options.timeline) {
      const shares = timeline(profile).map((share, s) => `${s}s ${(share * 100).toFixed(0)}%`);
      process.stdout.write(`busy per second: ${shares.join(', ')}\n\n`);
      continue;
    }
    const summary = summarise(profile, options.fromMs, options.toMs);
    process.stdout.write(`${formatSummary(summary, options.top)}\n\n`);
  }
  return 0;
}

// The spec imports this module for its functions; only `node …/profileSummary.js` runs it.
if (isEntryPoint(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`meteo-profile: ${describeError(err)}\n`);
    process.exitCode = 1;
  }
}
