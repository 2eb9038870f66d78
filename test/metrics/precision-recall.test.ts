import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { key, normalArray } from '../../src/core/rng.js';
import { precisionRecall } from '../../src/metrics/precision-recall.js';
import { describeEachBackend } from '../helpers/backends.js';

/** Brute-force float64 reference of the ADM ManifoldEstimator (k-th neighbour radii incl. self at index 0, `<=`). */
function reference(real: Float64Array, fake: Float64Array, d: number, k: number): { precision: number; recall: number } {
  const rows = (x: Float64Array): Float64Array[] => Array.from({ length: x.length / d }, (_, i) => x.subarray(i * d, (i + 1) * d));
  const R = rows(real), F = rows(fake);
  const d2 = (u: Float64Array, v: Float64Array): number => u.reduce((s, x, i) => s + (x - v[i]!) ** 2, 0);
  const radii = (S: Float64Array[]): number[] => S.map((u) => S.map((v) => d2(u, v)).sort((p, q) => p - q)[k]!);
  const rr = radii(R), rf = radii(F);
  const precision = F.filter((f) => R.some((r, j) => d2(f, r) <= rr[j]!)).length / F.length;
  const recall = R.filter((r) => F.some((f, j) => d2(r, f) <= rf[j]!)).length / R.length;
  return { precision, recall };
}

describeEachBackend('improved precision / recall (k-NN manifolds)', () => {
  it('matches a brute-force reference, with blocks that do not divide the sets', async () => {
    const before = tf.memory().numTensors;
    const d = 5;
    const real = normalArray(key(1), 60 * d), fake = Float64Array.from(normalArray(key(2), 45 * d), (v) => 1.3 * v + 0.4);
    const want = reference(real, fake, d, 3);
    expect(want.precision).toBeGreaterThan(0.2);
    expect(want.precision).toBeLessThan(1);
    const got = await precisionRecall({ data: real, shape: [60, d] }, { data: fake, shape: [45, d] }, { rowBatch: 7, colBatch: 11 });
    expect(got).toEqual(want);
    expect(await precisionRecall({ data: real, shape: [60, d] }, { data: fake, shape: [45, d] })).toEqual(want);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('identical sets: 1 / 1; far-apart sets: 0 / 0; mode collapse: high precision, low recall', async () => {
    const d = 4, x = normalArray(key(3), 40 * d);
    expect(await precisionRecall({ data: x, shape: [40, d] }, { data: x, shape: [40, d] })).toEqual({ precision: 1, recall: 1 });
    const far = Float64Array.from(x, (v) => v + 100);
    expect(await precisionRecall({ data: x, shape: [40, d] }, { data: far, shape: [40, d] })).toEqual({ precision: 0, recall: 0 });
    // real: two clusters; fake: samples of only the first one
    const two = Float64Array.from(normalArray(key(4), 80 * d), (v, i) => v * 0.1 + (i < 40 * d ? 0 : 10));
    const one = Float64Array.from(normalArray(key(5), 40 * d), (v) => v * 0.1);
    const pr = await precisionRecall({ data: two, shape: [80, d] }, { data: one, shape: [40, d] });
    expect(pr.precision).toBeGreaterThan(0.8);
    expect(pr.recall).toBeLessThanOrEqual(0.5);
    await expect(precisionRecall({ data: x, shape: [40, d] }, { data: x.subarray(0, 3 * d), shape: [3, d] })).rejects.toThrow(/need more than k = 3 rows, got 3/);
    await expect(precisionRecall({ data: x, shape: [40, d] }, { data: x, shape: [20, 2 * d] })).rejects.toThrow(/real features are 4-d, fake 8-d/);
  });
});
