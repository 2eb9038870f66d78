// In a browser page (bundled by Vite): pick the fastest backend there and differentiate a routed loss.
import { useBestBackend } from 'repae/backends';
import { defineRegistry, matMul, mean, readScalar, rng, square, sub, type Registry, type Store, type T } from 'repae/core';

interface Lin<G extends string> { readonly w: T<G> }
interface Model extends Registry { readonly Frozen: never; readonly lin: Lin<this['G']> }
const { loss, valueAndGrad } = defineRegistry<Model>({ groups: ['lin'], frozen: [] });
const fit = loss('fit', 'lin', (v, b: { x: T<never>; y: T<never> }) => [mean(square(sub(matMul(b.x, v.lin.w), b.y))), {}] as const);

const backend = await useBestBackend(['webgpu', 'wasm', 'cpu']);
const [k1, k2, k3] = rng.split(rng.key(0), 3) as [rng.Key, rng.Key, rng.Key];
const store: Store<Model> = { lin: { w: rng.normal(k1, [4, 1]) } };
const [value] = valueAndGrad(fit, 'lin')(store, { x: rng.normal(k2, [8, 4]), y: rng.normal(k3, [8, 1]) });
document.body.textContent = `${backend}: loss ${await readScalar(value)}`;
