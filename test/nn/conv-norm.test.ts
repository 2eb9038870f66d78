import { constant, toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { numTensors } from '../../src/core/scope.js';
import { key } from '../../src/core/rng.js';
import type { T } from '../../src/core/tensor.js';
import { conv2d, DOWNSAMPLE_PAD, initConv2d, torchPadding } from '../../src/nn/conv.js';
import { groupNorm, initGroupNorm } from '../../src/nn/group-norm.js';
import { batchNormAffine, initBatchNormState } from '../../src/nn/batch-norm-affine.js';
import { describeEachBackend } from '../helpers/backends.js';

const c = (x: tf.Tensor): T<never> => constant(x);

describeEachBackend('nn: conv2d / groupNorm / batchNormAffine', () => {
  it('initConv2d: PyTorch default bounds 1/sqrt(fan_in), tfjs layout', async () => {
    const p = initConv2d(key(1), { inCh: 8, outCh: 4, kernel: 3 });
    expect(p.w.shape).toEqual([3, 3, 8, 4]);
    expect(p.b?.shape).toEqual([4]);
    const bound = 1 / Math.sqrt(72);
    const w = await p.w.data();
    expect(Math.max(...Array.from(w, Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...Array.from(w, Math.abs))).toBeGreaterThan(0.8 * bound);
    expect(initConv2d(key(1), { inCh: 8, outCh: 4, kernel: 3, bias: false }).b).toBeUndefined();
    tf.dispose([toTensor(p.w), toTensor(p.b!)]);
  });

  it('Downsample padding (0,1,0,1) + stride 2 equals F.pad then a valid conv, and leaves no tensors', async () => {
    const p = initConv2d(key(2), { inCh: 3, outCh: 5, kernel: 3 });
    const x = c(tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 7));
    const before = numTensors();
    const y = conv2d(p, x, { stride: 2, padding: DOWNSAMPLE_PAD });
    expect(numTensors()).toBe(before + 1);
    expect(y.shape).toEqual([2, 4, 4, 5]);
    const ref = tf.tidy(() => tf.add(tf.conv2d(tf.pad(toTensor(x), [[0, 0], [0, 1], [0, 1], [0, 0]]) as tf.Tensor4D, toTensor(p.w) as tf.Tensor4D, 2, 'valid'), toTensor(p.b!)));
    expect(await y.data()).toBeAllclose(await ref.data(), 1e-5);
    expect(torchPadding(1)).toEqual([[1, 1], [1, 1]]);
    expect(torchPadding([0, 1, 0, 1])).toEqual([[0, 1], [0, 1]]);
    tf.dispose([toTensor(p.w), toTensor(p.b!), toTensor(x), toTensor(y), ref]);
  });

  it('groupNorm matches a host reference (biased variance per sample and group, affine per channel)', async () => {
    const [n, h, w, ch, g] = [2, 3, 4, 8, 4];
    const xs = tf.randomNormal([n, h, w, ch], 1, 2, 'float32', 3);
    const p = { w: c(tf.linspace(0.5, 1.5, ch)), b: c(tf.linspace(-1, 1, ch)) };
    const y = groupNorm(p, c(xs), { groups: g, eps: 1e-6 });
    const x = await xs.data(), wv = await p.w.data(), bv = await p.b.data();
    const ref = new Float32Array(x.length);
    const cg = ch / g;
    for (let a = 0; a < n; a++)
      for (let gi = 0; gi < g; gi++) {
        const idx: number[] = [];
        for (let i = 0; i < h * w; i++) for (let k = 0; k < cg; k++) idx.push((a * h * w + i) * ch + gi * cg + k);
        const mu = idx.reduce((s, i) => s + x[i]!, 0) / idx.length;
        const v = idx.reduce((s, i) => s + (x[i]! - mu) ** 2, 0) / idx.length;
        for (const i of idx) ref[i] = ((x[i]! - mu) / Math.sqrt(v + 1e-6)) * wv[i % ch]! + bv[i % ch]!;
      }
    expect(await y.data()).toBeAllclose(ref, 1e-5);
    const id = initGroupNorm(8);
    expect(Array.from(await id.w.data())).toEqual(new Array(8).fill(1));
    tf.dispose([xs, toTensor(p.w), toTensor(p.b), toTensor(y), toTensor(id.w), toTensor(id.b)]);
  });

  it('batchNormAffine (train) scales the normalised batch and updates the running stats', async () => {
    const x = c(tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 1, 2]));
    const p = { w: c(tf.tensor1d([2, 3])), b: c(tf.tensor1d([1, -1])) };
    const s0 = initBatchNormState(2);
    const [y, s1] = batchNormAffine(p, s0, x, 'train');
    // channel 0: 1,3,5,7 → mean 4, biased var 5, unbiased 20/3
    const y0 = (await y.data())[0]!;
    expect(y0).toBeCloseTo(((1 - 4) / Math.sqrt(5 + 1e-5)) * 2 + 1, 5);
    expect(Array.from(await s1.runningMean.data())[0]).toBeCloseTo(0.4, 6);
    expect(Array.from(await s1.runningVar.data())[0]).toBeCloseTo(0.9 + 0.1 * (20 / 3), 5);
    expect(s1.numBatchesTracked).toBe(1);
    const ye = batchNormAffine(p, s1, x, 'eval');
    expect(ye.shape).toEqual([2, 2, 1, 2]);
    tf.dispose([toTensor(x), toTensor(p.w), toTensor(p.b), toTensor(s0.runningMean), toTensor(s0.runningVar), toTensor(y), toTensor(s1.runningMean), toTensor(s1.runningVar), toTensor(ye)]);
  });
});
