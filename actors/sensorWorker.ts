/**
 * A sensor-pool worker thread: builds the stations' sources from the pool's
 * workerData, then runs each batch it is given (lib/sensors/batch.ts).
 * Loaded only by Piscina, from compiled JavaScript.
 */
import { workerData } from 'piscina';
import { runSensorTask, type SensorTask, type SensorTaskResult } from '../lib/sensors/batch.js';
import { createSource, type StationSetup } from '../lib/sensors/sources.js';

export interface SensorWorkerData {
  readonly seed: number;
  /** The server's stations, in the order of the welcome's list: a read names one by its index. */
  readonly stations: readonly StationSetup[];
}

const { seed, stations } = workerData as SensorWorkerData;
const sources = stations.map((setup) => createSource(seed, setup));

export default function readBatch(task: SensorTask): SensorTaskResult {
  return runSensorTask(sources, task);
}
