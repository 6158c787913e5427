/** Coded errors in specs: what a piece of work throws, by its code (never its message). */
import { expect } from 'chai';
import { MeteoError } from '../../lib/errors.js';

/** The MeteoError `work` throws; fails the spec when it throws none, or something else. */
export function thrown(work: () => unknown): MeteoError {
  try {
    work();
  } catch (err) {
    expect(err).to.be.instanceOf(MeteoError);
    return err as MeteoError;
  }
  return expect.fail('expected a MeteoError');
}
