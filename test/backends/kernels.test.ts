/** The kernels repae installs to fill/accelerate backend gaps agree with the cpu reference. */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { testBackends } from '../helpers/backends.js';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
const convCases: [number[], number[], number, Pad][] = [
  [[2, 9, 9, 3], [3, 3, 3, 4], 1, 'same'],
  [[2, 9, 9, 3], [3, 3, 3, 4], 2, 'valid'],
  [[2, 10, 10, 3], [4, 4, 3, 5], 2, [[0, 0], [1, 1], [1, 1], [0, 0]]],
  [[1, 8, 8, 2], [3, 3, 2, 2], 2, [[0, 0], [0, 1], [0, 1], [0, 0]]],
  [[2, 7, 7, 3], [1, 1, 3, 4], 1, 'valid'],
];
const fill = (shape: number[], f: (i: number) => number): tf.Tensor => tf.tensor(Array.from({ length: shape.reduce((a, c) => a * c, 1) }, (_, i) => f(i)), shape);

async function convGrads(backend: string, [xs, fs, s, p]: (typeof convCases)[number]): Promise<Float32Array> {
  await useBackend(backend as 'cpu');
  const x = fill(xs, (i) => Math.sin(i * 0.7)), w = fill(fs, (i) => Math.cos(i * 0.3));
  const [gw, gx] = tf.grads((ww: tf.Tensor, xx: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, s, p))))([w, x]);
  const out = Float32Array.from([...(await gw!.data()), ...(await gx!.data())]);
  tf.dispose([x, w, gw!, gx!]);
  return out;
}

it('conv2d filter and input gradients match cpu on every backend (incl. wasm conv-trick kernels)', async () => {
  for (const c of convCases) {
    const ref = await convGrads('cpu', c);
    for (const b of testBackends) expect(await convGrads(b, c)).toBeAllclose(ref, 1e-5);
  }
});

it('transposed batched matmuls and embedding (gather) gradients match cpu', async () => {
  const run = async (b: string): Promise<Float32Array> => {
    await useBackend(b as 'cpu');
    const a = fill([3, 5, 7], (i) => Math.sin(i)), bb = fill([3, 4, 7], (i) => Math.cos(i * 1.3)), table = fill([6, 4], (i) => i * 0.1);
    const idx = tf.tensor1d([0, 3, 3, 5], 'int32');
    const [ga, gt] = tf.grads((x: tf.Tensor, t: tf.Tensor) => tf.add(tf.sum(tf.square(tf.matMul(x, bb, false, true))), tf.sum(tf.square(tf.gather(t, idx)))))([a, table]);
    const out = Float32Array.from([...(await tf.matMul(tf.transpose(a, [0, 2, 1]), bb, true, true).data()), ...(await ga!.data()), ...(await gt!.data())]);
    tf.dispose([a, bb, table, idx, ga!, gt!]);
    return out;
  };
  const ref = await run('cpu');
  for (const b of testBackends) expect(await run(b)).toBeAllclose(ref, 1e-5);
});

it('addN of many tensors is exact on every backend (webgpu summed only the first 4 before the fix)', async () => {
  for (const b of testBackends) {
    await useBackend(b);
    for (const n of [2, 4, 5, 8, 9, 16, 61]) {
      const xs = Array.from({ length: n }, (_, i) => tf.fill([3], i + 1));
      const before = tf.memory().numTensors;
      const s = tf.addN(xs);
      expect(Array.from(await s.data())).toEqual([1, 1, 1].map(() => (n * (n + 1)) / 2));
      s.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(xs);
    }
  }
});
