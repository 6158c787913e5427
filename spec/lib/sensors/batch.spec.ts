import { expect } from 'chai';
import { MeteoError } from '../../../lib/errors.js';
import { READINGS, type Reading } from '../../../lib/protocol.js';
import {
  READ_FAILED,
  READ_OK,
  READ_UNAVAILABLE,
  runSensorTask,
  type SensorSource,
  type SensorTask,
  type SensorTaskResult,
  sensorResultAt,
} from '../../../lib/sensors/batch.js';
import { MINUTE_MS, type Observation, SimulatedStation } from '../../../lib/sensors/model.js';
import { readingUnavailable } from '../../../lib/sensors/result.js';
import { DEFAULT_STATION } from '../../../lib/sensors/station.js';

const T0 = Date.parse('2026-11-26T13:05:30Z');

/** A task asking for `readings` (by name), the i-th at T0 + i minutes. */
function task(...readings: Reading[]): SensorTask {
  return {
    readings: Uint8Array.from(readings.map((reading) => READINGS.indexOf(reading))),
    stations: new Uint8Array(readings.length),
    times: Float64Array.from(readings.map((_, i) => T0 + i * MINUTE_MS)),
  };
}

/** A source whose value encodes the reading and the time, so each result can be traced. */
function fakeSource(broken: Partial<Record<Reading, () => Observation>> = {}): SensorSource {
  return {
    observe(reading: Reading, timeMs: number): Observation {
      const fault = broken[reading];
      if (fault) return fault();
      return {
        value: READINGS.indexOf(reading) * 1000 + (timeMs - T0) / MINUTE_MS,
        observedAt: timeMs - 30_000,
      };
    },
  };
}

describe('lib/sensors/batch', () => {
  it('runs every read of a task and reports each value with its observation time', () => {
    const result = runSensorTask([fakeSource()], task('minTemperature', 'rainfall', 'pressure'));
    expect([...result.status]).to.deep.equal([READ_OK, READ_OK, READ_OK]);
    expect([...result.values]).to.deep.equal([0, 3001, 2002]);
    expect([...result.observedAt]).to.deep.equal([
      T0 - 30_000,
      T0 + MINUTE_MS - 30_000,
      T0 + 2 * MINUTE_MS - 30_000,
    ]);
    expect(result.failures).to.deep.equal({});
  });

  it('marks the reads of a throwing source as READ_FAILED alone and leaves the others', () => {
    const source = fakeSource({
      pressure: () => {
        throw new Error('barometer unplugged');
      },
    });
    const result = runSensorTask(
      [source],
      task('pressure', 'minTemperature', 'pressure', 'rainfall', 'maxTemperature'),
    );
    expect([...result.status]).to.deep.equal([READ_FAILED, READ_OK, READ_FAILED, READ_OK, READ_OK]);
    expect(result.values[1]).to.equal(1);
    expect(result.values[3]).to.equal(3003);
    expect(result.values[4]).to.equal(1004);
    expect(result.failures).to.deep.equal({ 0: 'barometer unplugged', 2: 'barometer unplugged' });
  });

  it('fails a read whose value is not finite, and only that read', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const source = fakeSource({ rainfall: () => ({ value, observedAt: T0 }) });
      const result = runSensorTask([source], task('rainfall', 'pressure'));
      expect([...result.status], String(value)).to.deep.equal([READ_FAILED, READ_OK]);
      expect(result.failures).to.have.keys('0');
    }
  });

  it('fails a read whose reading index is out of range, and only that read', () => {
    const result = runSensorTask([fakeSource()], {
      readings: Uint8Array.from([READINGS.length, 0]),
      stations: new Uint8Array(2),
      times: Float64Array.from([T0, T0]),
    });
    expect([...result.status]).to.deep.equal([READ_FAILED, READ_OK]);
    expect(result.failures).to.have.keys('0');
  });

  it('keeps the text of a thrown value that is not an Error', () => {
    const source = fakeSource({
      minTemperature: () => {
        throw 'thermometer frozen';
      },
    });
    expect(runSensorTask([source], task('minTemperature')).failures).to.deep.equal({
      0: 'thermometer frozen',
    });
  });

  it('gives empty results for an empty task', () => {
    const result = runSensorTask([fakeSource()], task());
    expect(result.values).to.have.length(0);
    expect(result.status).to.have.length(0);
    expect(result.failures).to.deep.equal({});
  });

  it('gives what the simulated station observes, read by read', () => {
    const station = new SimulatedStation(42, DEFAULT_STATION);
    const readings = [...READINGS, ...READINGS];
    const result = runSensorTask([new SimulatedStation(42, DEFAULT_STATION)], task(...readings));
    readings.forEach((reading, i) => {
      const expected = station.observe(reading, T0 + i * MINUTE_MS);
      expect(result.status[i], reading).to.equal(READ_OK);
      expect(result.values[i], reading).to.equal(expected.value);
      expect(result.observedAt[i], reading).to.equal(expected.observedAt);
    });
  });

  it('marks a read the source says it lacks as READ_UNAVAILABLE, not READ_FAILED', () => {
    const source = fakeSource({
      pressure: () => {
        throw readingUnavailable('this replay has no pressure');
      },
      rainfall: () => {
        // Another coded error is still a failure of the sensor, not a missing reading.
        throw new MeteoError('ERR_INTERNAL', 'gauge jammed');
      },
    });
    const result = runSensorTask([source], task('pressure', 'rainfall', 'minTemperature'));
    expect([...result.status]).to.deep.equal([READ_UNAVAILABLE, READ_FAILED, READ_OK]);
    expect(result.failures).to.deep.equal({ 0: 'this replay has no pressure', 1: 'gauge jammed' });
  });

  describe('sensorResultAt', () => {
    const result: SensorTaskResult = {
      values: Float64Array.from([12.5, 0, 0, 0]),
      observedAt: Float64Array.from([T0, 0, 0, 0]),
      status: Uint8Array.from([READ_OK, READ_UNAVAILABLE, READ_FAILED, READ_FAILED]),
      failures: { 1: 'this replay has no pressure', 2: 'barometer unplugged' },
    };

    it('gives a value and its observation time for a read that worked', () => {
      expect(sensorResultAt(result, 0)).to.deep.equal({ value: 12.5, observedAt: T0 });
    });

    it("gives ERR_READING_UNAVAILABLE with the source's reason for a read the source lacks", () => {
      expect(sensorResultAt(result, 1)).to.deep.equal({
        code: 'ERR_READING_UNAVAILABLE',
        message: 'this replay has no pressure',
      });
    });

    it('gives ERR_SENSOR_FAILED for a read that failed, with or without a reason', () => {
      expect(sensorResultAt(result, 2)).to.have.property('code', 'ERR_SENSOR_FAILED');
      expect(sensorResultAt(result, 2)).to.have.property('message').that.includes('barometer');
      expect(sensorResultAt(result, 3)).to.have.property('code', 'ERR_SENSOR_FAILED');
    });
  });
});
