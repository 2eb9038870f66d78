import { dispose } from '../../src/core/scope.js';
import { constant, toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import * as fc from 'fast-check';
import { expect, it } from 'vitest';
import { adamClosedForm, chainAssociativity, partitionByHand, runOptimizer, runOptimizerOn } from '../../laws/index.js';
import { numTensors } from '../../src/core/scope.js';
import { scalar } from '../../src/core/ops/index.js';
import { adamw, chain, clipByGlobalNorm, globalNorm, partition, repaeAdamW, sgd, type GradientTransformation, type AdamLeafState } from '../../src/optim/optim.js';
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
  it('variadic chain(a, b, c) equals the nested chain, and clipping first changes the result (MUTATION)', async () => {
    const flat = await runOptimizer(chain(clipByGlobalNorm(1), sgd(0.1), adamw({ lr: 0.01 })), [0.5, -1], [3, 4], 3);
    const nested = await runOptimizer(chain(chain(clipByGlobalNorm(1), sgd(0.1)), adamw({ lr: 0.01 })), [0.5, -1], [3, 4], 3);
    flat.forEach((x, i) => expect(Math.abs(x - nested[i]!)).toBeLessThan(1e-7));
    const sgdOnly = await runOptimizer(chain(clipByGlobalNorm(1), sgd(0.1)), [0.5, -1], [3, 4], 1);
    expect(sgdOnly[0]).toBeCloseTo(0.5 - 0.1 * (3 / 5), 5);
    const unclipped = await runOptimizer(chain(sgd(0.1)), [0.5, -1], [3, 4], 1);
    expect(unclipped[0]).toBeCloseTo(0.5 - 0.3, 5);
    expect(() => chain()).toThrow(/at least one/);
  });
  it('partition equals applying each label by hand for 4 steps (joint clipping of two groups, a null gradient)', async () => {
    const transforms = { sitProj: chain(clipByGlobalNorm(1), adamw({ lr: 0.05 })), vae: chain(clipByGlobalNorm(0.5), sgd(0.1)) };
    const groups = {
      sit: { label: 'sitProj', ps: [0.5, -1], gs: [3, null] },
      proj: { label: 'sitProj', ps: [2], gs: [4] },
      vae: { label: 'vae', ps: [1, 1], gs: [0.3, -2] },
    } as const;
    const before = numTensors();
    expect(await partitionByHand(transforms, groups, 4)).toBeLessThan(1e-7);
    expect(numTensors()).toBe(before);
  });
  it('MUTATION: labelling sit and proj apart (clipped separately) is not the joint partition', async () => {
    const t = { a: chain(clipByGlobalNorm(1), sgd(1)), b: chain(clipByGlobalNorm(1), sgd(1)) };
    const groups = (ps: unknown[]): unknown => ({ proj: [ps[0]], sit: [ps[1]] }); // flatten order: proj, sit
    const joint = await runOptimizerOn(partition(t, { sit: 'a', proj: 'a' }), groups, [0, 0], [3, 4], 1);
    expect(joint[0]).toBeCloseTo(-3 / 5, 5); // one norm, 5, over both groups
    expect(joint[1]).toBeCloseTo(-4 / 5, 5);
    const apart = await runOptimizerOn(partition(t, { sit: 'a', proj: 'b' }), groups, [0, 0], [3, 4], 1);
    expect(apart[0]).toBeCloseTo(-1, 5);
    expect(apart[1]).toBeCloseTo(-1, 5);
  });
  it('partition names a group without a label and a label without a transformation', () => {
    const p = { sit: [scalar(1)], vae: [scalar(2)] };
    expect(() => partition({ a: sgd(1) }, { sit: 'a' }).init(p)).toThrow(/'vae\.0' is in group 'vae', which has no label/);
    expect(() => partition({ a: sgd(1) }, { sit: 'a', vae: 'b' } as never).init(p)).toThrow(/group 'vae' has label 'b', which has no transformation/);
    dispose([p.sit, p.vae]);
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
