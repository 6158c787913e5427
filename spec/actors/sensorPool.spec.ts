import { expect } from 'chai';
import { SensorPool, type SensorPoolOptions } from '../../actors/sensorPool.js';
import type { Reading } from '../../lib/protocol.js';
import { SimulatedStation } from '../../lib/sensors/model.js';
import type { SensorResult } from '../../lib/sensors/result.js';
import { SIMULATED } from '../../lib/sensors/sources.js';
import { DEFAULT_STATION } from '../../lib/sensors/station.js';
import {
  CRASH_AT_MS,
  FAULTY_WORKER_URL,
  LOAD_MS,
  SLOW_AT_MS,
  SLOW_FOR_MS,
  SLOW_LOADING_WORKER_URL,
} from '../fixtures/faults.js';
import { nextTurn, until } from '../helpers/wait.js';

const SEED = 11;
const PINNED_MS = Date.UTC(2026, 5, 1, 18, 45, 30);

function read(pool: SensorPool, readings: readonly Reading[]): Promise<readonly SensorResult[]> {
  return new Promise((resolve) =>
    pool.read(
      readings.map((reading) => ({ reading, station: 0 })),
      resolve,
    ),
  );
}

/** A pool of the default station, its clock pinned unless the spec moves it. */
function poolOf(options: Partial<SensorPoolOptions> & { readonly threads: number }): SensorPool {
  return new SensorPool({
    seed: SEED,
    stations: [{ station: DEFAULT_STATION, source: SIMULATED }],
    now: () => PINNED_MS,
    ...options,
  });
}

