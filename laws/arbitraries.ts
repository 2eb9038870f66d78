/** @file Well-scaled fast-check arbitraries for tensors and parameter stores. */
import * as fc from 'fast-check';

/**
 * Numbers on a coarse grid in `[-scale, scale]` (`i/10·scale/2` for integer i): well-scaled on purpose.
 * `fc.float()` biases towards tiny magnitudes, which lets a broken loss pass a gradient law
 * because every gradient falls under the tolerance (DESIGN §9.7).
 * @category laws
 */
export const wellScaled = (scale = 2): fc.Arbitrary<number> => fc.integer({ min: -20, max: 20 }).map((i) => (i / 20) * scale);

/** A flat array of `n` well-scaled numbers with at least one entry of magnitude ≥ 0.1·scale. @category laws */
export const wellScaledArray = (n: number, scale = 2): fc.Arbitrary<number[]> =>
  fc.array(wellScaled(scale), { minLength: n, maxLength: n }).filter((a) => a.some((x) => Math.abs(x) >= 0.1 * scale));

/** Shape-typed data for one tensor: `{ shape, data }`. @category laws */
export interface TensorData {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

/** An arbitrary tensor of exactly `shape`. @category laws */
export const tensorData = (shape: readonly number[], scale = 2): fc.Arbitrary<TensorData> =>
  wellScaledArray(shape.reduce((a, b) => a * b, 1), scale).map((data) => ({ shape, data }));

/** A record of tensors with the given shapes (e.g. a parameter group). @category laws */
export const tensorRecord = <K extends string>(shapes: Readonly<Record<K, readonly number[]>>, scale = 2): fc.Arbitrary<Record<K, TensorData>> =>
  fc.record(Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tensorData(s as number[], scale)]))) as unknown as fc.Arbitrary<
    Record<K, TensorData>
  >;
