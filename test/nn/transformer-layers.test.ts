import { constant, toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { key } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { attention, initAttention, type AttentionParams } from '../../src/nn/attention.js';
import { layerNorm, layerNormAffine } from '../../src/nn/layer-norm.js';
import { initLinear, linear } from '../../src/nn/linear.js';
import { initMlp, mlp } from '../../src/nn/mlp.js';
import { describeEachBackend } from '../helpers/backends.js';

const r = (shape: number[], seed: number, s = 1): T<never> => constant(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), s));

/** Reference LayerNorm over the last axis with raw tfjs ops. */
const refLn = (x: tf.Tensor, eps: number): tf.Tensor => {
  const m = tf.moments(x, -1, true);
  return tf.div(tf.sub(x, m.mean), tf.sqrt(tf.add(m.variance, eps)));
};

describeEachBackend('transformer layers', () => {
  it('linear = x Wᵀ + b; Xavier bound; zero init', async () => {
    const p = initLinear(key(0), 6, 5);
    const bound = Math.sqrt(6 / 11);
    expect(Math.max(...Array.from(await p.w.data()).map(Math.abs))).toBeLessThanOrEqual(bound);
    const b = r([5], 1);
    const x = r([2, 3, 6], 2);
    const y = linear({ w: p.w, b }, x);
    const ref = tf.add(tf.matMul(tf.reshape(toTensor(x), [6, 6]), tf.transpose(toTensor(p.w))), toTensor(b));
    expect(await y.data()).toBeAllclose(await ref.data(), 1e-6);
    const z = initLinear(key(1), 4, 3, 'zeros');
    expect(Array.from(await z.w.data()).every((v) => v === 0)).toBe(true);
    dispose([p, b, x, y, ref, z]);
  });

  it('layer norms match the definition (biased variance, eps inside the root)', async () => {
    const x = r([2, 3, 8], 3, 3);
    const w = r([8], 4), b = r([8], 5);
    const y = layerNorm(x, 1e-6), ya = layerNormAffine({ w, b }, x, 1e-5);
    const ref = refLn(toTensor(x), 1e-6), refa = tf.add(tf.mul(refLn(toTensor(x), 1e-5), toTensor(w)), toTensor(b));
    expect(await y.data()).toBeAllclose(await ref.data(), 1e-5);
    expect(await ya.data()).toBeAllclose(await refa.data(), 1e-5);
    dispose([x, w, b, y, ya, ref, refa]);
  });

  it('attention (with and without qk-norm) matches a per-head reference; the MLP uses tanh-GELU', async () => {
    const n = 2, t = 5, d = 12, heads = 3, hd = d / heads;
    for (const qkNorm of [false, true]) {
      const p0 = initAttention(key(7), { dim: d, numHeads: heads, qkNorm });
      const p: AttentionParams<never> = {
        qkv: { w: p0.qkv.w, b: r([3 * d], 8) },
        proj: { w: p0.proj.w, b: r([d], 9) },
        ...(qkNorm ? { qNorm: { w: r([hd], 10), b: r([hd], 11) }, kNorm: { w: r([hd], 12), b: r([hd], 13) } } : {}),
      };
      const x = r([n, t, d], 14);
      const before = tf.memory().numTensors;
      const y = attention(p, x, heads);
      expect(tf.memory().numTensors - before).toBe(1);
      const ref = tf.tidy(() => {
        const qkv = tf.add(tf.matMul(tf.reshape(toTensor(x), [n * t, d]), toTensor(p.qkv.w), false, true), toTensor(p.qkv.b)); // [nt, 3d], rows [q | k | v]
        const outs: tf.Tensor[] = [];
        for (let h = 0; h < heads; h++) {
          const part = (j: number): tf.Tensor => tf.reshape(tf.slice(qkv, [0, j * d + h * hd], [n * t, hd]), [n, t, hd]);
          let q = part(0), k = part(1);
          if (p.qNorm !== undefined && p.kNorm !== undefined) {
            q = tf.add(tf.mul(refLn(q, 1e-5), toTensor(p.qNorm.w)), toTensor(p.qNorm.b));
            k = tf.add(tf.mul(refLn(k, 1e-5), toTensor(p.kNorm.w)), toTensor(p.kNorm.b));
          }
          const a = tf.softmax(tf.matMul(tf.mul(q, hd ** -0.5), k, false, true));
          outs.push(tf.matMul(a, part(2)));
        }
        return tf.add(tf.matMul(tf.reshape(tf.concat(outs, -1), [n * t, d]), toTensor(p.proj.w), false, true), toTensor(p.proj.b));
      });
      expect(await y.data()).toBeAllclose(await ref.data(), 1e-5);
      dispose([p0.qNorm, p0.kNorm, p, x, y, ref]);
      dispose(p0.qkv.b);
      dispose(p0.proj.b);
    }
    const m = initMlp(key(20), 4, 16);
    const x = r([3, 4], 21);
    const ym = mlp(m, x);
    const refm = tf.tidy(() => {
      const h = tf.matMul(toTensor(x), toTensor(m.fc1.w), false, true);
      const g = tf.mul(tf.mul(0.5, h), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(h, tf.mul(0.044715, tf.pow(h, 3)))))));
      return tf.matMul(g, toTensor(m.fc2.w), false, true);
    });
    expect(await ym.data()).toBeAllclose(await refm.data(), 1e-5);
    dispose([m, x, ym, refm]);
  });
});