describe('actors/sensorPool', function () {
  this.timeout(10_000);
  let pool: SensorPool;

  afterEach(async () => {
    await pool.close();
  });

  it('reads on worker threads the same values the station model gives', async () => {
    pool = poolOf({ threads: 2 });
    const model = new SimulatedStation(SEED, DEFAULT_STATION);
    const readings: Reading[] = [
      'rainfall',
      'minTemperature',
      'pressure',
      'maxTemperature',
      'pressure',
    ];
    const results = await read(pool, readings);
    expect(results).to.deep.equal(readings.map((reading) => model.observe(reading, PINNED_MS)));
  });

  it('gathers the reads of one event-loop turn, from every caller, into one pool task', async () => {
    pool = poolOf({ threads: 2 });
    const callers = Array.from({ length: 40 }, (_, i) =>
      read(pool, i % 2 ? ['pressure'] : ['rainfall', 'maxTemperature']),
    );
    const results = await Promise.all(callers);
    expect(pool.tasksRun).to.equal(1);
    expect(results.map((result) => result.length)).to.deep.equal(
      callers.map((_, i) => (i % 2 ? 1 : 2)),
    );
  });

  it('splits a large batch across the threads', async () => {
    pool = poolOf({ threads: 2 });
    await Promise.all(Array.from({ length: 600 }, () => read(pool, ['pressure'])));
    expect(pool.tasksRun).to.equal(2);
  });

  it('holds reads while every thread is busy, and sends all that waited as one task when one is free', async () => {
    let now = SLOW_AT_MS;
    pool = poolOf({ threads: 1, now: () => now, workerUrl: FAULTY_WORKER_URL });
    const slow = read(pool, ['rainfall']);
    await nextTurn();
    expect(pool.tasksRun).to.equal(1);
    now = PINNED_MS;
    // Three turns of reads while the only thread is held by the slow one.
    const waiting: Promise<readonly SensorResult[]>[] = [];
    for (let turn = 0; turn < 3; turn++) {
      waiting.push(read(pool, ['maxTemperature']), read(pool, ['rainfall', 'minTemperature']));
      await nextTurn();
    }
    expect(pool.tasksRun).to.equal(1);
    const [first] = await slow;
    expect(first).to.have.property('value').that.is.a('number');
    const results = await Promise.all(waiting);
    expect(pool.tasksRun).to.equal(2);
    expect(results.map((result) => result.length)).to.deep.equal([1, 2, 1, 2, 1, 2]);
    for (const result of results.flat())
      expect(result).to.have.property('value').that.is.a('number');
  });

  it('on close, finishes the reads that wait for a busy thread as well as the one it runs', async () => {
    let now = SLOW_AT_MS;
    pool = poolOf({ threads: 1, now: () => now, workerUrl: FAULTY_WORKER_URL });
    const slow = read(pool, ['rainfall']);
    await nextTurn();
    now = PINNED_MS;
    const waiting = read(pool, ['maxTemperature']);
    await pool.close();
    for (const result of [...(await slow), ...(await waiting)]) {
      expect(result).to.have.property('value').that.is.a('number');
    }
    expect(pool.tasksRun).to.equal(2);
  });

  it('fails the reads of a task past its deadline with ERR_SENSOR_FAILED, and serves later reads from a new thread', async () => {
    let now = SLOW_AT_MS;
    pool = poolOf({ threads: 1, now: () => now, workerUrl: FAULTY_WORKER_URL, readTimeoutMs: 150 });
    const [late] = await read(pool, ['rainfall']);
    expect(late).to.deep.equal({
      code: 'ERR_SENSOR_FAILED',
      message: 'the sensor read took longer than 150 ms',
    });
    // The held thread was terminated; once its replacement is up, reads are served again.
    await pool.ready();
    now = PINNED_MS;
    const [after] = await read(pool, ['rainfall']);
    expect(after).to.have.property('value').that.is.a('number');
  });

  it('aborts a task at its deadline: Piscina stops the thread that runs it', async () => {
    pool = poolOf({
      threads: 1,
      now: () => SLOW_AT_MS,
      workerUrl: FAULTY_WORKER_URL,
      readTimeoutMs: 100,
    });
    await pool.ready();
    const [held] = pool.threads;
    if (held === undefined) throw new Error('the pool has no thread');
    let stopped = false;
    held.once('exit', () => {
      stopped = true;
    });
    const [late] = await read(pool, ['rainfall']);
    expect(late).to.have.property('code', 'ERR_SENSOR_FAILED');
    // Only an abort stops the thread: a task left to run would end at SLOW_FOR_MS and keep it.
    await until(() => stopped, 'the thread of the aborted task stops', SLOW_FOR_MS * 3);
    await pool.ready();
    expect(pool.threads).to.not.include(held);
  });

  // Node 20 aborts the process when a worker is terminated while it reads a module file.
  it('on close, lets a thread still loading its module finish loading before it is stopped', async () => {
    pool = poolOf({ threads: 1, workerUrl: SLOW_LOADING_WORKER_URL });
    const [thread] = pool.threads;
    if (thread === undefined) throw new Error('the pool has no thread');
    const started = performance.now();
    await pool.close();
    const waited = performance.now() - started;
    // It heard the thread say it had loaded: it did not give up at its 5 s limit.
    expect(waited).to.be.within(LOAD_MS * 0.9, 4_000);
    expect(thread.threadId, 'the thread is stopped').to.equal(-1);
  });

  it('counts a thread as loaded only once it has loaded its module, and so its replacement after a crash', async () => {
    pool = poolOf({ threads: 1, workerUrl: SLOW_LOADING_WORKER_URL });
    expect(pool.loadedThreads, 'while the thread loads').to.equal(0);
    await until(() => pool.loadedThreads === 1, 'the thread loads', LOAD_MS * 10);
    const [thread] = pool.threads;
    if (thread === undefined) throw new Error('the pool has no thread');
    await thread.terminate();
    // Piscina has started a replacement at once; it takes LOAD_MS to load.
    expect(pool.threads).to.have.length(1).and.not.include(thread);
    expect(pool.loadedThreads, 'while the replacement loads').to.equal(0);
    await until(() => pool.loadedThreads === 1, 'the replacement loads', LOAD_MS * 10);
  });

  it('answers an empty list at once, without a task', async () => {
    pool = poolOf({ threads: 1 });
    let answered: readonly SensorResult[] | undefined;
    pool.read([], (results) => {
      answered = results;
    });
    expect(answered).to.deep.equal([]);
    expect(pool.tasksRun).to.equal(0);
  });

  it('fails a read that throws with ERR_SENSOR_FAILED, alone, and gives the rest of the batch their values', async () => {
    pool = poolOf({ threads: 1, workerUrl: FAULTY_WORKER_URL });
    const [rain, pressure] = await read(pool, ['rainfall', 'pressure']);
    expect(rain).to.have.property('value').that.is.a('number');
    expect(pressure).to.have.property('code', 'ERR_SENSOR_FAILED');
    expect(pressure).to.not.have.property('value');
  });

  it('fails every read of a worker that dies with ERR_SENSOR_FAILED, and serves later reads from a new worker', async () => {
    let now = CRASH_AT_MS;
    pool = poolOf({ threads: 1, now: () => now, workerUrl: FAULTY_WORKER_URL });
    const lost = await Promise.all([
      read(pool, ['rainfall', 'minTemperature']),
      read(pool, ['maxTemperature']),
    ]);
    expect(lost.flat().map((result) => ('code' in result ? result.code : 'value'))).to.deep.equal([
      'ERR_SENSOR_FAILED',
      'ERR_SENSOR_FAILED',
      'ERR_SENSOR_FAILED',
    ]);
    now = PINNED_MS;
    const [after] = await read(pool, ['rainfall']);
    expect(after).to.have.property('value').that.is.a('number');
  });

  it('finishes reads already asked for on close, and refuses later ones with ERR_SHUTTING_DOWN', async () => {
    pool = poolOf({ threads: 1 });
    const pending = read(pool, ['pressure']);
    await pool.close();
    expect(await pending)
      .to.have.nested.property('[0].value')
      .that.is.a('number');
    const [late] = await read(pool, ['pressure']);
    expect(late).to.have.property('code', 'ERR_SHUTTING_DOWN');
  });
});
