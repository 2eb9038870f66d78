/**
 * Binds the laws in laws/ to the core on every available backend, and shows once that each law
 * fails on a deliberately broken implementation (the mutation stays as a test).
 */
import { dispose } from '../../src/core/scope.js';
import { constant, toTensor } from '../../src/core/tensor.js';
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import {
  checkNoGradOutsideWrt, checkRouting, gradcheckError, leakedGroups, routingDeviation, roundTripMismatches,
  stopGradientDeviation, tensorData, tensorsLeaked,
} from '../../laws/index.js';
import { add, defineRegistry, flatten, identity, mul, stopGradient, unflatten, type Routing, type T } from '../../src/core/index.js';
import { alignToy, D, diffusionToy, diffusionViaViewToy, mkToyBatch, mkToyStore, N, regToy, toy, toyShapes, type Toy, type ToyBatch } from '../helpers/toy.js';
import { describeEachBackend } from '../helpers/backends.js';

const storeArb = fc.record({ vaeW: tensorData(toyShapes.vaeW), sitW: tensorData(toyShapes.sitW), sitB: tensorData(toyShapes.sitB), encW: tensorData(toyShapes.encW) });
const batchArb = fc.record({ x: tensorData([N, D]), eps: tensorData([N, D]) });
const mk = { store: mkToyStore, batch: mkToyBatch };
const terms = [[diffusionViaViewToy, 1], [alignToy, 1.5], [regToy, 0.7]] as const;
const combined = toy.sum([toy.sum(terms[0], terms[1]), 1], [regToy, 0.7]);

/** A broken routing whose `sum` hands the full combined view to every term (no re-detach). */
const brokenSum: Routing<Toy> = {
  ...toy,
  sum: (a, b) => ({ name: 'broken', wrt: [...new Set([...a[0].wrt, ...b[0].wrt])], run: (v, batch) => {
    const [va] = a[0].run(v as never, batch);
    const [vb] = b[0].run(v as never, batch);
    return [add(mul(va, a[1]), mul(vb, b[1])) as never, {} as never] as const;
  } }),
};
/** A broken view builder that forgets to detach the other groups. */
const brokenView: Routing<Toy> = { ...toy, view: (store) => store as never };

