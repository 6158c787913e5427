/** What a sensor read gives a connection (docs/PROTOCOL.md §5, §6). Pure. */
import { type ErrorCode, MeteoError } from '../errors.js';
import type { Observation } from './model.js';

/** A read that could not give a value: the code and message of its error reply. */
export interface SensorFailure {
  readonly code: ErrorCode;
  readonly message: string;
}

/** What one sensor read gives: a value with its observation time, or a failure; never NaN. */
export type SensorResult = Observation | SensorFailure;

export function isSensorFailure(result: SensorResult): result is SensorFailure {
  return 'code' in result;
}

/**
 * What a source throws for a reading it does not have at that time (a
 * replay file without pressure, a time past the end of the replay): the
 * connection answers ERR_READING_UNAVAILABLE and stays open.
 */
export function readingUnavailable(message: string): MeteoError {
  return new MeteoError('ERR_READING_UNAVAILABLE', message);
}
