import { dispose } from '../../src/core/scope.js';
import { constant, toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import * as fc from 'fast-check';
import { expect, it } from 'vitest';
import { adamClosedForm, chainAssociativity, partitionByHand, runOptimizer, runOptimizerOn, type LawParams, type ScalarList } from '../../laws/index.js';
import { numTensors } from '../../src/core/scope.js';
import { scalar } from '../../src/core/ops/index.js';
import type { T } from '../../src/core/tensor.js';
import { adamw, chain, clipByGlobalNorm, globalNorm, partition, repaeAdamW, sgd, type AdamState, type AnyTransformation, type GradientTransformation } from '../../src/optim/optim.js';
import { gradTree, leafValues, mapGrads } from '../../src/core/tree.js';
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
    const adam = adamw<ScalarList>({ lr: 1e-2 });
    const noBias: GradientTransformation<ScalarList, AdamState<ScalarList>> = {
      ...adam,
      update: (grads, state, params) => {
        const [u, s] = adam.update(grads, state, params);
        const steps = leafValues<ScalarList, { readonly step: number }>(grads, s, 'noBias').map((l) => l.step);
        return [mapGrads(u, (x, _, i) => (x === null ? null : constant(tf.mul(toTensor(x), 1 - 0.9 ** steps[i]!)))), s] as const;
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
  /** A nested parameter tree of 5 scalars (records, arrays), flatten order a.0, a.1.0, b.c, b.d, e. */
  type Nested = { readonly a: readonly [T<never>, readonly [T<never>]]; readonly b: { readonly c: T<never>; readonly d: T<never> }; readonly e: T<never> };
  const nested = (l: T<never>[]): Nested => ({ a: [l[0]!, [l[1]!]], b: { c: l[2]!, d: l[3]! }, e: l[4]! });
  const small = fc.integer({ min: -30, max: 30 }).map((x) => x / 10);
  const gradArb = fc.option(small.filter((x) => x !== 0), { nil: null, freq: 4 });
  it('LAW: chain is associative over a nested parameter tree (fast-check, null gradients included)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(small, { minLength: 5, maxLength: 5 }), fc.array(gradArb, { minLength: 5, maxLength: 5 }), fc.constantFrom(0.5, 1, 10), async (ps, gs, maxNorm) => {
        const before = numTensors();
        const d = await chainAssociativity(clipByGlobalNorm<Nested>(maxNorm), sgd<Nested>(0.1), adamw<Nested>({ lr: 0.01, weightDecay: 0.01 }), nested, ps, gs, 3);
        return d < 1e-6 && numTensors() === before;
      }),
      { numRuns: 15, seed: 42 },
    );
  });
  it('variadic chain(a, b, c) equals the nested chain, and clipping first changes the result (MUTATION)', async () => {
    const flat = await runOptimizer(chain(clipByGlobalNorm<ScalarList>(1), sgd<ScalarList>(0.1), adamw<ScalarList>({ lr: 0.01 })), [0.5, -1], [3, 4], 3);
    const nestedChain = await runOptimizer(chain(chain(clipByGlobalNorm<ScalarList>(1), sgd<ScalarList>(0.1)), adamw<ScalarList>({ lr: 0.01 })), [0.5, -1], [3, 4], 3);
    flat.forEach((x, i) => expect(Math.abs(x - nestedChain[i]!)).toBeLessThan(1e-7));
    const sgdOnly = await runOptimizer(chain(clipByGlobalNorm<ScalarList>(1), sgd<ScalarList>(0.1)), [0.5, -1], [3, 4], 1);
    expect(sgdOnly[0]).toBeCloseTo(0.5 - 0.1 * (3 / 5), 5);
    const unclipped = await runOptimizer(chain(sgd<ScalarList>(0.1)), [0.5, -1], [3, 4], 1);
    expect(unclipped[0]).toBeCloseTo(0.5 - 0.3, 5);
    expect(() => (chain as (...ts: AnyTransformation[]) => unknown)()).toThrow(/at least one/);
  });
  it('the state of chain is the typed tuple of its parts, shaped like the parameter tree', () => {
    const p = nested([1, 2, 3, 4, 5].map((x) => scalar(x)));
    const opt = chain(clipByGlobalNorm<Nested>(1), adamw<Nested>());
    const s = opt.init(p);
    expect(s[0].norm).toBeNull();
    expect(s[1].b.c).toEqual({ step: 0, m: null, v: null });
    expect(s[1].a[1][0].step).toBe(0);
    dispose(p);
  });
  it('LAW: partition equals applying each label by hand, for any labelling of nested groups (fast-check)', async () => {
    const transforms = { x: chain(clipByGlobalNorm<LawParams>(1), adamw<LawParams>({ lr: 0.05 })), y: chain(clipByGlobalNorm<LawParams>(0.5), sgd<LawParams>(0.1)) };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('x' as const, 'y' as const), { minLength: 3, maxLength: 3 }), fc.array(small, { minLength: 6, maxLength: 6 }), fc.array(gradArb, { minLength: 6, maxLength: 6 }), async (ls, ps, gs) => {
        const groups = {
          sit: { label: ls[0]!, ps: ps.slice(0, 3), gs: gs.slice(0, 3), shape: (l: T<never>[]) => ({ w: l[0], blocks: [l[1], { b: l[2] }] }) },
          proj: { label: ls[1]!, ps: ps.slice(3, 4), gs: gs.slice(3, 4) },
          vae: { label: ls[2]!, ps: ps.slice(4), gs: gs.slice(4), shape: (l: T<never>[]) => ({ enc: { w: l[0], b: l[1] } }) },
        };
        const before = numTensors();
        const d = await partitionByHand(transforms, groups, 3);
        return d < 1e-7 && numTensors() === before;
      }),
      { numRuns: 15, seed: 7 },
    );
  });
  it('MUTATION: labelling sit and proj apart (clipped separately) is not the joint partition', async () => {
    type G = { readonly sit: ScalarList; readonly proj: ScalarList };
    const t = { a: chain(clipByGlobalNorm<G>(1), sgd<G>(1)), b: chain(clipByGlobalNorm<{ readonly proj: ScalarList }>(1), sgd<{ readonly proj: ScalarList }>(1)) };
    const groups = (ps: T<never>[]): G => ({ proj: [ps[0]!], sit: [ps[1]!] }); // flatten order: proj, sit
    const joint = await runOptimizerOn(partition({ a: t.a }, { sit: 'a', proj: 'a' }), groups, [0, 0], [3, 4], 1);
    expect(joint[0]).toBeCloseTo(-3 / 5, 5); // one norm, 5, over both groups
    expect(joint[1]).toBeCloseTo(-4 / 5, 5);
    const sitAlone = chain(clipByGlobalNorm<{ readonly sit: ScalarList }>(1), sgd<{ readonly sit: ScalarList }>(1));
    const apart = await runOptimizerOn(partition({ a: sitAlone, b: t.b }, { sit: 'a', proj: 'b' }), groups, [0, 0], [3, 4], 1);
    expect(apart[0]).toBeCloseTo(-1, 5);
    expect(apart[1]).toBeCloseTo(-1, 5);
  });
  it('partition: its state is the record of the labels\' states; names a group without a label, a label without a transformation, a missing group', () => {
    const p = { sit: [scalar(1)], vae: [scalar(2)] };
    const opt = partition({ a: adamw<{ readonly sit: ScalarList }>(), b: sgd<{ readonly vae: ScalarList }>(1) }, { sit: 'a', vae: 'b' });
    const s = opt.init(p);
    expect(Object.keys(s).sort()).toEqual(['a', 'b']);
    expect(s.a.sit[0]).toEqual({ step: 0, m: null, v: null });
    expect(s.b).toBeNull();
    expect(() => partition({ a: sgd<{ readonly sit: ScalarList }>(1) }, { sit: 'a' }).init(p as never)).toThrow(/'vae\.0' is in group 'vae', which has no label/);
    expect(() => partition({ a: sgd<{ readonly sit: ScalarList }>(1) }, { sit: 'a', vae: 'b' } as never)).toThrow(/group 'vae' has label 'b', which has no transformation/);
    expect(() => opt.init({ sit: p.sit } as never)).toThrow(/group 'vae' \(label 'b'\) is not in the tree/);
    dispose([p.sit, p.vae]);
  });
  it('clipByGlobalNorm scales by min(1, max/(norm+1e-6)) and reports the pre-clip norm', async () => {
    const like = [scalar(0), scalar(0), scalar(0)];
    const g = gradTree(like, [constant(tf.tensor([3])), constant(tf.tensor([4])), null]);
    const [u, s] = clipByGlobalNorm<ScalarList>(1).update(g, { norm: null });
    expect((await s.norm!.data())[0]).toBeCloseTo(5, 5);
    expect((await u[0]!.data())[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect(u[2]).toBeNull();
    const n = globalNorm<ScalarList>([constant(tf.tensor([0.1]))]);
    const [u2] = clipByGlobalNorm<ScalarList>(1).update([constant(tf.tensor([0.1]))], { norm: null });
    expect((await u2[0]!.data())[0]).toBeCloseTo(0.1, 6);
    dispose([like, g, u, s.norm, n, u2]);
  });
  it('AdamW: weight decay without the parameters, and a moment of the wrong shape, are errors naming them', () => {
    const p = { w: scalar(1) };
    const opt = adamw<typeof p>({ weightDecay: 0.1 });
    const g = gradTree(p, [scalar(0.5)]);
    expect(() => opt.update(g, opt.init(p))).toThrow(/weight decay 0\.1 needs the parameters/);
    const bad = { w: { step: 1, m: constant(tf.zeros([2])), v: constant(tf.zeros([2])) } };
    expect(() => adamw<typeof p>().update(g, bad, p)).toThrow(/first moment of 'w' has shape \[2\], its gradient \[\]/);
    dispose([p, g, bad]);
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
