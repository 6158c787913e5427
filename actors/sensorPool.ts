/**
 * The sensor pool: Piscina worker threads that run the station model, fed in
 * batches, because a pool task costs tens of microseconds of messaging
 * whatever its size, while a read costs under one (docs/PERFORMANCE.md).
 *
 * Every read asked for during one event-loop turn, by any connection, goes to
 * the workers as one task (split across the threads when it is large). Each
 * thread has at most one task at a time: while all of them are busy, reads
 * wait, and go together as the next task when a thread is free. So the
 * batches grow with the load by themselves (as a database's group commit
 * does), and a lone read still leaves at the end of its turn.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { describeError } from '../lib/errors.js';
import { READINGS, type Reading } from '../lib/protocol.js';
import {
  type SensorRead,
  type SensorTask,
  type SensorTaskResult,
  sensorResultAt,
} from '../lib/sensors/batch.js';
import type { SensorResult } from '../lib/sensors/result.js';
import type { StationSetup } from '../lib/sensors/sources.js';
import type { SensorWorkerData } from './sensorWorker.js';

export interface SensorPoolOptions {
  /** Worker threads; the pool keeps exactly this many, so none is created or destroyed under load. */
  readonly threads: number;
  readonly seed: number;
  /** The stations served, the default first; a read names one by its index here. */
  readonly stations: readonly StationSetup[];
  /** The clock reads are stamped with (tests pin it). */
  readonly now?: () => number;
  /** The compiled worker module; tests can point at one that fails on purpose. */
  readonly workerUrl?: URL;
  /** Told when a worker fails outside any task. */
  readonly onError?: (err: unknown) => void;
  /**
   * How long a task may run before its reads fail with ERR_SENSOR_FAILED and
   * its thread is replaced (a sensor that hangs must not hold its callers,
   * or the server's shutdown, for ever). Default SENSOR_READ_TIMEOUT_MS.
   */
  readonly readTimeoutMs?: number;
}

/** The default deadline of a pool task: far beyond the milliseconds a batch takes. */
export const SENSOR_READ_TIMEOUT_MS = 5_000;

/**
 * The message a Piscina worker posts once it has loaded its module
 * (`READY` in piscina/dist/common.js). Piscina tells of the threads it
 * starts later by `workerCreate` once they have posted it, but marks those
 * it starts with the pool as ready before they are.
 */
const PISCINA_READY = '_WORKER_READY';
/** The longest close waits for a thread to load: one that takes longer is stuck, and is terminated. */
const THREAD_LOAD_WAIT_MS = 5_000;

/**
 * Resolves true when `thread` says it has loaded its module, false when it
 * exits first or `waitMs` passes. Heard from now on: a thread that said so
 * already is not heard again.
 */
function whenLoaded(thread: Worker, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (loaded: boolean): void => {
      clearTimeout(timer);
      thread.off('message', onMessage);
      thread.off('exit', onExit);
      resolve(loaded);
    };
    const onMessage = (message: unknown): void => {
      if (typeof message === 'object' && message !== null && PISCINA_READY in message) settle(true);
    };
    const onExit = (): void => settle(false);
    const timer =
      waitMs === Number.POSITIVE_INFINITY ? undefined : setTimeout(() => settle(false), waitMs);
    thread.on('message', onMessage);
    thread.once('exit', onExit);
  });
}

/**
 * The deadline of one running task, and the signal Piscina aborts it by.
 * Piscina takes as a task's `signal` an AbortSignal or "any `EventEmitter`
 * or `EventTarget` that emits `'abort'`" (its README, `run` options); an
 * EventEmitter is the cheaper by far for what Piscina does with it on every
 * task: listen once, and stop listening when the task ends. Measured on
 * node 20, doing per task what Piscina 5 does (median of 9 runs of 200,000
 * tasks, on a shared two-core machine): this class 0.17 µs, against 6 to 8
 * µs for an AbortController's signal, nearly all of that in the signal's
 * `addEventListener` and `removeEventListener` (creating the controller is
 * 0.01 µs). And one lazy timer for the pool checks every deadline, where
 * `AbortSignal.timeout()` would add a timer per task.
 */
class TaskDeadline extends EventEmitter {
  /** Set when the deadline passed, so the task's failure can say so. */
  timedOut = false;

  constructor(readonly startedAt: number) {
    super();
  }

  abort(): void {
    this.timedOut = true;
    this.emit('abort');
  }
}

