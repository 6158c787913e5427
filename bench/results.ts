/**
 * What the load generator (bench/loadgen.ts) reports, one JSON object per
 * run, and what the runner (bench/run.ts) reads back.
 */
import type { HistogramSummary } from './histogram.js';
import type { LivePageFigures } from './livePage.js';

/** Everything that went wrong, by kind. A sound run has all of them at zero. */
export interface ErrorCounts {
  /** `error` replies, by code. */
  readonly errorReplies: Record<string, number>;
  /** Replies whose id was not that of the oldest request in flight. */
  wrongId: number;
  /** Replies of a type other than `reading` (a stray welcome, an unknown type). */
  unexpectedType: number;
  /** Frames that were not a well-formed MessagePack map, or a broken stream. */
  malformed: number;
  /** Connections that could not be opened or were not welcomed, by cause. */
  readonly openFailures: Record<string, number>;
  /** Connections the server closed (or that broke) while requests were running. */
  connectionsLost: number;
  /** Requests never answered: in flight on a lost connection, or at the drain deadline. */
  unanswered: number;
  /** A few of the above, described. */
  readonly samples: string[];
}

export function newErrorCounts(): ErrorCounts {
  return {
    errorReplies: {},
    wrongId: 0,
    unexpectedType: 0,
    malformed: 0,
    openFailures: {},
    connectionsLost: 0,
    unanswered: 0,
    samples: [],
  };
}

export function totalErrors(errors: ErrorCounts): number {
  const sum = (counts: Record<string, number>): number =>
    Object.values(counts).reduce((a, b) => a + b, 0);
  return (
    sum(errors.errorReplies) +
    sum(errors.openFailures) +
    errors.wrongId +
    errors.unexpectedType +
    errors.malformed +
    errors.connectionsLost +
    errors.unanswered
  );
}

/** What a throughput run prints. */
export interface ThroughputResult {
  readonly mode: 'throughput';
  readonly connections: number;
  readonly depth: number;
  readonly windowMs: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly latencyUs: HistogramSummary;
  /** Server CPU time (user + system, all threads) per request, µs. */
  readonly serverCpuUsPerRequest: number;
  /** The part of it spent on the server's main thread (its event loop). */
  readonly serverMainThreadCpuUsPerRequest: number;
  /** Server CPU time over the window per second of window: cores busy. */
  readonly serverCpuCores: number;
  /** Server RSS at the end of the window, bytes. */
  readonly serverRssBytes: number;
  /** This process's CPU over the window per second of window. */
  readonly loadgenCpuCores: number;
  /** Everything else the machine ran over the window, per second of window: the noise. */
  readonly otherCpuCores: number;
  /** What the stand-in live page received, when one was attached (a `+page` configuration). */
  readonly page?: LivePageFigures;
  readonly errors: ErrorCounts;
  readonly errorTotal: number;
}

/** One block of connections opened in the connections mode. */
export interface OpenBlock {
  /** Connections welcomed before the block, and at its end. */
  readonly from: number;
  readonly to: number;
  /** Wall time per connection over the block, µs. */
  readonly wallUsPerConnection: number;
  /** Server CPU time per connection over the block, µs (coarse: /proc counts in ticks). */
  readonly serverCpuUsPerConnection: number;
}

/** What a connections run prints. */
export interface ConnectionsResult {
  readonly mode: 'connections';
  readonly connections: number;
  /** Opened, polled and closed before the measured opening (C/10). */
  readonly warmupConnections: number;
  readonly opened: number;
  /** From the first connect to the last welcome, ms. */
  readonly openMs: number;
  readonly handshakeUs: HistogramSummary;
  readonly blocks: readonly OpenBlock[];
  readonly serverRssBeforeBytes: number;
  readonly serverRssAfterOpenBytes: number;
  readonly serverRssAfterPollBytes: number;
  /** (RSS after opening − RSS before) / connections opened. */
  readonly rssBytesPerConnection: number;
  /** From the first poll request to the last reply, ms. */
  readonly pollMs: number;
  /** Time for each connection's four replies, from its send. */
  readonly pollUs: HistogramSummary;
  readonly pollReadings: number;
  readonly pollServerCpuUsPerRequest: number;
  /** What the stand-in live page received, when one was attached (a `+page` configuration). */
  readonly page?: LivePageFigures;
  readonly errors: ErrorCounts;
  readonly errorTotal: number;
}
