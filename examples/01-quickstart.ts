// A routed loss: the head is trained on encoder features it may not differentiate.
import { useBestBackend } from 'repae/backends';
import { defineRegistry, matMul, mean, readScalar, rng, square, sub, tanh, type Registry, type Store, type T } from 'repae/core';

interface Enc<G extends string> { readonly w: T<G> }
interface Head<G extends string> { readonly w: T<G> }
interface Model extends Registry { readonly Frozen: never; readonly enc: Enc<this['G']>; readonly head: Head<this['G']> }
const { loss, valueAndGrad } = defineRegistry<Model>({ groups: ['enc', 'head'], frozen: [] });

// May differentiate 'head' only: in its view 'enc' is detached, so `feats` is a constant T<never>.
const headLoss = loss('head', 'head', (v, b: { x: T<never>; y: T<never> }) => {
  const feats = tanh(matMul(b.x, v.enc.w));
  return [mean(square(sub(matMul(feats, v.head.w), b.y))), {}] as const;
});

await useBestBackend(); // wasm on a CPU (registers tfjs's gradients too)
const [k1, k2, k3, k4] = rng.split(rng.key(0), 4) as [rng.Key, rng.Key, rng.Key, rng.Key];
const store: Store<Model> = { enc: { w: rng.normal(k1, [4, 8]) }, head: { w: rng.normal(k2, [8, 1]) } };
const batch = { x: rng.normal(k3, [16, 4]), y: rng.normal(k4, [16, 1]) };

const [value, grads] = valueAndGrad(headLoss, 'head')(store, batch); // grads.head.w: T<never> | null
console.log('loss', await readScalar(value), 'grad of head.w:', grads.head.w === null ? 'none' : 'computed');

try {
  // @ts-expect-error 'enc' is not a group of this loss: headLoss may not differentiate 'enc'.
  valueAndGrad(headLoss, 'enc');
} catch (e) {
  console.log('and at run time:', (e as Error).message); // valueAndGrad(head): 'enc' is not in wrt [head]
}
// @ts-expect-error Type 'T<"enc" | "head">' is not assignable to type 'Scalar<"head">': the value depends on 'enc'.
loss('bad', 'head', (v, b: { z: T<'enc'> }) => [mean(matMul(b.z, v.head.w)), {}] as const);
