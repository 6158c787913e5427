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
  const f = x - i;
  const p0 = hashSigned(seed, stream, i - 1);
  const p1 = hashSigned(seed, stream, i);
  const p2 = hashSigned(seed, stream, i + 1);
  const p3 = hashSigned(seed, stream, i + 2);
  return (
    p1 + 0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)))
  );
}
