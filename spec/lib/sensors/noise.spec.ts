import { expect } from 'chai';
import fc from 'fast-check';
import {
  hashSigned,
  hashString,
  hashUnit,
  NoiseTrack,
  smoothNoise,
} from '../../../lib/sensors/noise.js';

const seedArb = fc.integer({ min: 0, max: 0xffff_ffff });
const streamArb = fc.integer({ min: 1, max: 6 });
/** Indexes as the model uses them: minutes and knots since the epoch, either side of it. */
const indexArb = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });
const periodArb = fc.constantFrom(60_000, 40 * 60_000, 7 * 3_600_000, 30 * 3_600_000);

describe('lib/sensors/noise', () => {
  it('gives hashUnit in [0, 1) and hashSigned in [-1, 1) (property)', () => {
    fc.assert(
      fc.property(seedArb, streamArb, indexArb, (seed, stream, index) => {
        expect(hashUnit(seed, stream, index))
          .to.be.at.least(0)
          .and.below(1);
        expect(hashSigned(seed, stream, index))
          .to.be.at.least(-1)
          .and.below(1);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same value for the same seed, stream and index', () => {
    fc.assert(
      fc.property(seedArb, streamArb, indexArb, (seed, stream, index) => {
        expect(hashUnit(seed, stream, index)).to.equal(hashUnit(seed, stream, index));
      }),
    );
  });

  it('spreads values evenly over [0, 1)', () => {
    const buckets = new Array<number>(10).fill(0);
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const bucket = Math.floor(hashUnit(1, 1, i) * 10);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    // Each bucket expects 5,000; 4.5 standard deviations either way is about 300.
    for (const count of buckets) expect(count).to.be.within(4700, 5300);
  });

  it('tells apart indexes that differ only above 32 bits', () => {
    const low = 12_345;
    const values = [0, 1, 2, 3].map((high) => hashUnit(1, 1, high * 2 ** 32 + low));
    expect(new Set(values).size).to.equal(4);
  });

  it('gives different streams and seeds different values', () => {
    const at = (seed: number, stream: number) =>
      Array.from({ length: 16 }, (_, i) => hashUnit(seed, stream, i));
    expect(at(1, 1)).not.to.deep.equal(at(1, 2));
    expect(at(1, 1)).not.to.deep.equal(at(2, 1));
  });

  it('passes smoothNoise through its knots, one per period', () => {
    fc.assert(
      fc.property(
        seedArb,
        streamArb,
        fc.integer({ min: -1e6, max: 1e6 }),
        periodArb,
        (seed, stream, knot, period) => {
          expect(smoothNoise(seed, stream, knot * period, period)).to.be.closeTo(
            hashSigned(seed, stream, knot),
            1e-12,
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keeps smoothNoise within ±1.25, the most a Catmull-Rom spline overshoots (property)', () => {
    fc.assert(
      fc.property(
        seedArb,
        streamArb,
        fc.integer({ min: 0, max: 4e12 }),
        periodArb,
        (seed, stream, t, period) => {
          expect(Math.abs(smoothNoise(seed, stream, t, period))).to.be.at.most(1.25);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('makes smoothNoise continuous: a millisecond moves it very little, across knots too', () => {
    const period = 60 * 60_000;
    for (let knot = 0; knot < 200; knot++) {
      for (const t of [knot * period - 1, knot * period, knot * period + period / 2]) {
        const step = Math.abs(smoothNoise(5, 3, t + 1, period) - smoothNoise(5, 3, t, period));
        expect(step, `at ${t}`).to.be.below(1e-5);
      }
    }
  });

  describe('NoiseTrack', () => {
    it('gives exactly what smoothNoise gives, whatever order it is read in (property)', () => {
      fc.assert(
        fc.property(
          seedArb,
          streamArb,
          periodArb,
          fc.array(fc.integer({ min: -4e12, max: 4e12 }), { minLength: 1, maxLength: 40 }),
          (seed, stream, period, times) => {
            const track = new NoiseTrack(seed, stream, period);
            for (const t of times)
              expect(track.at(t)).to.equal(smoothNoise(seed, stream, t, period));
          },
        ),
        { numRuns: 300 },
      );
    });

    it('gives exactly what smoothNoise gives, minute after minute across many knots', () => {
      const period = 40 * 60_000;
      const track = new NoiseTrack(3, 2, period);
      for (let t = -period * 3; t < period * 50; t += 60_000) {
        expect(track.at(t), `at ${t}`).to.equal(smoothNoise(3, 2, t, period));
      }
    });
  });

  describe('hashString', () => {
    it('gives a 32-bit unsigned integer, the same for the same text and different for others', () => {
      const ids = ['seattle', 'singapore', 'seattle-2', '', 'é'];
      for (const id of ids) {
        const h = hashString(id);
        expect(Number.isInteger(h) && h >= 0 && h <= 0xffff_ffff, id).to.equal(true);
        expect(hashString(id)).to.equal(h);
      }
      expect(new Set(ids.map(hashString)).size).to.equal(ids.length);
    });
  });
});
