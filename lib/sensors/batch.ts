/**
 * A batch of sensor reads, as one pool task carries it (actors/sensorPool.ts):
 * typed arrays in and out, so a task crosses between threads as a few
 * buffers rather than as an object per read. Pure.
 */
import { MeteoError } from '../errors.js';
import { READINGS, type Reading } from '../protocol.js';
import type { Observation } from './model.js';
import type { SensorResult } from './result.js';

/** One read: which reading, at which of the server's stations (its index in the welcome's list). */
export interface SensorRead {
  readonly reading: Reading;
  readonly station: number;
}

export interface SensorTask {
  /** Index in READINGS of each read. */
  readonly readings: Uint8Array;
  /** Index of each read's station among the sources the worker serves. */
  readonly stations: Uint8Array;
  /** When each read was asked for, ms since the epoch. */
  readonly times: Float64Array;
}

/** Status of one read in a batch. */
export const READ_OK = 0;
/** The source failed: it threw, or gave no finite value (ERR_SENSOR_FAILED). */
export const READ_FAILED = 1;
/** The source does not have this reading at this time, and said so (ERR_READING_UNAVAILABLE). */
export const READ_UNAVAILABLE = 2;

export interface SensorTaskResult {
  readonly values: Float64Array;
  readonly observedAt: Float64Array;
  readonly status: Uint8Array;
  /** For each read that did not give a value, what went wrong, by index in the batch. */
  readonly failures: Readonly<Record<number, string>>;
}

/** Anything that observes readings: the simulated station, a replay. */
export interface SensorSource {
  /**
   * The reading as of `timeMs`. A source that does not have the reading
   * then (a replay without pressure, an empty cell, a replay built to stop
   * and past its end) throws MeteoError ERR_READING_UNAVAILABLE: it never
   * makes a value up. Anything else it throws is a failure.
   */
  observe(reading: Reading, timeMs: number): Observation;
}

function isUnavailable(err: unknown): boolean {
  return err instanceof MeteoError && err.code === 'ERR_READING_UNAVAILABLE';
}

/**
 * Runs every read of a task; a read that throws or gives a non-finite value
 * fails alone, as READ_UNAVAILABLE when the source said it lacks the reading,
 * else as READ_FAILED.
 */
export function runSensorTask(
  sources: readonly SensorSource[],
  task: SensorTask,
): SensorTaskResult {
  const count = task.readings.length;
  const values = new Float64Array(count);
  const observedAt = new Float64Array(count);
  const status = new Uint8Array(count);
  const failures: Record<number, string> = {};
  for (let i = 0; i < count; i++) {
    try {
      const reading = READINGS[task.readings[i] as number];
      if (reading === undefined) throw new Error(`no reading has index ${task.readings[i]}`);
      const source = sources[task.stations[i] as number];
      if (source === undefined) throw new Error(`no station has index ${task.stations[i]}`);
      const observation = source.observe(reading, task.times[i] as number);
      if (!Number.isFinite(observation.value))
        throw new Error(`the model gave ${observation.value}`);
      values[i] = observation.value;
      observedAt[i] = observation.observedAt;
    } catch (err) {
      status[i] = isUnavailable(err) ? READ_UNAVAILABLE : READ_FAILED;
      failures[i] = err instanceof Error ? err.message : String(err);
    }
  }
  return { values, observedAt, status, failures };
}

/**
 * The result of read `index` of a task, as a connection answers it: a value,
 * ERR_READING_UNAVAILABLE with the source's reason, or ERR_SENSOR_FAILED.
 */
export function sensorResultAt(result: SensorTaskResult, index: number): SensorResult {
  switch (result.status[index]) {
    case READ_OK:
      return {
        value: result.values[index] as number,
        observedAt: result.observedAt[index] as number,
      };
    case READ_UNAVAILABLE:
      return {
        code: 'ERR_READING_UNAVAILABLE',
        message: result.failures[index] ?? 'the reading is unavailable',
      };
    default:
      return {
        code: 'ERR_SENSOR_FAILED',
        message: `the sensor read failed: ${result.failures[index] ?? 'no reason given'}`,
      };
  }
}
