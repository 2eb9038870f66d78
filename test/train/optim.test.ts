import { dispose } from '../../src/core/scope.js';
import { constant, toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import * as fc from 'fast-check';
import { expect, it } from 'vitest';
import { adamClosedForm, chainAssociativity, runOptimizer } from '../../laws/index.js';
import { adamw, chain, clipByGlobalNorm, globalNorm, repaeAdamW, sgd, type GradientTransformation, type AdamLeafState } from '../../src/optim/optim.js';
import { emaInit, emaUpdate } from '../../src/optim/ema.js';
import { describeEachBackend } from '../helpers/backends.js';

describeEachBackend('optimizers', () => {
  it('AdamW matches the PyTorch closed form for 5 steps, incl. weight decay', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 }).filter((g) => g !== 0), fc.constantFrom(0, 0.01), async (p10, g10, wd) => {
        const cfg = { ...repaeAdamW, lr: 1e-2, weightDecay: wd };
        const [ours] = await runOptimizer(adamw(cfg), [p10 / 10], [g10 / 10], 5);
        return Math.abs((ours as number) - adamClosedForm(p10 / 10, g10 / 10, 5, cfg)) < 1e-5;
      }),
      { numRuns: 20, seed: 42 },
    );
  });
  it('MUTATION: AdamW without bias correction fails the closed-form law', async () => {
    const noBias: GradientTransformation<AdamLeafState[]> = {
      ...adamw({ lr: 1e-2 }),
      update: (grads, state, params) => {
        const [u, s] = adamw({ lr: 1e-2 }).update(grads, state, params);
        return [u.map((x, i) => (x === null ? null : constant(tf.mul(toTensor(x), 1 - 0.9 ** (s[i] as AdamLeafState).step)))), s] as const;
      },
    };
    const [ours] = await runOptimizer(noBias, [0.5], [0.3], 3);
    expect(Math.abs((ours as number) - adamClosedForm(0.5, 0.3, 3, { ...repaeAdamW, lr: 1e-2 }))).toBeGreaterThan(1e-4);
  });
  it('AdamW skips parameters without a gradient (no step, no decay)', async () => {
    const out = await runOptimizer(adamw({ lr: 0.1, weightDecay: 0.5 }), [1, 2], [0.5, null], 3);
    expect(out[1]).toBe(2);
    expect(out[0]).toBeCloseTo(adamClosedForm(1, 0.5, 3, { ...repaeAdamW, lr: 0.1, weightDecay: 0.5 }), 5);
  });
  it('chain is associative', async () => {
    expect(await chainAssociativity(clipByGlobalNorm(1), sgd(0.1), adamw({ lr: 0.01 }), [0.5, -1], [3, 4], 3)).toBeLessThan(1e-6);
  });
  it('clipByGlobalNorm scales by min(1, max/(norm+1e-6)) and reports the pre-clip norm', async () => {
    const g = [constant(tf.tensor([3])), constant(tf.tensor([4])), null];
    const [u, s] = clipByGlobalNorm(1).update(g, { norm: null }, []);
    expect((await s.norm!.data())[0]).toBeCloseTo(5, 5);
    expect((await u[0]!.data())[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect(u[2]).toBeNull();
    const n = globalNorm([constant(tf.tensor([0.1]))]);
    const [u2] = clipByGlobalNorm(1).update([constant(tf.tensor([0.1]))], { norm: null }, []);
    expect((await u2[0]!.data())[0]).toBeCloseTo(0.1, 6);
    dispose([g, u, s.norm, n, u2]);
  });
  it('EMA: decay 0 copies, decay 1 keeps, integers copied; no leak', async () => {
    const before = tf.memory().numTensors;
    const p = { w: tf.tensor([1, 2]), bn: { runningMean: tf.tensor([3]), numBatchesTracked: 7 } };
    const e0 = { w: tf.tensor([0, 0]), bn: { runningMean: tf.tensor([0]), numBatchesTracked: 1 } };
    const copy = emaUpdate(e0, p, 0), keep = emaUpdate(e0, p, 1), half = emaUpdate(e0, p, 0.5), init = emaInit(p);
    expect(Array.from(await copy.w.data())).toEqual([1, 2]);
    expect(Array.from(await keep.w.data())).toEqual([0, 0]);
    expect(Array.from(await half.w.data())).toEqual([0.5, 1]);
    expect(half.bn.numBatchesTracked).toBe(7);
    expect(Array.from(await init.bn.runningMean.data())).toEqual([3]);
    dispose([p.w, p.bn.runningMean, e0.w, e0.bn.runningMean, copy.w, copy.bn.runningMean, keep.w, keep.bn.runningMean, half.w, half.bn.runningMean, init.w, init.bn.runningMean]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
