/** @file Well-scaled fast-check arbitraries for tensors and parameter stores. */
import * as fc from 'fast-check';
import { identity, mul } from '../src/core/ops/index.js';
import { fold, key, normal } from '../src/core/rng.js';
import { tidy } from '../src/core/scope.js';
import { constantLeaves, rebuild, type FlatLeaf } from '../src/core/tree.js';

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

/**
 * Arbitraries for stores (or any parameter tree) shaped like an existing one, e.g. a real model's:
 * `arb` draws a seed and a scale, `build` turns a draw into a fresh tree with the template's
 * structure, shapes and non-tensor nodes, float leaves redrawn from a normal distribution (int and
 * bool leaves are copied). The caller disposes what `build` returns. Lets the routing laws run on a
 * real model (`checkNoGradOutsideWrt(repae, sitObjective, { store: s.arb, … }, { store: s.build, … })`).
 * @example
 * const s = arbStoreLike(store)
 * await checkNoGradOutsideWrt(repae, vaeObjective, { store: s.arb, batch: fc.constant(null) }, { store: s.build, batch: () => vaeBatch })
 * @category laws
 */
export function arbStoreLike<X>(template: X, scales: readonly number[] = [0.05, 0.2, 1]): {
  /** Draws a seed and a scale. */
  readonly arb: fc.Arbitrary<StoreDraw>;
  /** A fresh tree shaped like the template, from a draw (the caller disposes it). */
  readonly build: (d: StoreDraw) => X;
} {
  const flat = constantLeaves(template);
  return {
    arb: fc.record({ seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }), scale: fc.constantFrom(...scales) }),
    build: (d) => {
      const k = key(d.seed);
      const leaves = flat.map((l, i) => {
        if (l === null) return null;
        if (l.dtype !== 'float32') return identity(l);
        return tidy(() => mul(normal(fold(k, i), l.shape), d.scale));
      });
      return rebuild(template, leaves as FlatLeaf<X>[]);
    },
  };
}

/** One draw of {@link arbStoreLike}: a PRNG seed and a scale for the redrawn float leaves. @category laws */
export interface StoreDraw {
  readonly seed: number;
  readonly scale: number;
}
