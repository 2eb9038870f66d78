/**
 * Quickstart: a routed loss over two parameter groups, differentiated only where it may be.
 * Run: npx tsx examples/01-quickstart.ts
 */
import { useBestBackend } from '../src/backends/index.js';
import { defineRegistry, matMul, mean, read, rng, square, sub, tanh, type Registry, type Store, type T } from '../src/core/index.js';

interface Enc<G extends string> { readonly w: T<G> }
interface Head<G extends string> { readonly w: T<G> }
interface Model extends Registry {
  readonly Frozen: never;
  readonly enc: Enc<this['G']>;
  readonly head: Head<this['G']>;
}
const { loss, valueAndGrad } = defineRegistry<Model>({ groups: ['enc', 'head'], frozen: [] });

// The head is trained on encoder features it may not differentiate: the view hands it `enc` as constants.
const headLoss = loss('head', ['head'], (v, b: { x: T<never>; y: T<never> }) => {
  const feats = tanh(matMul(b.x, v.enc.w)); // T<never>: 'enc' is detached in this view
  return [mean(square(sub(matMul(feats, v.head.w), b.y))), {}] as const;
});

await useBestBackend();
const [k1, k2, k3, k4] = rng.split(rng.key(0), 4) as [rng.Key, rng.Key, rng.Key, rng.Key];
const store: Store<Model> = { enc: { w: rng.normal(k1, [4, 8]) }, head: { w: rng.normal(k2, [8, 1]) } };
const batch = { x: rng.normal(k3, [16, 4]), y: rng.normal(k4, [16, 1]) };
const [value, grads] = valueAndGrad(headLoss, ['head'])(store, batch);
console.log('loss', (await read(value))[0], '‖∇head‖ entries', (await read(grads.head.w!)).length);
// valueAndGrad(headLoss, ['enc']) does not compile: Type '"enc"' is not assignable to type '"head"'.
