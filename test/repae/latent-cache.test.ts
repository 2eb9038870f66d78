/** Frozen-VAE LDM training samples z from cached posterior moments: same as encoding every step, encoder run once per item. */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { key } from '../../src/core/rng.js';
import { releaseOld, tidy } from '../../src/core/scope.js';
import { mean, read, reshape, sum } from '../../src/core/ops/index.js';
import type { T } from '../../src/core/tensor.js';
import { batchAt, ItemCache, LatentCache, openDataset, setupRun } from '../../src/train/run.js';
import { initVae } from '../../src/models/vae/params.js';
import { vaeEncode } from '../../src/models/vae/index.js';
import { decodeRunConfig } from '../../src/train/config.js';

it('caches mean/std per dataset item and returns them per batch', async () => {
  await useBackend('wasm');
  const cfg = decodeRunConfig({ mode: 'ldm', dataDir: 'builtin:shapes:16', resolution: 16, batchSize: 4, vaeCh: 32, vaeChMult: [1, 1], patchSize: 4 });
  const setup = setupRun(cfg, 8);
  const data = openDataset(cfg);
  const vae = initVae(key(1), setup.vae);
  const cache = new LatentCache(vae);
  const before = tf.memory().numTensors;
  const b = batchAt(data, setup, 0);
  const c1 = await cache.batch(b);
  expect(cache.size).toBe(4);
  const post = vaeEncode(vae, b.x);
  expect(await c1.mean.data()).toBeAllclose(await post.mean.data(), 1e-6);
  expect(await c1.std.data()).toBeAllclose(await post.std.data(), 1e-6);
  const c2 = await cache.batch(b);
  expect(cache.size).toBe(4);
  expect(Array.from(await c2.mean.data())).toEqual(Array.from(await c1.mean.data()));
  releaseOld([b, c1, c2, post], null);
  expect(tf.memory().numTensors).toBe(before);
  releaseOld(vae, null);
});

it('ItemCache: each item computed once, batches assembled from the cache in their own order, nothing leaked', async () => {
  await useBackend('wasm');
  const cfg = decodeRunConfig({ mode: 'ldm', dataDir: 'builtin:shapes:16', resolution: 16, batchSize: 4, vaeCh: 32, vaeChMult: [1, 1], patchSize: 4 });
  const setup = setupRun(cfg, 8);
  const data = openDataset(cfg);
  let calls = 0;
  const f = (x: T<never>): T<never> => reshape(mean(x, [2, 3]), [x.shape[0] as number, 16, 1]);
  const cache = new ItemCache((b) => { calls++; return [f(b.x), sum(b.x, [1, 2, 3])]; });
  const before = tf.memory().numTensors;
  for (let step = 0; step < 8; step++) { // two epochs of 4 batches: the second epoch is served from the cache
    const b = batchAt(data, setup, step);
    const [a, s] = await cache.batch(b);
    const want = tidy(() => f(b.x)), wantS = sum(b.x, [1, 2, 3]);
    expect(a!.shape).toEqual([4, 16, 1]);
    expect(await read(a!)).toBeAllclose(await read(want), 1e-6);
    expect(await read(s!)).toBeAllclose(await read(wantS), 1e-4);
    releaseOld([b, a, s, want, wantS], null);
  }
  expect([calls, cache.size]).toEqual([4, 16]);
  expect(tf.memory().numTensors).toBe(before);
});
