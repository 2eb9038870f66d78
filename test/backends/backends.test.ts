import { tidy } from '../../src/core/scope.js';
import { constant } from '../../src/core/tensor.js';
import { toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { availability, available, backendNames, BackendUnavailableError, useBackend } from '../../src/backends/index.js';
import { geluTanh, linearMap, softmax, conv2d, mean, type T } from '../../src/core/index.js';
import { rng } from '../../src/core/index.js';
import { testBackends, unavailableBackends } from '../helpers/backends.js';

it('available() reports every backend with a detail or a reason', async () => {
  const all = await available();
  expect(all.map((a) => a.name).sort()).toEqual([...backendNames].sort());
  for (const a of all) {
    if (a.available) expect(a.detail.length).toBeGreaterThan(0);
    else expect(a.reason.length).toBeGreaterThan(10);
  }
  console.log(all.map((a) => `${a.name}: ${a.available ? `available (${a.detail})` : `UNAVAILABLE — ${a.reason}`}`).join('\n'));
});

it('cpu and wasm always run here; in CI webgpu (lavapipe) must run too', async () => {
  expect((await availability('cpu')).available).toBe(true);
  expect((await availability('wasm')).available).toBe(true);
  if (process.env['CI'] !== undefined && process.env['CI'] !== 'false') expect(await availability('webgpu')).toMatchObject({ available: true });
});

it('choosing an unavailable backend fails with the reason', async () => {
  for (const u of unavailableBackends) {
    await expect(useBackend(u.name)).rejects.toThrow(BackendUnavailableError);
    await expect(useBackend(u.name)).rejects.toThrow(u.reason.slice(0, 30));
  }
  await expect(useBackend('nope' as never)).rejects.toThrow(/unknown backend 'nope'/);
});

it('tfjs-node-gpu is reported honestly (not installed here ⇒ unavailable, never a CPU fallback)', async () => {
  const a = await availability('tensorflow');
  if (!a.available) expect(a.reason).toMatch(/tfjs-node-gpu|CUDA|libtensorflow/);
  else expect(a.detail).toMatch(/CUDA/);
});

it('the same program agrees on every available backend (backend-equivalence law)', async () => {
  const results: Record<string, Float32Array> = {};
  for (const b of testBackends) {
    await useBackend(b);
    const out = tidy(() => {
      const k = rng.split(rng.key(7), 5) as [rng.Key, rng.Key, rng.Key, rng.Key, rng.Key];
      const x = rng.normal(k[0], [2, 8, 8, 3]);
      const w = rng.normal(k[1], [3, 3, 3, 4]);
      const h = conv2d(x, w, rng.normal(k[4], [4]), 1, [[1, 1], [1, 1]]);
      const tokens = constant(tf.reshape(toTensor(h), [2, 64, 4]));
      const lw = rng.normal(k[2], [5, 4]);
      const y = softmax(geluTanh(linearMap(tokens, lw, rng.normal(k[3], [5]))));
      return mean(y, [1]);
    });
    results[b] = Float32Array.from(await out.data());
    out.dispose();
  }
  const ref = results['cpu']!;
  for (const b of testBackends) expect(results[b]!).toBeAllclose(ref, 1e-5);
  await useBackend('cpu');
});
