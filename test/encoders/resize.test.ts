import { describe, expect, it } from 'vitest';
import { read, tensor } from '../../src/core/ops/create.js';
import { normalArray, key } from '../../src/core/rng.js';
import { numTensors } from '../../src/core/scope.js';
import { resamplePosEmbed } from '../../src/models/encoders/dinov2.js';
import { bicubicWeights, resizeBicubic, resizeHost } from '../../src/models/encoders/resize.js';
import { describeEachBackend } from '../helpers/backends.js';

const apply = (m: Float64Array, x: readonly number[]): number[] => {
  const n = x.length, o = m.length / n;
  return Array.from({ length: o }, (_, i) => x.reduce((a, v, j) => a + (m[i * n + j] as number) * v, 0));
};

describe('bicubicWeights (PyTorch interpolate, hand-computed)', () => {
  it('downsamples 4 → 2 with a = −0.75: taps (−0.09375, 0.59375, 0.59375, −0.09375), borders replicated', () => {
    // out[0]: s = 2·0.5 − 0.5 = 0.5 → taps x[-1→0], x[0], x[1], x[2]: −0.09375·1 + 0.59375·1 + 0.59375·2 − 0.09375·3
    expect(apply(bicubicWeights(4, 2), [1, 2, 3, 4])).toBeAllclose([1.40625, 3.59375], 1e-12);
  });
  it('upsamples 2 → 4 without clamping the output (undershoot at the border)', () => {
    // out[0]: s = −0.25, t = 0.75, taps at −2, −1, 0, 1 → only x[1] = 1 has weight cubic2(1.25) = −0.10546875
    expect(apply(bicubicWeights(2, 4), [0, 1])[0]).toBeCloseTo(-0.10546875, 12);
    const w = bicubicWeights(2, 4);
    for (let i = 0; i < 4; i++) expect(w.slice(2 * i, 2 * i + 2).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
  it('is the identity at equal sizes', () => {
    expect(apply(bicubicWeights(5, 5), [3, 1, 4, 1, 5])).toBeAllclose([3, 1, 4, 1, 5], 1e-12);
  });
  it('antialiased 4 → 2 (a = −0.5, support 4, renormalised) gives 3/1.890625', () => {
    // weights of out[0] before normalising: k(−0.25), k(0.25), k(0.75), k(1.25) = 0.8671875, 0.8671875, 0.2265625, −0.0703125
    const y = apply(bicubicWeights(4, 2, { antialias: true }), [1, 2, 3, 4]);
    expect(y).toBeAllclose([3 / 1.890625, 5 - 3 / 1.890625], 1e-12);
  });
  it('resamplePosEmbed keeps the CLS row and resamples the grid (4×4 → 2×2 by hand)', () => {
    const table = [-7, ...Array.from({ length: 16 }, (_, i) => i + 1)]; // D = 1, grid value 4r + c + 1
    const out = Array.from(resamplePosEmbed(table, 1, 4, 2));
    const s = 3 / 1.890625 - 1; // Σ wᵢ·i for output 0
    expect(out).toBeAllclose([-7, 5 * s + 1, 5 * s + 1 + (3 - 2 * s), 5 * s + 1 + 4 * (3 - 2 * s), 5 * (3 - s) + 1], 1e-6);
    expect(() => resamplePosEmbed(table, 2, 4, 2)).toThrow(/expected \(1 \+ 4²\)·2/);
  });
});

describeEachBackend('resizeBicubic', () => {
  it('matches the host reference on NHWC batches (down and up, non-square) and leaks nothing', async () => {
    const [n, h, w, c] = [2, 9, 7, 3];
    const data = Float32Array.from(normalArray(key(4), n * h * w * c));
    const x = tensor(data, [n, h, w, c]);
    for (const [oh, ow, aa] of [[4, 5, false], [13, 11, false], [4, 3, true]] as const) {
      const before = numTensors();
      const y = resizeBicubic(x, [oh, ow], { antialias: aa });
      expect(numTensors()).toBe(before + 1);
      expect(y.shape).toEqual([n, oh, ow, c]);
      const wy = bicubicWeights(h, oh, { antialias: aa }), wx = bicubicWeights(w, ow, { antialias: aa });
      const ref = Array.from({ length: n }, (_, b) => Array.from(resizeHost(data.subarray(b * h * w * c, (b + 1) * h * w * c), [h, w, c], wy, wx))).flat();
      expect(await read(y)).toBeAllclose(ref, 1e-5);
      y.dispose();
    }
    x.dispose();
  });
});
