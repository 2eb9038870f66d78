import { toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { abs, mean, sub } from '../../src/core/ops/index.js';
import { key, uniformArray } from '../../src/core/rng.js';
import { tidy } from '../../src/core/scope.js';
import { constant, type T } from '../../src/core/tensor.js';
import { psnr, reconstructionMetrics, ssim } from '../../src/metrics/recon.js';
import { describeEachBackend } from '../helpers/backends.js';

const shape = [2, 24, 20, 3] as const;
// The NumPy/SciPy cross-check data: x uniform in [0, 255), y = clip(x + 30·sin(0.37 i)).
const x = Float64Array.from(uniformArray(key(5), 2 * 24 * 20 * 3), (v) => v * 255);
const y = Float64Array.from(x, (v, i) => Math.min(255, Math.max(0, v + 30 * Math.sin(i * 0.37))));

describe('PSNR', () => {
  it('hand-computed cases', async () => {
    const zeros = new Float64Array(2 * 4 * 4 * 1), ones = Float64Array.from(zeros, (_, i) => (i < 16 ? 1 : 2));
    const r = await psnr({ data: zeros, shape: [2, 4, 4, 1] }, { data: ones, shape: [2, 4, 4, 1] }, { dataRange: 255 });
    expect(r.perImage[0]).toBeCloseTo(10 * Math.log10(255 * 255), 12); // MSE 1 → 48.1308 dB
    expect(r.perImage[1]).toBeCloseTo(10 * Math.log10((255 * 255) / 4), 12); // MSE 4
    expect(r.mean).toBeCloseTo((r.perImage[0]! + r.perImage[1]!) / 2, 12);
    const half = Float64Array.from({ length: 16 }, (_, i) => (i % 2 ? 0.5 : 0)); // MSE 1/8 with L = 1
    expect((await psnr({ data: new Float64Array(16), shape: [1, 4, 4, 1] }, { data: half, shape: [1, 4, 4, 1] }, { dataRange: 1 })).mean).toBeCloseTo(10 * Math.log10(8), 12);
    expect((await psnr({ data: x, shape }, { data: x, shape }, { dataRange: 255 })).mean).toBe(Infinity);
  });

  it('matches NumPy on the cross-check pair', async () => {
    expect([...(await psnr({ data: x, shape }, { data: y, shape }, { dataRange: 255 })).perImage]).toBeAllclose([21.9050540262082, 21.90088429263209], 1e-14);
  });
});

describe('SSIM', () => {
  it('SSIM(x, x) = 1', async () => {
    const r = await ssim({ data: x, shape }, { data: x, shape }, { dataRange: 255 });
    for (const v of r.perImage) expect(v).toBeCloseTo(1, 14);
  });

  it('constant images: (2ab + C1) / (a² + b² + C1)', async () => {
    const a = 100, b = 140, c1 = (0.01 * 255) ** 2;
    const r = await ssim({ data: new Float64Array(16 * 16).fill(a), shape: [1, 16, 16, 1] }, { data: new Float64Array(16 * 16).fill(b), shape: [1, 16, 16, 1] }, { dataRange: 255 });
    expect(r.mean).toBeCloseTo((2 * a * b + c1) / (a * a + b * b + c1), 11); // σ² = E[x²] − μ² cancels to ~1e-12
  });

  it('matches a NumPy/SciPy implementation of Wang et al. (Gaussian 11, σ 1.5, valid)', async () => {
    expect([...(await ssim({ data: x, shape }, { data: y, shape }, { dataRange: 255 })).perImage]).toBeAllclose([0.9604260865268822, 0.9592197136840372], 1e-14);
  });

  it('rejects images smaller than the window, and mismatched shapes', async () => {
    await expect(ssim({ data: new Float64Array(100), shape: [1, 10, 10, 1] }, { data: new Float64Array(100), shape: [1, 10, 10, 1] }, { dataRange: 1 })).rejects.toThrow(/10×10 are smaller than the 11×11 window/);
    await expect(ssim({ data: x, shape }, { data: x, shape: [2, 20, 24, 3] }, { dataRange: 1 })).rejects.toThrow(/x and y differ in shape/);
  });
});

describeEachBackend('reconstructionMetrics', () => {
  it('clamps to [-1, 1], scales to [0, 255], and calls the LPIPS hook in batches without leaking', async () => {
    const before = tf.memory().numTensors;
    const xs = Float32Array.from(x, (v) => v / 127.5 - 1), ys = Float32Array.from(y, (v) => v / 127.5 - 1);
    ys[0] = 3; // out of range: clamped to 1 (= 255) before the metrics
    const tx = constant(tf.tensor(xs, [...shape])), ty = constant(tf.tensor(ys, [...shape]));
    const calls: number[] = [];
    const lpips = (a: T<never>, b: T<never>): T<never> => {
      calls.push(a.shape[0]!);
      return tidy(() => mean(abs(sub(a, b)), [1, 2, 3]));
    };
    const m = await reconstructionMetrics(tx, ty, { lpips, lpipsBatch: 1 });
    expect(calls).toEqual([1, 1]);
    const y255 = Float64Array.from(ys, (v) => 127.5 * (Math.min(1, Math.max(-1, v)) + 1));
    const x255 = Float64Array.from(xs, (v) => 127.5 * (v + 1));
    expect([...m.psnr.perImage]).toBeAllclose([...(await psnr({ data: x255, shape }, { data: y255, shape }, { dataRange: 255 })).perImage], 1e-12);
    expect([...m.ssim.perImage]).toBeAllclose([...(await ssim({ data: x255, shape }, { data: y255, shape }, { dataRange: 255 })).perImage], 1e-12);
    const half = x255.length / 2;
    const mad = (i: number): number => { let s = 0; for (let j = i * half; j < (i + 1) * half; j++) s += Math.abs(x255[j]! - y255[j]!) / 127.5; return s / half; };
    expect([...m.lpips!.perImage]).toBeAllclose([mad(0), mad(1)], 1e-5);
    expect((await reconstructionMetrics(tx, ty)).lpips).toBeUndefined();
    tf.dispose([toTensor(tx), toTensor(ty)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
