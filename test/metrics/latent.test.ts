import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { constant } from '../../src/core/tensor.js';
import { spatialVariance, totalVariation } from '../../src/metrics/latent.js';
import { describeEachBackend } from '../helpers/backends.js';

/** NHWC latents from a function of (image, row, col, channel). */
const make = (n: number, h: number, w: number, c: number, f: (i: number, y: number, x: number, ch: number) => number) => ({
  data: Float64Array.from({ length: n * h * w * c }, (_, k) => f(Math.floor(k / (h * w * c)), Math.floor(k / (w * c)) % h, Math.floor(k / c) % w, k % c)),
  shape: [n, h, w, c] as const,
});

describe('latent spatial variance and total variation (spec 9.2)', () => {
  it('a constant map has TV 0 and SV 0', async () => {
    const z = make(2, 5, 7, 4, (_i, _y, _x, ch) => 3 + ch);
    expect((await totalVariation(z)).mean).toBe(0);
    expect((await spatialVariance(z)).mean).toBe(0);
  });

  it('hand-computed: checkerboard ±1 (TV 2 + 2, SV 1) and a ramp along x (TV 0 + 1)', async () => {
    const checker = make(1, 4, 6, 1, (_i, y, x) => ((x + y) % 2 ? 1 : -1));
    expect((await totalVariation(checker)).mean).toBe(4);
    expect((await spatialVariance(checker)).mean).toBe(1);
    const ramp = make(1, 3, 5, 1, (_i, _y, x) => x);
    expect((await totalVariation(ramp)).mean).toBe(1);
    expect((await spatialVariance(ramp)).mean).toBeCloseTo(2, 14); // var of 0..4
  });

  it('averages over channels then images, in NHWC order', async () => {
    // image 0: channel 0 checker (TV 4), channel 1 constant (0) → 2; image 1: both channels ramp along y (TV 1) → 1
    const z = make(2, 4, 4, 2, (i, y, x, ch) => (i === 0 ? (ch === 0 ? ((x + y) % 2 ? 1 : -1) : 7) : y));
    const tv = await totalVariation(z);
    expect([...tv.perImage]).toEqual([2, 1]);
    expect(tv.mean).toBe(1.5);
    const sv = await spatialVariance(z);
    expect([...sv.perImage]).toEqual([0.5, 1.25]); // (1 + 0)/2 ; var of 0..3 = 1.25
  });

  it('an axis of length 1 contributes 0, and bad shapes are named', async () => {
    expect((await totalVariation(make(1, 1, 4, 1, (_i, _y, x) => 2 * x))).mean).toBe(2);
    await expect(totalVariation({ data: [1, 2, 3], shape: [3] })).rejects.toThrow(/z: expected rank 4, got shape \[3\]/);
  });
});

describeEachBackend('latent metrics from tensors', () => {
  it('accepts tensors and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const z = make(1, 4, 6, 1, (_i, y, x) => ((x + y) % 2 ? 1 : -1));
    const t = constant(tf.tensor(Float32Array.from(z.data), [...z.shape]));
    expect((await totalVariation(t)).mean).toBe(4);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
