import type { ErrorCode } from '../errors.js';
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