describeEachBackend('laws', () => {
  it('routing linearity by group holds (50 runs, seed 42)', async () => {
    await checkRouting(toy, terms, combined, { store: storeArb, batch: batchArb }, mk, { numRuns: 50, seed: 42 });
  });
  it('MUTATION: a hand-built sum that does not re-detach is refused (only losses built by the core are differentiated)', async () => {
    const bad = brokenSum.sum([brokenSum.sum(terms[0], terms[1]), 1], [regToy, 0.7]);
    const store = mkToyStore(fc.sample(storeArb, { numRuns: 1, seed: 2 })[0]!);
    const batch = mkToyBatch(fc.sample(batchArb, { numRuns: 1, seed: 2 })[0]!);
    await expect(routingDeviation(toy, terms, bad, store, batch)).rejects.toThrow(/not a loss built by this library/);
    dispose([store, batch]);
  });
  it('no gradient outside wrt, even when every leaf is offered', async () => {
    for (const l of [diffusionToy, diffusionViaViewToy, alignToy, regToy, combined, toy.freeze(alignToy, 'sit')])
      await checkNoGradOutsideWrt(toy, l, { store: storeArb, batch: batchArb }, mk, { numRuns: 10 });
  });
  it('MUTATION: the view law fails on a view builder that does not detach', async () => {
    const store = mkToyStore(fc.sample(storeArb, { numRuns: 1, seed: 1 })[0]!);
    const batch = mkToyBatch(fc.sample(batchArb, { numRuns: 1, seed: 1 })[0]!);
    expect(leakedGroups(brokenView, regToy, store, batch)).toEqual([]); // reg reads only vae weights
    expect(leakedGroups(brokenView, diffusionToy, store, batch)).toEqual([]); // explicit stopGradient inside
    expect(leakedGroups(toy, diffusionViaViewToy, store, batch)).toEqual([]);
    expect(leakedGroups(brokenView, diffusionViaViewToy, store, batch)).toContain('vae.w');
    expect(leakedGroups(toy, alignToy, store, batch)).toEqual([]);
    expect(leakedGroups(brokenView, alignToy, store, batch)).toContain('enc.w');
    dispose([store, batch]);
  });
  it('stop-gradient keeps the value and zeroes the gradient', async () => {
    await fc.assert(fc.asyncProperty(tensorData([4]), async (d) => {
      const x = tf.tensor(d.data as number[]);
      const dev = await stopGradientDeviation(stopGradient, constant(x));
      x.dispose();
      return dev.value === 0 && dev.grad < 1e-6;
    }), { numRuns: 10, seed: 42 });
  });
  it('MUTATION: the stop-gradient law fails on identity', async () => {
    const x = tf.tensor([0.5, -1, 2]);
    const dev = await stopGradientDeviation((a) => identity(a), constant(x));
    x.dispose();
    expect(dev.grad).toBeGreaterThan(0.4);
  });
  it('finite differences agree with autodiff through a routed loss', async () => {
    const store = mkToyStore(fc.sample(storeArb, { numRuns: 1, seed: 3 })[0]!);
    const batch = mkToyBatch(fc.sample(batchArb, { numRuns: 1, seed: 3 })[0]!);
    const f = (w: tf.Tensor) => toTensor(alignToy.run(toy.view({ ...store, vae: { w: constant(w) } }, 'vae|sit') as never, batch)[0] as T<never>) as tf.Scalar;
    expect(await gradcheckError(f, toTensor(store.vae.w))).toBeLessThan(2e-2);
    const broken = tf.customGrad(((w: tf.Tensor) => ({ value: f(w), gradFunc: (dy: tf.Tensor) => tf.mul(tf.onesLike(w), dy) })) as never);
    expect(await gradcheckError(broken as unknown as (w: tf.Tensor) => tf.Scalar, toTensor(store.vae.w))).toBeGreaterThan(2e-2); // MUTATION
    dispose([store, batch]);
  });
  it('no tensor leak around valueAndGrad of a combined loss', async () => {
    const store = mkToyStore(fc.sample(storeArb, { numRuns: 1, seed: 5 })[0]!);
    const batch = mkToyBatch(fc.sample(batchArb, { numRuns: 1, seed: 5 })[0]!);
    const leaked = await tensorsLeaked(() => {
      const [v, g, aux] = toy.valueAndGrad(combined, 'sit|vae')(store, batch);
      dispose([v, g, aux]);
    });
    expect(leaked).toBe(0);
    const leaky = await tensorsLeaked(() => { toy.valueAndGrad(combined, 'sit')(store, batch); }); // MUTATION: results never disposed
    expect(leaky).toBeGreaterThan(0);
    dispose([store, batch]);
  });
});

it('tree flatten/unflatten round trip (and a broken unflatten fails it)', () => {
  const leaf = () => tf.scalar(1);
  const tree = { b: [leaf(), { z: leaf(), a: leaf() }], a: leaf(), n: null };
  expect(roundTripMismatches(tree)).toEqual([]);
  const reversed = { flatten, unflatten: <X, L extends T<string> | null>(like: X, vals: readonly L[]) => unflatten(like, [...vals].reverse()) };
  expect(roundTripMismatches(tree, reversed).length).toBeGreaterThan(0);
  dispose(flatten(tree).flatMap((l) => (l.leaf ? [l.leaf] : [])));
});

it('routingDeviation is exactly zero for a single term', async () => {
  const store = mkToyStore(fc.sample(storeArb, { numRuns: 1, seed: 9 })[0]!);
  const batch: ToyBatch = mkToyBatch(fc.sample(batchArb, { numRuns: 1, seed: 9 })[0]!);
  expect(await routingDeviation(toy, [[alignToy, 1]], alignToy, store, batch)).toBe(0);
  dispose([store, batch]);
});

it('a registry rejects frozen or unknown groups at run time too', () => {
  const r = defineRegistry<Toy>({ groups: ['vae', 'sit', 'enc'], frozen: ['enc'] });
  expect(() => r.loss('x', 'enc' as never, () => [tf.scalar(0) as never, {}] as const)).toThrow(/frozen/);
  expect(() => r.loss('x', 'nope' as never, () => [tf.scalar(0) as never, {}] as const)).toThrow(/unknown group 'nope'/);
});
