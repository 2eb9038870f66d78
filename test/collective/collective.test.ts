/**
 * The Collective over c10d: two ranks in one process (async calls, each on its own libuv worker)
 * reduce and broadcast tfjs trees; env parsing; the single-process collective; launcher flags.
 * Needs the native addon (`npm run build:native`); without it the c10d cases report why.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { expect, it, vi } from 'vitest';
import { createRequire } from 'node:module';
import { useBackend } from '../../src/backends/index.js';
import { addonPath, CollectiveUnavailableError, createCollective, distEnv, singleProcessCollective, tryNativeCollective } from '../../src/collective/index.js';
import { freePort, takeLaunchFlags } from '../../src/train/launch.js';

const native = tryNativeCollective();
const why = native instanceof CollectiveUnavailableError ? native.message : '';
if (why !== '') console.warn(`c10d collectives unavailable: ${why}`);

it('distEnv reads the torchrun variables and names a bad one', () => {
  expect(distEnv({})).toEqual({ rank: 0, worldSize: 1, localRank: 0, masterAddr: '127.0.0.1', masterPort: 29500 });
  expect(distEnv({ RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: '10.0.0.2', MASTER_PORT: '1234' })).toEqual({ rank: 3, worldSize: 4, localRank: 1, masterAddr: '10.0.0.2', masterPort: 1234 });
  expect(() => distEnv({ RANK: '4', WORLD_SIZE: '4' })).toThrow(/RANK=4 is outside/);
  expect(() => distEnv({ WORLD_SIZE: 'two' })).toThrow(/WORLD_SIZE='two'/);
});

it('takeLaunchFlags splits the launcher flags off the train argv', () => {
  const [rest, f] = takeLaunchFlags(['--batch-size', '8', '--nproc', '2', '--dist-rng=per-rank', '--resume']);
  expect(rest).toEqual(['--batch-size', '8', '--resume']);
  expect(f).toEqual({ nproc: 2, rng: 'per-rank' });
  expect(() => takeLaunchFlags(['--nproc', '0'])).toThrow(/--nproc: expected an integer >= 1/);
});

it('the single-process collective returns equal new tensors and keeps numbers', async () => {
  await tf.setBackend('cpu');
  const c = singleProcessCollective();
  const tree = { a: tf.tensor([1, 2, 3]), n: 5, b: [tf.tensor([[4]]), null] };
  const before = tf.memory().numTensors;
  const r = await c.allReduce(tree, 'mean');
  expect(r.n).toBe(5);
  expect(r.b[1]).toBeNull();
  expect(Array.from(await r.a.data())).toEqual([1, 2, 3]);
  expect(r.a).not.toBe(tree.a);
  tf.dispose([r.a, r.b[0] as tf.Tensor, tree.a, tree.b[0] as tf.Tensor]);
  expect(tf.memory().numTensors).toBe(before - 2);
});

it.skipIf(why !== '')(`two Gloo ranks: allReduce sum/mean and broadcast of tfjs trees; errors name bad arguments${why === '' ? '' : ` (unavailable: ${why})`}`, async () => {
  await tf.setBackend('cpu');
  const port = await freePort();
  const [c0, c1] = await Promise.all([0, 1].map((rank) => createCollective({ rank, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 20_000 })));
  if (c0 === undefined || c1 === undefined) throw new Error('no collective');
  expect([c0.rank, c1.rank, c0.worldSize, c0.backend]).toEqual([0, 1, 2, 'gloo']);
  const mk = (r: number) => ({ w: tf.tensor([[1 + r, 2], [3, 4 * r]]), b: [tf.tensor([10 * r]), null], step: 7 });
  const t0 = mk(0), t1 = mk(1);
  const [s0, s1] = await Promise.all([c0.allReduce(t0, 'sum'), c1.allReduce(t1, 'sum')]);
  expect(Array.from(await s0.w.data())).toEqual([3, 4, 6, 4]);
  expect(Array.from(await s1.b[0]!.data())).toEqual([10]);
  expect(s1.b[1]).toBeNull();
  expect(s0.step).toBe(7);
  const [m0] = await Promise.all([c0.allReduce(t0, 'mean'), c1.allReduce(t1, 'mean')]);
  expect(Array.from(await m0.w.data())).toEqual([1.5, 2, 3, 2]);
  const [, g1] = await Promise.all([c0.broadcast(t0, 0), c1.broadcast(t1, 0)]);
  expect(Array.from(await g1.w.data())).toEqual([1, 2, 3, 0]);
  expect(Array.from(await g1.b[0]!.data())).toEqual([0]);
  await Promise.all([c0.barrier(), c1.barrier()]);
  await expect(c0.broadcast(t0, 5)).rejects.toThrow(/root 5 is outside \[0, 2\)/);
  // Rank 0 goes away (it hosts the store): rank 1's next collective fails naming it.
  await c0.close();
  await expect(c0.barrier()).rejects.toThrow(/closed/);
  const t = performance.now();
  await expect(c1.allReduce(t1, 'sum')).rejects.toThrow(/rank 1 of 2.*lost rank 0/);
  expect(performance.now() - t).toBeLessThan(20_000);
  await c1.close();
}, 60_000);

it.skipIf(why !== '')(`tensors of the torch backend: reduced as torch-side clones, no host transfer, inputs unchanged${why === '' ? '' : ` (unavailable: ${why})`}`, async () => {
  await useBackend('torch');
  try {
    const port = await freePort();
    const [c0, c1] = await Promise.all([0, 1].map((rank) => createCollective({ rank, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 20_000 })));
    const a = { w: tf.tensor([[1, 2], [3, 4]]), b: tf.tensor([1]) }, b = { w: tf.tensor([[3, 2], [1, 0]]), b: tf.tensor([3]) };
    const spy = vi.spyOn(tf.Tensor.prototype, 'dataSync');
    const [ra, rb] = await Promise.all([c0!.allReduce(a, 'mean'), c1!.allReduce(b, 'mean')]);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    expect(Array.from(await ra.w.data())).toEqual([2, 2, 2, 2]);
    expect(Array.from(await rb.b.data())).toEqual([2]);
    expect(Array.from(await a.w.data())).toEqual([1, 2, 3, 4]);
    await Promise.all([c1!.close(), c0!.close()]);
    tf.dispose([a.w, a.b, b.w, b.b, ra.w, ra.b, rb.w, rb.b]);
  } finally {
    await tf.setBackend('cpu');
  }
}, 60_000);

interface TensorPart { fromTypedArray(d: Float32Array, shape: number[], dtype: string): object; toTypedArray(h: object): Float32Array; dispose(h: object): void }
it.skipIf(why !== '')(`torch tensor handles are reduced in place (no host copy)${why === '' ? '' : ` (unavailable: ${why})`}`, async () => {
  const n = tryNativeCollective();
  if (n instanceof CollectiveUnavailableError) throw n;
  const tp = createRequire(import.meta.url)(addonPath()) as TensorPart;
  const port = await freePort();
  const [g0, g1] = await Promise.all([0, 1].map((rank) => n.create({ rank, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 20_000, backend: 'gloo' })));
  const h0 = tp.fromTypedArray(new Float32Array([1, 2, 3, 4]), [2, 2], 'float32'), h1 = tp.fromTypedArray(new Float32Array([3, 2, 1, 0]), [2, 2], 'float32');
  const k0 = tp.fromTypedArray(new Float32Array([5]), [1], 'float32'), k1 = tp.fromTypedArray(new Float32Array([7]), [1], 'float32');
  await Promise.all([n.allReduce(g0!, [h0, k0], 'mean'), n.allReduce(g1!, [h1, k1], 'mean')]);
  expect(Array.from(tp.toTypedArray(h0))).toEqual([2, 2, 2, 2]);
  expect(Array.from(tp.toTypedArray(h1))).toEqual([2, 2, 2, 2]);
  expect(Array.from(tp.toTypedArray(k1))).toEqual([6]);
  n.destroy(g1!);
  n.destroy(g0!);
  for (const h of [h0, h1, k0, k1]) tp.dispose(h);
}, 60_000);

it.skipIf(why !== '')(`a rank that never joins: the rendezvous fails within the timeout naming it${why === '' ? '' : ` (unavailable: ${why})`}`, async () => {
  const port = await freePort();
  const t = performance.now();
  await expect(createCollective({ rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 2000 })).rejects.toThrow(/rank\(s\) 1 did not join within 2000 ms/);
  expect(performance.now() - t).toBeLessThan(15_000);
}, 30_000);

// Last: it resets the module registry (a fresh addon cache), which would split class identities for later tests.
it('a missing addon: the error names npm run build:native and the path', async () => {
  vi.resetModules();
  const old = process.env['REPAE_NATIVE_ADDON'];
  process.env['REPAE_NATIVE_ADDON'] = '/nonexistent/repae_native.node';
  try {
    const m = await import('../../src/collective/index.js');
    const r = m.tryNativeCollective();
    expect(r).toBeInstanceOf(m.CollectiveUnavailableError);
    expect((r as Error).message).toMatch(/\/nonexistent\/repae_native.node does not exist.*npm run build:native/);
    await expect(m.createCollective({ rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: 1 })).rejects.toThrow(/npm run build:native/);
    expect((await m.createCollective({ rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: 1 })).backend).toBe('single');
  } finally {
    if (old === undefined) delete process.env['REPAE_NATIVE_ADDON'];
    else process.env['REPAE_NATIVE_ADDON'] = old;
    vi.resetModules();
  }
});
