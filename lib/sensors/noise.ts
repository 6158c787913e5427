/**
 * Deterministic randomness for the station model: every value is a pure
 * function of (seed, stream, index), so two servers with the same seed agree
 * at the same instant and a test can pin any reading.
 */

/** A 32-bit avalanche mix (the finaliser of MurmurHash3). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1) for one (seed, stream, index); index may be any integer a double holds exactly. */
export function hashUnit(seed: number, stream: number, index: number): number {
  const low = index >>> 0;
  const high = Math.floor(index / 0x1_0000_0000) >>> 0;
  let h = mix32(seed ^ Math.imul(stream, 0x9e37_79b9));
  h = mix32(h ^ low);
  h = mix32(h ^ Math.imul(high + 0x632b_e5ab, 0x27d4_eb2f));
  return h / 0x1_0000_0000;
}

/** Uniform in [-1, 1). */
export function hashSigned(seed: number, stream: number, index: number): number {
  return hashUnit(seed, stream, index) * 2 - 1;
}

/** The Catmull-Rom segment between knots p1 and p2 at fraction f: the one formula both noise readers share. */
function catmullRom(p0: number, p1: number, p2: number, p3: number, f: number): number {
  return (
    p1 + 0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)))
  );
}

/**
 * Smooth value noise: random knots every `periodMs`, joined by a Catmull-Rom
 * spline so the curve and its slope are continuous. Mostly within [-1, 1]
 * (the spline can overshoot a knot by a quarter at most).
 */
export function smoothNoise(
  seed: number,
  stream: number,
  timeMs: number,
  periodMs: number,
): number {
  const x = timeMs / periodMs;
  const i = Math.floor(x);
  return catmullRom(
    hashSigned(seed, stream, i - 1),
    hashSigned(seed, stream, i),
    hashSigned(seed, stream, i + 1),
    hashSigned(seed, stream, i + 2),
    x - i,
  );
}

/**
 * One stream of smoothNoise read at times close together, as a station reads
 * its sensors minute by minute: it keeps the four knots around the last time
 * asked, so a read inside the same segment costs no hashing. It gives exactly
 * (bit for bit) what smoothNoise gives, whatever order it is asked in; the
 * knots are a cache, not state.
 */
export class NoiseTrack {
  #segment = Number.NaN;
  #p0 = 0;
  #p1 = 0;
  #p2 = 0;
  #p3 = 0;

  constructor(
    readonly seed: number,
    readonly stream: number,
    readonly periodMs: number,
  ) {}

  at(timeMs: number): number {
    const x = timeMs / this.periodMs;
    const i = Math.floor(x);
    if (i !== this.#segment) this.#load(i);
    return catmullRom(this.#p0, this.#p1, this.#p2, this.#p3, x - i);
  }

  #load(i: number): void {
    const { seed, stream } = this;
    if (i === this.#segment + 1) {
      // The next segment along, as time runs forward: one new knot.
      this.#p0 = this.#p1;
      this.#p1 = this.#p2;
      this.#p2 = this.#p3;
      this.#p3 = hashSigned(seed, stream, i + 2);
    } else {
      this.#p0 = hashSigned(seed, stream, i - 1);
      this.#p1 = hashSigned(seed, stream, i);
      this.#p2 = hashSigned(seed, stream, i + 1);
      this.#p3 = hashSigned(seed, stream, i + 2);
    }
    this.#segment = i;
  }
}

/** A 32-bit hash of a string (FNV-1a, then mixed): how a station's id salts the seed. */
export function hashString(text: string): number {
  let h = 0x811c_9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x0100_0193);
  }
  return mix32(h);
}