export type ReadCallback = (results: SensorResult[]) => void;

interface PendingRead {
  readonly reads: readonly SensorRead[];
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
  readonly #readTimeoutMs: number;
  #pending: PendingRead[] = [];
  #flushScheduled = false;
  #tasks = 0;
  #reads = 0;
  /** Tasks sent to the threads and not yet answered: at most one per thread. */
  #inFlight = 0;
  /** The deadlines of the tasks in flight, and the timer that checks them. */
  readonly #deadlines = new Set<TaskDeadline>();
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** Told once nothing is pending or in flight (close waits for it). */
  #onIdle: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  /**
   * The threads known to have loaded their module (see #threadsLoaded), by
   * identity: Node gives a thread that has exited the id -1, so Piscina's
   * `workerDestroy` after a crash cannot say which one went.
   */
  readonly #loaded = new WeakSet<Worker>();

  constructor(options: SensorPoolOptions) {
    this.#now = options.now ?? Date.now;
    this.#threads = options.threads;
    this.#readTimeoutMs = options.readTimeoutMs ?? SENSOR_READ_TIMEOUT_MS;
    const workerData: SensorWorkerData = { seed: options.seed, stations: options.stations };
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
    // The threads started with the pool say themselves when they have loaded; Piscina tells of the later ones.
    const firstThreads = new WeakSet(this.#piscina.threads);
    for (const thread of this.#piscina.threads) {
      void whenLoaded(thread, Number.POSITIVE_INFINITY).then((loaded) => {
        if (loaded) this.#loaded.add(thread);
      });
    }
    // Piscina names a thread here by its thread id, which a thread has while it lives.
    this.#piscina.on('workerCreate', ({ id }: { readonly id: number }) => {
      const thread = this.#piscina.threads.find((candidate) => candidate.threadId === id);
      if (thread !== undefined && !firstThreads.has(thread)) this.#loaded.add(thread);
    });
  }

