import { expect } from 'chai';
import fc from 'fast-check';
import { Histogram } from '../../bench/histogram.js';

/** The ⌈q·n⌉-th smallest value, the quantile the histogram approximates. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

describe('bench/histogram', () => {
  it('counts values below 2^bits exactly, one bucket each', () => {
    const histogram = new Histogram({ subBucketBits: 8 });
    for (let value = 0; value < 256; value++) {
      expect(histogram.indexOf(value)).to.equal(value);
      expect(histogram.lowestOf(value)).to.equal(value);
      expect(histogram.highestOf(value)).to.equal(value);
    }
  });

  it('puts every value in a bucket whose bounds hold it, with buckets in order and no gaps', () => {
    const histogram = new Histogram({ subBucketBits: 4, highestValue: 2 ** 20 });
    let previousHighest = -1;
    for (let index = 0; index <= histogram.indexOf(2 ** 20); index++) {
      expect(histogram.lowestOf(index)).to.equal(previousHighest + 1);
      previousHighest = histogram.highestOf(index);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (value) => {
        const wide = new Histogram();
        const index = wide.indexOf(value);
        return wide.lowestOf(index) <= value && value <= wide.highestOf(index);
      }),
    );
  });

  it('places exact powers of two and their neighbours in the right buckets', () => {
    const histogram = new Histogram();
    for (let power = 8; power <= 40; power++) {
      for (const value of [2 ** power - 1, 2 ** power, 2 ** power + 1]) {
        const index = histogram.indexOf(value);
        expect(histogram.lowestOf(index)).to.be.at.most(value);
        expect(histogram.highestOf(index)).to.be.at.least(value);
      }
    }
  });

  it('reports each quantile at or above the exact one, by at most the precision (1/128 with 8 bits)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000_000_000 }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(0, 0.25, 0.5, 0.9, 0.99, 0.999, 1),
        (values, q) => {
          const histogram = new Histogram();
          for (const value of values) histogram.record(value);
          const exact = exactQuantile(
            [...values].sort((a, b) => a - b),
            q,
          );
          const reported = histogram.valueAt(q);
          return reported >= exact && reported <= exact + exact / 128;
        },
      ),
    );
  });

  it('keeps count, min, max and mean exact', () => {
    const histogram = new Histogram();
    for (const value of [5, 1_000_003, 77, 123_456_789]) histogram.record(value);
    const summary = histogram.summary();
    expect(summary.count).to.equal(4);
    expect(summary.min).to.equal(5);
    expect(summary.max).to.equal(123_456_789);
    expect(summary.mean).to.equal((5 + 1_000_003 + 77 + 123_456_789) / 4);
    expect(summary.p999).to.equal(123_456_789);
  });

  it('clamps values above the highest and counts them', () => {
    const histogram = new Histogram({ highestValue: 1000 });
    histogram.record(5000);
    histogram.record(-3);
    expect(histogram.clamped).to.equal(1);
    expect(histogram.max).to.equal(1000);
    expect(histogram.min).to.equal(0);
  });

  it('forgets everything on reset, and adds another histogram of the same layout', () => {
    const a = new Histogram();
    const b = new Histogram();
    a.record(10);
    a.reset();
    expect(a.count).to.equal(0);
    expect(a.valueAt(0.5)).to.equal(0);
    a.record(100);
    b.record(300);
    b.record(200);
    a.add(b);
    expect(a.count).to.equal(3);
    expect(a.valueAt(0.5)).to.equal(200);
    expect(() => a.add(new Histogram({ subBucketBits: 4 }))).to.throw(RangeError);
  });

  it('refuses a precision out of range', () => {
    expect(() => new Histogram({ subBucketBits: 0 })).to.throw(RangeError);
    expect(() => new Histogram({ highestValue: 0 })).to.throw(RangeError);
  });
});
