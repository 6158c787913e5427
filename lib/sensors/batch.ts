/**
 * A batch of sensor reads, as one pool task carries it (actors/sensorPool.ts):
 * typed arrays in and out, so a task crosses between threads as a few
 * buffers rather than as an object per read. Pure.
 */
import { READINGS, type Reading } from '../protocol.js';
import type { Observation } from './model.js';

export interface SensorTask {
  /** Index in READINGS of each read. */
  readonly readings: Uint8Array;
  /** When each read was asked for, ms since the epoch. */
  readonly times: Float64Array;
}

/** Status of one read in a batch. */
export const READ_OK = 0;
export const READ_FAILED = 1;

export interface SensorTaskResult {
  readonly values: Float64Array;
  readonly observedAt: Float64Array;
  readonly status: Uint8Array;
  /** For each failed read, what went wrong, by index in the batch. */
  readonly failures: Readonly<Record<number, string>>;
}

/** Anything that observes readings: the simulated station, a replay. */
export interface SensorSource {
  observe(reading: Reading, timeMs: number): Observation;
}

/** Runs every read of a task; a read that throws or gives a non-finite value fails alone. */
export function runSensorTask(source: SensorSource, task: SensorTask): SensorTaskResult {
  const count = task.readings.length;
  const values = new Float64Array(count);
  const observedAt = new Float64Array(count);
  const status = new Uint8Array(count);
  const failures: Record<number, string> = {};
  for (let i = 0; i < count; i++) {
    try {
      const reading = READINGS[task.readings[i] as number];
      if (reading === undefined) throw new Error(`no reading has index ${task.readings[i]}`);
      const observation = source.observe(reading, task.times[i] as number);
      if (!Number.isFinite(observation.value))
        throw new Error(`the model gave ${observation.value}`);
      values[i] = observation.value;
      observedAt[i] = observation.observedAt;
    } catch (err) {
      status[i] = READ_FAILED;
      failures[i] = err instanceof Error ? err.message : String(err);
    }
  }
  return { values, observedAt, status, failures };
}
