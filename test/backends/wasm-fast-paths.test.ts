/**
 * The profile-driven wasm fast paths of src/backends/fallbacks.ts agree with the cpu reference:
 * the cached derived conv filter (and its invalidation on dispose), batched matmuls as 2-D
 * products, the row-copy transpose, and the zero-copy identity.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { derivedCacheSize } from '../../src/backends/fallbacks.js';

const fill = (shape: number[], s: number): tf.Tensor => tf.tensor(Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, (_, i) => Math.sin(i * s + 0.3)), shape);
/** Runs `f` on cpu and on wasm (1 thread) and returns both results. */
async function both(f: () => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  await useBackend('cpu');
  const ref = tf.tidy(f);
  const r = Float32Array.from(ref.dataSync());
  ref.dispose();
  await useBackend('wasm', { threads: 1 });
  const before = tf.memory().numTensors;
  const got = tf.tidy(f);
  const g = Float32Array.from(got.dataSync());
  got.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return [g, r];
}

it('conv input gradient through a frozen filter: cached from the 2nd use, exact on hits, freed with the filter', async () => {
  await useBackend('cpu');
  const refW = fill([3, 3, 24, 32], 0.07), refX = fill([2, 6, 6, 24], 0.13);
  const grad = (w: tf.Tensor, x: tf.Tensor): tf.Tensor => tf.grad((xx: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'))))(x);
  const ref = grad(refW, refX).dataSync().slice();
  tf.dispose([refW, refX]);
  await useBackend('wasm', { threads: 1 });
  const backend = tf.backend();
  const before = tf.memory().numTensors;
  const w = fill([3, 3, 24, 32], 0.07), x = fill([2, 6, 6, 24], 0.13);
  const sizes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const g = grad(w, x);
    expect(g.dataSync()).toBeAllclose(ref, 1e-5);
    g.dispose();
    sizes.push(derivedCacheSize(backend).entries);
  }
  expect(sizes).toEqual([0, 1, 1, 1]); // first use computes and forgets; the second caches; later ones hit
  w.dispose();
  expect(derivedCacheSize(backend)).toEqual({ entries: 0, bytes: 0 });
  x.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

it('a filter replaced every step is never cached', async () => {
  await useBackend('wasm', { threads: 1 });
  const backend = tf.backend();
  const x = fill([1, 5, 5, 8], 0.2);
  for (let i = 0; i < 3; i++) {
    const w = fill([3, 3, 8, 8], 0.1 * (i + 1));
    tf.grad((xx: tf.Tensor) => tf.sum(tf.conv2d(xx as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')))(x).dispose();
    w.dispose();
  }
  expect(derivedCacheSize(backend).entries).toBe(0);
  x.dispose();
});

it('batched matmuls (equal batches, broadcast either side, 4-D batches, transposes, small) match cpu', async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[6, 40, 32], [6, 32, 48], false, false],
    [[6, 40, 32], [6, 48, 32], false, true],
    [[6, 32, 40], [6, 32, 48], true, false],
    [[2, 3, 40, 32], [2, 3, 32, 48], false, false],
    [[5, 40, 32], [32, 48], false, false],
    [[5, 40, 32], [48, 32], false, true],
    [[1, 40, 32], [5, 32, 48], false, false],
    [[40, 32], [4, 32, 48], false, false],
    [[7, 4, 4], [7, 4, 4], false, false],
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const [got, ref] = await both(() => tf.matMul(fill(sa, 0.11), fill(sb, 0.05), ta, tb));
    expect(got, `${sa} × ${sb} (${ta}, ${tb})`).toBeAllclose(ref, 1e-5);
  }
  // Gradients of a batched product (the attention backward).
  const [g, r] = await both(() => {
    const a = fill([4, 24, 16], 0.3), b = fill([4, 24, 16], 0.2);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p, q, false, true))))([a, b]);
    return tf.concat([tf.reshape(ga!, [-1]), tf.reshape(gb!, [-1])]);
  });
  expect(g).toBeAllclose(r, 1e-5);
});

it('transposes that keep the last axis (qkv split, with size-1 axes) are exact; others still work', async () => {
  const cases: [number[], number[]][] = [
    [[2, 16, 3, 4, 32], [2, 0, 3, 1, 4]],
    [[2, 1, 3, 5, 16], [2, 0, 3, 1, 4]],
    [[4, 6, 20], [1, 0, 2]],
    [[3, 5, 7, 9], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [3, 2, 1, 0]],
  ];
  for (const [shape, perm] of cases) {
    const [got, ref] = await both(() => tf.transpose(fill(shape, 0.01), perm));
    expect(Array.from(got), `${shape} perm ${perm}`).toEqual(Array.from(ref));
  }
});

it('identity shares data: a clone outlives its source, and both free their data', async () => {
  await useBackend('wasm', { threads: 1 });
  const before = tf.memory();
  const a = fill([4, 5], 0.4);
  const b = a.clone();
  const want = Array.from(a.dataSync());
  a.dispose();
  expect(Array.from(b.dataSync())).toEqual(want);
  b.dispose();
  expect(tf.memory().numTensors).toBe(before.numTensors);
  expect(tf.memory().numBytes).toBe(before.numBytes);
});
