/** A pure two-group training step on the toy model: routed grads, partitioned optimizers, no leak. */
import { dispose } from '../../src/core/scope.js';
import { toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { releaseOld, rng, type Store } from '../../src/core/index.js';
import { adamw, partition, sgd, updateParams, type StateOf } from '../../src/optim/optim.js';
import { alignToy, diffusionToy, regToy, toy, type Toy, type ToyBatch } from '../helpers/toy.js';
import { describeEachBackend } from '../helpers/backends.js';

const vaeObjective = toy.sum([regToy, 1], [toy.freeze(alignToy, 'sit'), 1.5]);
/** The trainable groups, one partition: AdamW for sit, SGD for vae. */
const opt = partition({ sit: adamw<Pick<Store<Toy>, 'sit'>>({ lr: 1e-2 }), vae: sgd<Pick<Store<Toy>, 'vae'>>(1e-2) }, { sit: 'sit', vae: 'vae' });

interface State { readonly store: Store<Toy>; readonly opt: StateOf<typeof opt>; readonly step: number }

/** One step: VAE objective and SiT objective both differentiated at the pre-step store. */
function step(s: State, b: ToyBatch): readonly [State, { readonly vae: tf.Tensor; readonly sit: tf.Tensor }] {
  const [lv, gv, auxV] = toy.valueAndGrad(vaeObjective, 'vae')(s.store, b);
  const [ls, gs] = toy.valueAndGrad(diffusionToy, 'sit')(s.store, b);
  const [trained, o] = updateParams(opt, { vae: s.store.vae, sit: s.store.sit }, { vae: gv.vae, sit: gs.sit }, s.opt);
  const next: State = { store: { ...s.store, ...trained }, opt: o, step: s.step + 1 };
  releaseOld([s, gv, gs, auxV], next);
  return [next, { vae: toTensor(lv), sit: toTensor(ls) }] as const;
}

function init(seed: number): State {
  const [a, b2, c, d] = rng.split(rng.key(seed), 4) as [rng.Key, rng.Key, rng.Key, rng.Key];
  const store: Store<Toy> = { vae: { w: rng.normal(a, [3, 3]) }, sit: { w: rng.normal(b2, [3, 3]), b: rng.normal(c, [3]) }, enc: { w: rng.normal(d, [3, 3]) } };
  return { store, opt: opt.init({ vae: store.vae, sit: store.sit }), step: 0 };
}

describeEachBackend('toy training step', () => {
  it('leaves tf.memory().numTensors unchanged step after step, and decreases the losses', async () => {
    let s = init(1);
    const b: ToyBatch = { x: rng.normal(rng.key(2), [2, 3]), eps: rng.normal(rng.key(3), [2, 3]) };
    const first: number[] = [];
    let counts: number[] = [];
    for (let i = 0; i < 30; i++) {
      const [n, m] = step(s, b);
      s = n;
      const vals = [(await m.vae.data())[0] as number, (await m.sit.data())[0] as number];
      if (i === 0) first.push(...vals);
      dispose([m.vae, m.sit]);
      counts.push(tf.memory().numTensors);
    }
    counts = counts.slice(2); // adam moments are created lazily in step 1
    expect(new Set(counts).size).toBe(1);
    const [lv, auxE] = toy.evaluate(vaeObjective)(s.store, b);
    const [ls] = toy.evaluate(diffusionToy)(s.store, b);
    expect((await lv.data())[0]).toBeLessThan(first[0] as number);
    expect((await ls.data())[0]).toBeLessThan(first[1] as number);
    dispose([lv, ls, toTensor(auxE.z), toTensor(b.x), toTensor(b.eps)]);
    releaseOld(s, null);
  });
  it('the frozen encoder and untouched groups keep their exact tensors', () => {
    const s = init(4);
    const b: ToyBatch = { x: rng.normal(rng.key(5), [2, 3]), eps: rng.normal(rng.key(6), [2, 3]) };
    const enc = s.store.enc.w;
    const [n, m] = step(s, b);
    expect(n.store.enc.w).toBe(enc);
    expect(n.store.vae.w).not.toBe(s.store.vae.w);
    dispose([m.vae, m.sit, toTensor(b.x), toTensor(b.eps)]);
    releaseOld(n, null);
  });
});
