import { toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { key, normalArray } from '../../src/core/rng.js';
import { constant } from '../../src/core/tensor.js';
import { cknna } from '../../src/metrics/cknna.js';
import { describeEachBackend } from '../helpers/backends.js';

/** Dense transcription of platonic-rep `metrics.py` (cknna + hsic_unbiased), float64. */
function denseCknna(A: Float64Array, B: Float64Array, n: number, d1: number, d2: number, topk: number): number {
  const norm = (X: Float64Array, d: number): Float64Array => {
    const Y = Float64Array.from(X);
    for (let i = 0; i < n; i++) { let s = 0; for (let c = 0; c < d; c++) s += Y[i * d + c]! ** 2; for (let c = 0; c < d; c++) Y[i * d + c]! /= Math.max(Math.sqrt(s), 1e-12); }
    return Y;
  };
  const gram = (X: Float64Array, d: number): number[][] => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => { let s = 0; for (let c = 0; c < d; c++) s += X[i * d + c]! * X[j * d + c]!; return s; }));
  const K = gram(norm(A, d1), d1), L = gram(norm(B, d2), d2);
  const topkMask = (M: number[][]): number[][] => M.map((row, i) => {
    const hat = row.map((v, j) => (j === i ? -Infinity : v));
    const order = hat.map((v, j) => [v, j] as const).sort((p, q) => q[0] - p[0] || p[1] - q[1]).slice(0, topk).map(([, j]) => j);
    return row.map((_, j) => (order.includes(j) ? 1 : 0));
  });
  const hsic = (Kt: number[][], Lt: number[][]): number => {
    const m = n;
    const k0 = Kt.map((r, i) => r.map((v, j) => (i === j ? 0 : v))), l0 = Lt.map((r, i) => r.map((v, j) => (i === j ? 0 : v)));
    let t1 = 0, sk = 0, sl = 0, t3 = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) { t1 += k0[i]![j]! * l0[j]![i]!; sk += k0[i]![j]!; sl += l0[i]![j]!; }
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) { let s = 0; for (let l = 0; l < m; l++) s += k0[i]![l]! * l0[l]![j]!; t3 += s; }
    return (t1 + (sk * sl) / ((m - 1) * (m - 2)) - (2 * t3) / (m - 2)) / (m * (m - 3));
  };
  const sim = (P: number[][], Q: number[][]): number => {
    const mp = topkMask(P), mq = topkMask(Q);
    const mask = mp.map((r, i) => r.map((v, j) => v * mq[i]![j]!));
    return hsic(P.map((r, i) => r.map((v, j) => v * mask[i]![j]!)), Q.map((r, i) => r.map((v, j) => v * mask[i]![j]!)));
  };
  return sim(K, L) / (Math.sqrt(sim(K, K) * sim(L, L)) + 1e-6);
}

const n = 48, d1 = 6, d2 = 9;
const A = normalArray(key(1), n * d1);
// B: a noisy nonlinear function of A, so the neighbourhoods partly agree
const B = Float64Array.from({ length: n * d2 }, (_, k) => { const i = Math.floor(k / d2), c = k % d2; return Math.tanh(A[i * d1 + (c % d1)]! * (1 + c / 9)) + 0.3 * normalArray(key(2 + k), 1)[0]!; });

describe('CKNNA (spec 9.1)', () => {
  it('equals a dense transcription of the reference code', async () => {
    for (const topk of [2, 5, 10]) {
      const want = denseCknna(A, B, n, d1, d2, topk);
      expect([await cknna({ data: A, shape: [n, d1] }, { data: B, shape: [n, d2] }, { topk })]).toBeAllclose([want], 1e-12);
    }
    const want = denseCknna(A, B, n, d1, d2, 10);
    expect(want).toBeGreaterThan(0.05); // related representations
  });

  it('CKNNA(A, A) = 1 (up to the 1e-6 in the denominator), invariant to rotations and row scaling', async () => {
    const big = normalArray(key(7), 300 * 32);
    expect(await cknna({ data: big, shape: [300, 32] }, { data: big, shape: [300, 32] })).toBeCloseTo(1, 3);
    const scaled = Float64Array.from(big, (v, i) => v * (1 + Math.floor(i / 32))); // row scaling: removed by the L2 normalisation
    expect(await cknna({ data: big, shape: [300, 32] }, { data: scaled, shape: [300, 32] })).toBeCloseTo(1, 3);
    const c = Math.cos(0.7), s = Math.sin(0.7);
    const rotated = Float64Array.from(big, (v, i) => (i % 32 === 0 ? c * v - s * big[i + 1]! : i % 32 === 1 ? s * big[i - 1]! + c * v : v));
    expect(await cknna({ data: big, shape: [300, 32] }, { data: rotated, shape: [300, 32] })).toBeCloseTo(1, 3);
  });

  it('CKNNA(A, noise) ≈ 0', async () => {
    const big = normalArray(key(7), 300 * 32), noise = normalArray(key(8), 300 * 48);
    expect(Math.abs(await cknna({ data: big, shape: [300, 32] }, { data: noise, shape: [300, 48] }))).toBeLessThan(0.05);
  });

  it('token features: flatten (default) or mean over tokens; argument checks', async () => {
    const tok = normalArray(key(9), n * 4 * 3);
    const mean = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) for (let t = 0; t < 4; t++) for (let c = 0; c < 3; c++) mean[i * 3 + c]! += tok[(i * 4 + t) * 3 + c]! / 4;
    expect([await cknna({ data: tok, shape: [n, 4, 3] }, { data: A, shape: [n, d1] }, { tokens: 'mean' })]).toBeAllclose([denseCknna(mean, A, n, 3, d1, 10)], 1e-12);
    expect([await cknna({ data: tok, shape: [n, 4, 3] }, { data: A, shape: [n, d1] })]).toBeAllclose([denseCknna(tok, A, n, 12, d1, 10)], 1e-12);
    await expect(cknna({ data: A, shape: [n, d1] }, { data: A.subarray(0, 10 * d1), shape: [10, d1] })).rejects.toThrow(/A has 48 rows, B has 10/);
    await expect(cknna({ data: A, shape: [n, d1] }, { data: A, shape: [n, d1] }, { topk: 1 })).rejects.toThrow(/topk must be an integer in \[2, 47\]/);
  });
});

describeEachBackend('CKNNA from tensors', () => {
  it('accepts tensors and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const ta = constant(tf.tensor(Float32Array.from(A), [n, d1])), tb = constant(tf.tensor(Float32Array.from(B), [n, d2]));
    expect([await cknna(ta, tb)]).toBeAllclose([denseCknna(Float64Array.from(Float32Array.from(A)), Float64Array.from(Float32Array.from(B)), n, d1, d2, 10)], 1e-10);
    tf.dispose([toTensor(ta), toTensor(tb)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
