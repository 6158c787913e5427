/**
 * A sensor-pool worker thread: builds the station's sensors from the pool's
 * workerData, then runs each batch it is given (lib/sensors/batch.ts).
 * Loaded only by Piscina, from compiled JavaScript.
 */
import { workerData } from 'piscina';
import { runSensorTask, type SensorTask, type SensorTaskResult } from '../lib/sensors/batch.js';
import { SimulatedStation } from '../lib/sensors/model.js';
import type { Station } from '../lib/sensors/station.js';

export interface SensorWorkerData {
  readonly seed: number;
  readonly station: Station;
}

const { seed, station } = workerData as SensorWorkerData;
const sensors = new SimulatedStation(seed, station);

export default function readBatch(task: SensorTask): SensorTaskResult {
  return runSensorTask(sensors, task);
}
