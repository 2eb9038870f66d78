import { toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { key, normalArray } from '../../src/core/rng.js';
import { constant } from '../../src/core/tensor.js';
import { fid, frechetDistance, gaussianStats, statsAccumulator, traceSqrtProduct, type GaussianStats } from '../../src/metrics/fid.js';
import { describeEachBackend } from '../helpers/backends.js';

const d = 64;
// The same data as the NumPy/SciPy cross-check (pytorch-fid's calculate_frechet_distance with
// scipy.linalg.sqrtm): a = N(0, I), b scaled and shifted, s1/s2 with fewer rows than dims (singular).
const a = normalArray(key(1), 200 * d);
const b = Float64Array.from(normalArray(key(2), 200 * d), (v, i) => v * (1 + (i % d) / d) + 0.1 * Math.sin(i));
const s1 = normalArray(key(3), 30 * d);
const s2 = Float64Array.from(normalArray(key(4), 40 * d), (v) => v * 0.5 + 0.2);

const stats = (mu: number[], sigma: number[]): GaussianStats => ({ dim: mu.length, count: 2, mu: Float64Array.from(mu), sigma: Float64Array.from(sigma) });

describe('Fréchet distance', () => {
  it('matches the closed form for two 2-D Gaussians with non-commuting covariances', () => {
    // tr √(Σ1Σ2) = √(tr(Σ1Σ2) + 2√det(Σ1Σ2)) for 2×2: tr = 8, det = 9 → √14
    const A = stats([0, 1], [2, 1, 1, 2]), B = stats([1, -1], [1, 0, 0, 3]);
    expect(traceSqrtProduct(A.sigma, B.sigma, 2)).toBeCloseTo(Math.sqrt(14), 13);
    expect(frechetDistance(A, B)).toBeCloseTo(13 - 2 * Math.sqrt(14), 12);
    expect(frechetDistance(B, A)).toBeCloseTo(13 - 2 * Math.sqrt(14), 12);
  });

  it('diagonal covariances: ‖μ1 − μ2‖² + Σ (√a − √b)²', () => {
    const va = [1, 4, 9, 0.25, 0], vb = [4, 4, 1, 1, 2];
    const diag = (v: number[]): number[] => v.flatMap((x, i) => v.map((_, j) => (i === j ? x : 0)));
    const want = 3 * 3 + va.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(vb[i]!)) ** 2, 0);
    for (const method of ['jacobi', 'ql'] as const)
      expect(frechetDistance(stats([3, 0, 0, 0, 0], diag(va)), stats([0, 0, 0, 0, 0], diag(vb)), { method })).toBeCloseTo(want, 12);
  });

  it('matches pytorch-fid (NumPy/SciPy) on feature sets, full-rank and singular', async () => {
    expect([await fid({ data: a, shape: [200, d] }, { data: b, shape: [200, d] })]).toBeAllclose([37.19373170299846], 1e-12);
    expect([await fid({ data: a, shape: [200, d] }, { data: b, shape: [200, d] }, { method: 'ql' })]).toBeAllclose([37.19373170299846], 1e-12);
    // 30 and 40 rows of 64-d features: rank-deficient covariances. SciPy's sqrtm gives 47.44319212,
    // an eigh-based evaluation 47.44319251; the clipped near-zero eigenvalues differ at ~1e-7.
    expect([await fid({ data: s1, shape: [30, d] }, { data: s2, shape: [40, d] })]).toBeAllclose([47.443192513467544], 1e-8);
  });

  it('identical sets give ~0 (also singular ones), and precomputed stats can be mixed in', async () => {
    const sa = await gaussianStats({ data: a, shape: [200, d] });
    expect(Math.abs(frechetDistance(sa, sa))).toBeLessThan(1e-10);
    const ss = await gaussianStats({ data: s1, shape: [30, d] });
    expect(Math.abs(frechetDistance(ss, ss))).toBeLessThan(1e-6);
    expect([await fid(sa, { data: b, shape: [200, d] })]).toBeAllclose([37.19373170299846], 1e-12);
  });

  it('large dimensions use Householder + QL and agree with Jacobi', () => {
    const n = 300, k = 260;
    const x = normalArray(key(9), n * k), y = Float64Array.from(normalArray(key(10), n * k), (v) => 1.3 * v + 0.05);
    const acc = statsAccumulator(k), acc2 = statsAccumulator(k);
    acc.addRows(x, n);
    acc2.addRows(y, n);
    const [sx, sy] = [acc.stats(), acc2.stats()];
    const ql = frechetDistance(sx, sy); // auto → QL above n = 256
    expect([frechetDistance(sx, sy, { method: 'jacobi' })]).toBeAllclose([ql], 1e-9);
  });
});

describe('Gaussian statistics', () => {
  it('equal np.mean / np.cov (ddof 1), also when streamed in uneven batches around a large offset', async () => {
    const n = 150, k = 7;
    const x = Float64Array.from(normalArray(key(5), n * k), (v, i) => 1e4 + v * (1 + (i % k)));
    const mu = new Float64Array(k), cov = new Float64Array(k * k);
    for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) mu[i]! += x[r * k + i]! / n;
    for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) cov[i * k + j]! += ((x[r * k + i]! - mu[i]!) * (x[r * k + j]! - mu[j]!)) / (n - 1);
    const acc = statsAccumulator(k);
    for (const [r0, r1] of [[0, 1], [1, 70], [70, 70], [70, 150]] as const) acc.addRows(x.subarray(r0 * k, r1 * k), r1 - r0);
    const s = acc.stats();
    expect(s.count).toBe(n);
    expect(s.mu).toBeAllclose(mu, 1e-14);
    expect(s.sigma).toBeAllclose(cov, 1e-12);
    expect(() => statsAccumulator(3).stats()).toThrow(/at least 2 feature rows, got 0/);
    expect(() => acc.addRows([1, 2], 1)).toThrow(/2 values for 1 rows of 7/);
  });
});

describeEachBackend('FID from tensors', () => {
  it('reads tensors of any shape [n, ...] without leaking', async () => {
    const before = tf.memory().numTensors;
    const ta = constant(tf.tensor(Float32Array.from(a), [200, 8, 8])), tb = constant(tf.tensor(Float32Array.from(b), [200, d]));
    const v = await fid(ta, tb);
    expect([v]).toBeAllclose([37.19373170299846], 1e-5); // float32 inputs
    const acc = statsAccumulator(d);
    await acc.add(ta);
    const z = constant(tf.zeros([2, 3]));
    await expect(acc.add(z)).rejects.toThrow(/rows of 3 values, the accumulator holds 64-d features/);
    tf.dispose([toTensor(ta), toTensor(tb), toTensor(z)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
