/**
 * The sensor pool: Piscina worker threads that run the station model, fed in
 * batches. Every read asked for during one event-loop turn, by any
 * connection, goes to the workers as one task (split across the threads when
 * it is large), because a pool task costs tens of microseconds of messaging
 * whatever its size, while a read costs under one (docs/PERFORMANCE.md).
 */
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { describeError } from '../lib/errors.js';
import { READINGS, type Reading } from '../lib/protocol.js';
import { type SensorTask, type SensorTaskResult, sensorResultAt } from '../lib/sensors/batch.js';
import type { SensorResult } from '../lib/sensors/result.js';
import type { Station } from '../lib/sensors/station.js';
import type { SensorWorkerData } from './sensorWorker.js';

export interface SensorPoolOptions {
  /** Worker threads; the pool keeps exactly this many, so none is created or destroyed under load. */
  readonly threads: number;
  readonly seed: number;
  readonly station: Station;
  /** The clock reads are stamped with (tests pin it). */
  readonly now?: () => number;
  /** The compiled worker module; tests can point at one that fails on purpose. */
  readonly workerUrl?: URL;
  /** Told when a worker fails outside any task. */
  readonly onError?: (err: unknown) => void;
}

export type ReadCallback = (results: SensorResult[]) => void;

interface PendingRead {
  readonly readings: readonly Reading[];
  readonly timeMs: number;
  readonly done: ReadCallback;
}

/** Reads in one batch above which the batch is split across the threads. */
const SPLIT_THRESHOLD = 256;

const READING_INDEX: Readonly<Record<Reading, number>> = Object.fromEntries(
  READINGS.map((reading, index) => [reading, index]),
) as Record<Reading, number>;

export class SensorPool {
  readonly #piscina: Piscina<SensorTask, SensorTaskResult>;
  readonly #now: () => number;
  readonly #threads: number;
  #pending: PendingRead[] = [];
  #flushScheduled = false;
  #tasks = 0;
  #closing: Promise<void> | undefined;

  constructor(options: SensorPoolOptions) {
    this.#now = options.now ?? Date.now;
    this.#threads = options.threads;
    const workerData: SensorWorkerData = { seed: options.seed, station: options.station };
    this.#piscina = new Piscina({
      filename: (options.workerUrl ?? new URL('./sensorWorker.js', import.meta.url)).href,
      minThreads: options.threads,
      maxThreads: options.threads,
      // Piscina's defaults (idle timeout 0, threads between 1 and cores × 1.5)
      // start and stop threads under bursty load; a fixed pool never does.
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
    });
    this.#piscina.on('error', options.onError ?? (() => {}));
  }

  /** Pool tasks sent to the workers since the pool started (each carries a batch of reads). */
  get tasksRun(): number {
    return this.#tasks;
  }

  /** The worker threads now running (for metrics, and for specs that kill one on purpose). */
  get threads(): readonly Worker[] {
    return this.#piscina.threads;
  }

  /** Tasks waiting for a free thread. */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  /** Share of the threads' time spent running tasks since the pool started, 0 to 1. */
  get utilization(): number {
    return this.#piscina.utilization;
  }

  /**
   * Reads `readings` as of now and calls `done` once with one result per
   * reading, in order: a value, or a coded failure (never NaN). An empty list
   * is answered at once.
   */
  read(readings: readonly Reading[], done: ReadCallback): void {
    if (readings.length === 0) {
      done([]);
      return;
    }
    if (this.#closing) {
      done(
        readings.map(() => ({ code: 'ERR_SHUTTING_DOWN', message: 'the sensor pool is closed' })),
      );
      return;
    }
    this.#pending.push({ readings, timeMs: this.#now(), done });
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // setImmediate runs after the I/O callbacks of this turn: every read
      // that the sockets' data events asked for is in the batch by then.
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    let total = 0;
    for (const read of pending) total += read.readings.length;
    const parts = total > SPLIT_THRESHOLD ? Math.min(this.#threads, pending.length) : 1;
    const perPart = Math.ceil(pending.length / parts);
    for (let start = 0; start < pending.length; start += perPart) {
      this.#run(pending.slice(start, start + perPart));
    }
  };

  #run(reads: readonly PendingRead[]): void {
    let count = 0;
    for (const read of reads) count += read.readings.length;
    const readings = new Uint8Array(count);
    const times = new Float64Array(count);
    let i = 0;
    for (const read of reads) {
      for (const reading of read.readings) {
        readings[i] = READING_INDEX[reading];
        times[i] = read.timeMs;
        i++;
      }
    }
    this.#tasks++;
    this.#piscina.run({ readings, times }).then(
      (result) => {
        let at = 0;
        for (const read of reads) {
          const results: SensorResult[] = [];
          for (let k = 0; k < read.readings.length; k++, at++) {
            // A value, ERR_READING_UNAVAILABLE or ERR_SENSOR_FAILED, by the read's status.
            results.push(sensorResultAt(result, at));
          }
          read.done(results);
        }
      },
      (err: unknown) => {
        // The worker died with the task (an exit, a crash): every read in it
        // gets an error reply; Piscina starts a replacement thread.
        const failure: SensorResult = {
          code: 'ERR_SENSOR_FAILED',
          message: `the sensor worker failed: ${describeError(err)}`,
        };
        for (const read of reads) read.done(read.readings.map(() => failure));
      },
    );
  }

  /** Finishes the reads already asked for, then stops the threads. Later reads fail with ERR_SHUTTING_DOWN. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#flushScheduled) this.#flush();
      await this.#piscina.close();
    })();
    return this.#closing;
  }
}
