/**
 * The fused ops of src/core/ops/fused.ts (groupNormNhwc, layerNormLast[Affine], silu, geluTanh)
 * against the composed tfjs formulas they replace: values and gradients w.r.t. every input on
 * every backend (on torch: the one-call ATen kernels), no leaked tensors, run-time groups = the
 * union of the inputs', and a smaller tape (peak bytes of forward + backward).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { geluTanh, groupNormNhwc, layerNormLast, layerNormLastAffine, silu } from '../../src/core/ops/fused.js';
import { depsOf, seed, withTape } from '../../src/core/internal.js';
import { fromTensor, toTensor, type T } from '../../src/core/tensor.js';
import { describeEachBackend } from '../helpers/backends.js';

const wave = (shape: number[], k: number, off = 0, scale = 1, bias = 0): tf.Tensor =>
  tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => bias + scale * Math.sin(i * k + off)), shape);
const c = (x: tf.Tensor): T<never> => fromTensor(x);

// ---- the composed references (the formulas the models used before the fusion)
const refGroupNorm = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, groups: number, eps: number): tf.Tensor => {
  const [n, h, w, ch] = x.shape as [number, number, number, number];
  const xg = tf.reshape(x, [n, h, w, groups, ch / groups]);
  const m = tf.mean(xg, [1, 2, 4], true);
  const v = tf.mean(tf.square(tf.sub(xg, m)), [1, 2, 4], true);
  return tf.add(tf.mul(tf.reshape(tf.div(tf.sub(xg, m), tf.sqrt(tf.add(v, eps))), x.shape), g), b);
};
const refLayerNorm = (x: tf.Tensor, eps: number): tf.Tensor => {
  const xc = tf.sub(x, tf.mean(x, -1, true));
  return tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps)));
};
const refSilu = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x));
const refGelu = (x: tf.Tensor): tf.Tensor =>
  tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.square(x))))))));

type Raw = (...xs: tf.Tensor[]) => tf.Tensor;
interface Case {
  readonly name: string;
  readonly inputs: () => tf.Tensor[];
  readonly fused: Raw;
  readonly ref: Raw;
}
const cases: Case[] = [
  {
    name: 'groupNormNhwc [2, 5, 3, 12], 4 groups',
    inputs: () => [wave([2, 5, 3, 12], 0.37, 0, 2, 0.5), wave([12], 0.9, 1, 0.5, 1), wave([12], 1.3, 2, 0.3)],
    fused: (x, g, b) => toTensor(groupNormNhwc(c(x as tf.Tensor), c(g as tf.Tensor), c(b as tf.Tensor), 4, 1e-6)),
    ref: (x, g, b) => refGroupNorm(x as tf.Tensor, g as tf.Tensor, b as tf.Tensor, 4, 1e-6),
  },
  {
    name: 'groupNormNhwc [1, 4, 4, 6], 6 groups (one channel each), eps 1e-5',
    inputs: () => [wave([1, 4, 4, 6], 0.61, 0.2, 1.5, -0.3), wave([6], 0.5, 0, 0.4, 1), wave([6], 0.8, 1, 0.2)],
    fused: (x, g, b) => toTensor(groupNormNhwc(c(x as tf.Tensor), c(g as tf.Tensor), c(b as tf.Tensor), 6, 1e-5)),
    ref: (x, g, b) => refGroupNorm(x as tf.Tensor, g as tf.Tensor, b as tf.Tensor, 6, 1e-5),
  },
  {
    name: 'layerNormLast [2, 7, 16]',
    inputs: () => [wave([2, 7, 16], 0.43, 0, 3, 1)],
    fused: (x) => toTensor(layerNormLast(c(x as tf.Tensor), 1e-6)),
    ref: (x) => refLayerNorm(x as tf.Tensor, 1e-6),
  },
  {
    name: 'layerNormLastAffine [6, 5, 8]',
    inputs: () => [wave([6, 5, 8], 0.29, 0.5, 2), wave([8], 0.7, 0, 0.5, 1), wave([8], 1.1, 1, 0.3)],
    fused: (x, g, b) => toTensor(layerNormLastAffine(c(x as tf.Tensor), c(g as tf.Tensor), c(b as tf.Tensor), 1e-5)),
    ref: (x, g, b) => tf.add(tf.mul(refLayerNorm(x as tf.Tensor, 1e-5), g as tf.Tensor), b as tf.Tensor),
  },
  { name: 'silu [4, 33]', inputs: () => [wave([4, 33], 0.21, 0, 6)], fused: (x) => toTensor(silu(c(x as tf.Tensor))), ref: (x) => refSilu(x as tf.Tensor) },
  { name: 'geluTanh [4, 33]', inputs: () => [wave([4, 33], 0.21, 0, 5)], fused: (x) => toTensor(geluTanh(c(x as tf.Tensor))), ref: (x) => refGelu(x as tf.Tensor) },
];

/** y and the gradients of Σ y·w w.r.t. every input. */
const valueAndGrads = (f: Raw, xs: tf.Tensor[]): tf.Tensor[] =>
  tf.tidy(() => {
    const y = f(...xs);
    const w = wave(y.shape, 0.53, 0.7);
    return [y, ...tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), w)))(xs)];
  });

