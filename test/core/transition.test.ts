/** transition: one helper owns a pure step's memory, and a consumed state, reused, fails naming the step, the field and what to use instead. */
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { add, mul, read, scalar, sub } from '../../src/core/ops/index.js';
import { rng, type Store } from '../../src/core/index.js';
import { alignToy, toy, type Toy, type ToyBatch } from '../helpers/toy.js';
import { assertLive, ConsumedStateError, dispose, numTensors, transition } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';

beforeAll(async () => {
  await useBackend('cpu');
});

interface S { readonly w: T<never>; readonly frozen: T<never>; readonly step: number }
/** A toy pure step: w ← 2w + 1 (temporaries inside), `frozen` carried over. */
const step = (s: S, x: T<never>): readonly [S, T<never>] =>
  transition('toyStep', s, `step ${s.step}`, () => {
    const tmp = mul(s.w, 2);
    const w = add(tmp, x);
    return [{ w, frozen: s.frozen, step: s.step + 1 }, mul(w, 1)] as const;
  }, [x]);

it('disposes the temporaries and the old state tensors the new state does not share; the count stays flat', async () => {
  const x = scalar(1);
  let s: S = { w: scalar(0), frozen: scalar(7), step: 0 };
  const frozen = s.frozen;
  const counts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [n, m] = step(s, x);
    dispose(m);
    s = n;
    counts.push(numTensors());
  }
  expect(new Set(counts).size).toBe(1);
  expect(s.frozen).toBe(frozen);
  expect([...(await read(s.w))]).toEqual([31]);
  expect(x.isDisposed).toBe(false);
  dispose([s, x]);
});

it('a consumed state, reused, throws ConsumedStateError naming the consumer, the step, the field and what to use', () => {
  const x = scalar(1);
  const s0: S = { w: scalar(0), frozen: scalar(7), step: 3 };
  const [s1, m] = step(s0, x);
  expect(() => step(s0, x)).toThrow(ConsumedStateError);
  expect(() => step(s0, x)).toThrow(/toyStep: the state passed in was consumed by toyStep \(step 3\).*e\.g\. 'w'.*Use the state that toyStep returned/);
  // A copy holding a consumed tensor is caught by the tensor, with its field.
  expect(() => assertLive({ ...s1, w: s0.w }, 'evaluate')).toThrow(/evaluate: the state passed in was consumed by toyStep \(step 3\).*'w'/);
  // A tensor disposed by hand is named too (not an anonymous "Tensor is disposed").
  const s2: S = { ...s1, w: scalar(5) };
  dispose(s2.w);
  expect(() => step(s2, x)).toThrow(/toyStep: the tensor at 'w' of the state passed in is disposed/);
  const [s3, m3] = step(s1, x);
  dispose([m, m3, s3, x]);
});

it('also releases what a valueAndGrad inside kept for its aux (a routed step with the aux unused stays flat)', () => {
  const [a, b2, c, d] = rng.split(rng.key(1), 4) as [rng.Key, rng.Key, rng.Key, rng.Key];
  interface TS { readonly store: Store<Toy>; readonly step: number }
  let s: TS = { store: { vae: { w: rng.normal(a, [3, 3]) }, sit: { w: rng.normal(b2, [3, 3]), b: rng.normal(c, [3]) }, enc: { w: rng.normal(d, [3, 3]) } }, step: 0 };
  const batch: ToyBatch = { x: rng.normal(rng.key(2), [2, 3]), eps: rng.normal(rng.key(3), [2, 3]) };
  const counts: number[] = [];
  for (let i = 0; i < 4; i++) {
    s = transition('toyRouted', s, `step ${s.step}`, () => {
      const [, g, aux] = toy.valueAndGrad(alignToy, 'vae')(s.store, batch); // aux.z is kept by valueAndGrad, unused here
      void aux;
      const gw = g.vae.w;
      if (gw === null) throw new Error('no gradient');
      return { store: { ...s.store, vae: { w: sub(s.store.vae.w, mul(gw, 0.1)) } }, step: s.step + 1 };
    }, [batch]);
    counts.push(numTensors());
  }
  expect(new Set(counts).size).toBe(1);
  dispose([s, batch]);
});
