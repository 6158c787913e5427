/**
 * A latency histogram with log-linear buckets, in the manner of HdrHistogram:
 * values below 2^b are counted exactly; above that, every power-of-two range
 * is cut into 2^(b−1) equal buckets, so any recorded value is known to within
 * a relative error of 2^−(b−1) (0.8 % with the default b = 8), whatever its
 * magnitude, in a few thousand counters. Dependency-free and allocation-free
 * on `record`, so the load generator can record every request.
 */

/** Sub-bucket bits: 2^8 exact values, then 128 buckets per power of two. */
export const DEFAULT_SUB_BUCKET_BITS = 8;

/** Largest value kept; larger ones are counted at this value (2^40 ns is about 18 minutes). */
export const DEFAULT_HIGHEST_VALUE = 2 ** 40;

export interface HistogramOptions {
  /** Precision: each power-of-two range is cut into 2^(bits−1) buckets. From 1 to 16. */
  readonly subBucketBits?: number;
  /** Values above this are clamped to it (and counted in `clamped`). */
  readonly highestValue?: number;
}

/** The figures a report needs, in the histogram's unit. */
export interface HistogramSummary {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
}

/**
 * Counts non-negative integer values (the load generator records
 * nanoseconds). Fractions are truncated and negative values count as 0.
 */
export class Histogram {
  readonly subBucketBits: number;
  readonly highestValue: number;
  readonly #half: number;
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;
  #clamped = 0;

  constructor(options: HistogramOptions = {}) {
    const bits = options.subBucketBits ?? DEFAULT_SUB_BUCKET_BITS;
    if (!Number.isInteger(bits) || bits < 1 || bits > 16) {
      throw new RangeError(`subBucketBits must be an integer from 1 to 16 (got ${bits})`);
    }
    const highest = options.highestValue ?? DEFAULT_HIGHEST_VALUE;
    if (!Number.isSafeInteger(highest) || highest < 1) {
      throw new RangeError(`highestValue must be a positive safe integer (got ${highest})`);
    }
    this.subBucketBits = bits;
    this.highestValue = highest;
    this.#half = 2 ** (bits - 1);
    this.#counts = new Float64Array(this.indexOf(highest) + 1);
  }

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** Values that were above `highestValue` and were counted at it. */
  get clamped(): number {
    return this.#clamped;
  }

  /** Smallest value recorded, exact (0 when empty). */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  /** Largest value recorded, exact (after clamping). */
  get max(): number {
    return this.#max;
  }

  /** Mean of the values recorded, exact (after truncation and clamping; 0 when empty). */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /** The bucket a value falls in. */
  indexOf(value: number): number {
    const full = 2 * this.#half;
    if (value < full) return value;
    // Math.log2 can land a hair off at exact powers of two; the shift fixes it up.
    let shift = Math.floor(Math.log2(value)) - this.subBucketBits + 1;
    let top = Math.floor(value / 2 ** shift);
    if (top >= full) {
      shift++;
      top = Math.floor(value / 2 ** shift);
    } else if (top < this.#half) {
      shift--;
      top = Math.floor(value / 2 ** shift);
    }
    return shift * this.#half + top;
  }

  /** Lowest value that falls in bucket `index`. */
  lowestOf(index: number): number {
    const full = 2 * this.#half;
    if (index < full) return index;
    const shift = Math.floor(index / this.#half) - 1;
    return (index - shift * this.#half) * 2 ** shift;
  }

  /** Highest value that falls in bucket `index`. */
  highestOf(index: number): number {
    const full = 2 * this.#half;
    if (index < full) return index;
    const shift = Math.floor(index / this.#half) - 1;
    return (index - shift * this.#half + 1) * 2 ** shift - 1;
  }

  /** Counts one value. */
  record(value: number): void {
    let v = value > 0 ? Math.floor(value) : 0;
    if (v > this.highestValue) {
      v = this.highestValue;
      this.#clamped++;
    }
    const index = this.indexOf(v);
    this.#counts[index] = (this.#counts[index] as number) + 1;
    this.#count++;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /** Forgets every value (the end of a warm-up). */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = 0;
    this.#clamped = 0;
  }

  /** Adds every value of `other`, which must have the same layout. */
  add(other: Histogram): void {
    if (other.subBucketBits !== this.subBucketBits || other.highestValue !== this.highestValue) {
      throw new RangeError('histograms of different layouts cannot be added');
    }
    const counts = other.#counts;
    for (let i = 0; i < counts.length; i++) {
      this.#counts[i] = (this.#counts[i] as number) + (counts[i] as number);
    }
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#clamped += other.#clamped;
    if (other.#count > 0) {
      this.#min = Math.min(this.#min, other.#min);
      this.#max = Math.max(this.#max, other.#max);
    }
  }

  /**
   * The value at quantile `q` (0 to 1): the highest value equivalent to the
   * bucket holding the ⌈q·count⌉-th smallest value, as HdrHistogram reports
   * it, kept within the exact min and max. So the true quantile lies at or
   * below it, by at most the bucket's width.
   */
  valueAt(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i] as number;
      if (seen >= rank) return Math.max(this.#min, Math.min(this.#max, this.highestOf(i)));
    }
    return this.#max;
  }

  summary(): HistogramSummary {
    return {
      count: this.#count,
      min: this.min,
      max: this.max,
      mean: this.mean,
      p50: this.valueAt(0.5),
      p90: this.valueAt(0.9),
      p99: this.valueAt(0.99),
      p999: this.valueAt(0.999),
    };
  }
}