describeEachBackend('fused ops vs the composed formulas', (backend) => {
  for (const k of cases) {
    it(`${k.name}: values and gradients match, no tensor leaks`, async () => {
      const xs = k.inputs();
      const before = tf.memory().numTensors;
      const got = valueAndGrads(k.fused, xs);
      expect(tf.memory().numTensors).toBe(before + got.length);
      const ref = valueAndGrads(k.ref, xs);
      expect(got.map((t) => t.shape)).toEqual(ref.map((t) => t.shape));
      for (let i = 0; i < got.length; i++)
        expect(await (got[i] as tf.Tensor).data(), `${i === 0 ? 'value' : `gradient ${i - 1}`} on ${backend}`).toBeAllclose(await (ref[i] as tf.Tensor).data(), 2e-5);
      tf.dispose([...got, ...ref, ...xs]);
    });
  }

  it('the tape is smaller: peak bytes of forward + backward below the composed formulas', async () => {
    for (const k of cases.filter((x) => !x.name.startsWith('silu'))) {
      const xs = k.inputs();
      const peak = async (f: Raw): Promise<number> => {
        const p = await tf.profile(() => tf.dispose(valueAndGrads(f, xs)));
        return p.peakBytes - p.newBytes;
      };
      const fused = await peak(k.fused), ref = await peak(k.ref);
      expect(fused, `${k.name}: fused ${fused} B vs composed ${ref} B`).toBeLessThan(ref);
      tf.dispose(xs);
    }
  });

  it('results depend at run time on the union of the inputs groups', () => {
    withTape(() => {
      const [x, g, b] = [tf.ones([1, 2, 2, 4]), tf.ones([4]), tf.zeros([4])] as [tf.Tensor, tf.Tensor, tf.Tensor];
      seed(x, 'vae');
      seed(g, 'sit');
      const y = groupNormNhwc(x as unknown as T<'vae'>, g as unknown as T<'sit'>, c(b), 2, 1e-6);
      expect([...depsOf(y)].sort()).toEqual(['sit', 'vae']);
      const l = layerNormLast(x as unknown as T<'vae'>, 1e-6);
      expect([...depsOf(l)]).toEqual(['vae']);
      expect([...depsOf(silu(c(b)))]).toEqual([]);
      tf.dispose([x, g, b, y as unknown as tf.Tensor, l as unknown as tf.Tensor]);
    });
  });

  it('errors name the shapes', () => tf.tidy(() => {
    const x = c(tf.zeros([1, 2, 2, 6]));
    expect(() => groupNormNhwc(x, c(tf.ones([6])), c(tf.zeros([6])), 4, 1e-6)).toThrow('groupNorm: 6 channels are not divisible into 4 groups');
    expect(() => groupNormNhwc(x, c(tf.ones([3])), c(tf.zeros([6])), 3, 1e-6)).toThrow('gamma and beta should be [6], got [3] and [6]');
    expect(() => layerNormLastAffine(x, c(tf.ones([5])), c(tf.zeros([6])), 1e-6)).toThrow('gamma and beta should be [6], got [5] and [6]');
  }));
});
