/**
 * How many reads a pool task computes in a millisecond (issue #5: "thousands
 * of readings in a millisecond"). A measurement, not a spec: timings on a
 * shared machine make poor assertions. Run it after a build:
 *
 *   node dist/bench/sensorRate.js
 *
 * It prints, for each source, the best of several runs of a task of 10,000
 * reads as a server batches them (the four readings in turn, stamped over
 * one second, on a station that has been serving since midnight), and what
 * a cold day costs: the first read of a day fills every minute up to it.
 */

import { readFileSync } from 'node:fs';
import { READINGS } from '../lib/protocol.js';
import { runSensorTask, type SensorSource, type SensorTask } from '../lib/sensors/batch.js';
import { SEATTLE_RECORD_STATION, SEATTLE_WEATHER_CSV_URL } from '../lib/sensors/datasets.js';
import { dayStartOf, SimulatedStation } from '../lib/sensors/model.js';
import { parseReplayCsv, ReplaySource } from '../lib/sensors/replay.js';
import { STATIONS, type Station } from '../lib/sensors/station.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../lib/sensors/time.js';

const READS = 10_000;
const RUNS = 30;

function serverTask(atMs: number): SensorTask {
  return {
    readings: Uint8Array.from({ length: READS }, (_, i) => i % READINGS.length),
    stations: new Uint8Array(READS),
    times: Float64Array.from({ length: READS }, (_, i) => atMs + Math.floor((i * 1000) / READS)),
  };
}

/** Best reads per millisecond over RUNS tasks, each at a fresh hour of the same day. */
function readsPerMs(source: SensorSource, dayStartMs: number): number {
  let best = 0;
  for (let run = 0; run < RUNS; run++) {
    const atMs = dayStartMs + (run % 20) * HOUR_MS + 3 * HOUR_MS;
    // The station has served since midnight: its day is filled up to now.
    for (const reading of READINGS) {
      try {
        source.observe(reading, atMs);
      } catch {
        // A replay without the reading: the task will say so too.
      }
    }
    const task = serverTask(atMs);
    const start = performance.now();
    runSensorTask([source], task);
    best = Math.max(best, READS / (performance.now() - start));
  }
  return best;
}

function coldDayMs(station: Station): number {
  let best = Number.POSITIVE_INFINITY;
  const sensors = new SimulatedStation(1, station);
  const first = dayStartOf(station, Date.UTC(2026, 0, 1, 12));
  for (let day = 0; day < 60; day++) {
    const start = performance.now();
    sensors.observe('minTemperature', first + (day + 1) * DAY_MS - MINUTE_MS);
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

const today = Date.UTC(2026, 10, 26, 12);
for (const id of ['seattle', 'singapore', 'south-pole']) {
  const station = STATIONS[id] as Station;
  const rate = readsPerMs(new SimulatedStation(1, station), dayStartOf(station, today));
  console.log(
    `simulated ${id.padEnd(10)} ${Math.round(rate).toLocaleString('en')} reads/ms warm; ` +
      `a cold day ${coldDayMs(station).toFixed(2)} ms (1,440 samples)`,
  );
}
const file = parseReplayCsv(readFileSync(SEATTLE_WEATHER_CSV_URL, 'utf8'));
const replay = new ReplaySource(file, {
  utcOffsetMinutes: SEATTLE_RECORD_STATION.utcOffsetMinutes,
  startMs: today,
  speed: 1440,
});
console.log(
  `replay    seattle    ${Math.round(readsPerMs(replay, today)).toLocaleString('en')} reads/ms (a quarter are ERR_READING_UNAVAILABLE)`,
);