  /**
   * Resolves once the pool has answered one empty task per thread (Piscina
   * hands them to the threads as they come up, so usually one each), so the
   * first client's first read does not wait for a thread to start (about
   * 100 ms here).
   */
  async ready(): Promise<void> {
    const empty: SensorTask = {
      readings: new Uint8Array(0),
      stations: new Uint8Array(0),
      times: new Float64Array(0),
    };
    await Promise.all(Array.from({ length: this.#threads }, () => this.#piscina.run(empty)));
  }

  /** Pool tasks sent to the workers since the pool started (each carries a batch of reads). */
  get tasksRun(): number {
    return this.#tasks;
  }

  /** Reads asked for since the pool started, answered or not (the live view's reads per second). */
  get readsAsked(): number {
    return this.#reads;
  }

  /** The worker threads now running (for metrics, and for specs that kill one on purpose). */
  get threads(): readonly Worker[] {
    return this.#piscina.threads;
  }

  /**
   * The threads now running that have loaded their module, so can take a
   * task (/readyz). Piscina replaces a thread that dies at once, so
   * `threads` counts its replacement while it still loads.
   */
  get loadedThreads(): number {
    let loaded = 0;
    for (const thread of this.#piscina.threads) if (this.#loaded.has(thread)) loaded++;
    return loaded;
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
   * Makes `reads` as of now and calls `done` once with one result per read,
   * in order: a value, or a coded failure (never NaN). An empty list is
   * answered at once.
   */
  read(reads: readonly SensorRead[], done: ReadCallback): void {
    if (reads.length === 0) {
      done([]);
      return;
    }
    this.#reads += reads.length;
    if (this.#closing) {
      done(reads.map(() => ({ code: 'ERR_SHUTTING_DOWN', message: 'the sensor pool is closed' })));
      return;
    }
    this.#pending.push({ reads, timeMs: this.#now(), done });
    // With every thread busy there is nothing to schedule: the next answer sends these.
    if (!this.#flushScheduled && this.#inFlight < this.#threads) {
      this.#flushScheduled = true;
      // setImmediate runs after the I/O callbacks of this turn: every read
      // that the sockets' data events asked for is in the batch by then.
      setImmediate(this.#flush);
    }
  }

  /** Sends what is pending to the free threads; with none free, a task's answer sends it. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const free = this.#threads - this.#inFlight;
    if (this.#pending.length === 0 || free <= 0) return;
    const pending = this.#pending;
    this.#pending = [];
    let total = 0;
    for (const caller of pending) total += caller.reads.length;
    const parts = total > SPLIT_THRESHOLD ? Math.min(free, pending.length) : 1;
    const perPart = Math.ceil(pending.length / parts);
    for (let start = 0; start < pending.length; start += perPart) {
      this.#run(pending.slice(start, start + perPart));
    }
  };

  #run(callers: readonly PendingRead[]): void {
    let count = 0;
    for (const caller of callers) count += caller.reads.length;
    const readings = new Uint8Array(count);
    const stations = new Uint8Array(count);
    const times = new Float64Array(count);
    let i = 0;
    for (const caller of callers) {
      for (const read of caller.reads) {
        readings[i] = READING_INDEX[read.reading];
        stations[i] = read.station;
        times[i] = caller.timeMs;
        i++;
      }
    }
    this.#tasks++;
    this.#inFlight++;
    const deadline = new TaskDeadline(performance.now());
    this.#deadlines.add(deadline);
    this.#deadlineTimer ??= this.#armDeadlines(this.#readTimeoutMs);
    this.#piscina.run({ readings, stations, times }, { signal: deadline }).then(
      // A value, ERR_READING_UNAVAILABLE or ERR_SENSOR_FAILED, by each read's status.
      (result) => this.#answer(callers, deadline, (at) => sensorResultAt(result, at)),
      (err: unknown) => {
        // The worker died with the task (an exit, a crash) or overran its
        // deadline: every read in it gets an error reply, and Piscina starts
        // a replacement thread.
        const failure: SensorResult = {
          code: 'ERR_SENSOR_FAILED',
          message: deadline.timedOut
            ? `the sensor read took longer than ${this.#readTimeoutMs} ms`
            : `the sensor worker failed: ${describeError(err)}`,
        };
        this.#answer(callers, deadline, () => failure);
      },
    );
  }

  /**
   * A task is answered: give each caller its results, in order, then let the
   * free thread take what waited meanwhile, as one task.
   */
  #answer(
    callers: readonly PendingRead[],
    deadline: TaskDeadline,
    resultAt: (at: number) => SensorResult,
  ): void {
    this.#inFlight--;
    this.#deadlines.delete(deadline);
    try {
      let at = 0;
      for (const caller of callers) {
        const results: SensorResult[] = [];
        for (let k = 0; k < caller.reads.length; k++, at++) results.push(resultAt(at));
        caller.done(results);
      }
    } finally {
      if (this.#pending.length > 0) this.#flush();
      else if (this.#inFlight === 0) this.#onIdle?.();
    }
  }

  #armDeadlines(ms: number): NodeJS.Timeout {
    const timer = setTimeout(this.#checkDeadlines, ms);
    timer.unref();
    return timer;
  }

  /**
   * Aborts the tasks past their deadline (Piscina terminates a running
   * task's thread and starts another; the task's reads fail), and sleeps
   * until the next deadline, or until a task starts when none runs.
   */
  readonly #checkDeadlines = (): void => {
    this.#deadlineTimer = undefined;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const deadline of this.#deadlines) {
      const dueAt = deadline.startedAt + this.#readTimeoutMs;
      if (now >= dueAt) deadline.abort();
      else next = Math.min(next, dueAt);
    }
    if (next !== Number.POSITIVE_INFINITY) this.#deadlineTimer = this.#armDeadlines(next - now);
  };

  /** Finishes the reads already asked for, then stops the threads. Later reads fail with ERR_SHUTTING_DOWN. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#flush();
      if (this.#pending.length > 0 || this.#inFlight > 0) {
        await new Promise<void>((resolve) => {
          this.#onIdle = resolve;
        });
      }
      clearTimeout(this.#deadlineTimer);
      await this.#threadsLoaded();
      await this.#piscina.close();
    })();
    return this.#closing;
  }

  /**
   * Resolves once no thread is still loading its module. Node 20 aborts the
   * whole process ("FATAL ERROR: v8::ToLocalChecked Empty MaybeLocal") when
   * a worker is terminated while it reads a module file, which Piscina's
   * close does to every thread: a server that closes its pool just after
   * making it (its port was taken) must not crash for it.
   */
  async #threadsLoaded(): Promise<void> {
    const loading = this.#piscina.threads.filter((thread) => !this.#loaded.has(thread));
    await Promise.all(loading.map((thread) => whenLoaded(thread, THREAD_LOAD_WAIT_MS)));
  }
}
