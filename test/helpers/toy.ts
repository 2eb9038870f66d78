/**
 * A toy two-group model (plus a frozen encoder) for laws and type tests: a "VAE" `z = tanh(x·vae.w)`,
 * a "SiT" `v = z·sit.w + sit.b` and a frozen "encoder" `f = x·enc.w`.
 */
import { constant } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { defineRegistry, type Registry, type Store } from '../../src/core/index.js';
import { add, matMul, mean, mul, square, stopGradient, sub, sum, tanh, type T } from '../../src/core/index.js';
import type { TensorData } from '../../laws/arbitraries.js';

export interface ToyVae<G extends string> { readonly w: T<G> }
export interface ToySit<G extends string> { readonly w: T<G>; readonly b: T<G> }
export interface ToyEnc<G extends string> { readonly w: T<G> }
export interface Toy extends Registry {
  readonly Frozen: 'enc';
  readonly vae: ToyVae<this['G']>;
  readonly sit: ToySit<this['G']>;
  readonly enc: ToyEnc<this['G']>;
}
export const toy = defineRegistry<Toy>({ groups: ['vae', 'sit', 'enc'], frozen: ['enc'] });
export interface ToyBatch { readonly x: T<never>; readonly eps: T<never> }

export const D = 3;
export const N = 2;
export const toyShapes = { vaeW: [D, D], sitW: [D, D], sitB: [D], encW: [D, D] } as const;

export const encodeToy = <G extends string>(w: T<G>, x: T<never>): T<G> => tanh(matMul(x, w));
export const sitToy = <G extends string, X extends string>(p: ToySit<G>, z: T<X>): T<G | X> => add(matMul(z, p.w), p.b);

/** Diffusion-like loss on stop-gradient latents: may differentiate 'sit' only. */
export const diffusionToy = toy.loss('diff', 'sit', (v, b: ToyBatch) => {
  const z = stopGradient(encodeToy(v.vae.w, b.x));
  return [mean(square(sub(sitToy(v.sit, add(z, b.eps)), b.eps))), {}] as const;
});
/** The same diffusion loss, relying on the view (not an explicit stopGradient) to keep the VAE constant. */
export const diffusionViaViewToy = toy.loss('diffView', 'sit', (v, b: ToyBatch) => {
  const z = encodeToy(v.vae.w, b.x); // T<never>: the view detached 'vae'
  return [mean(square(sub(sitToy(v.sit, add(z, b.eps)), b.eps))), {}] as const;
});
/** Alignment-like loss through SiT into the latents, vs the frozen encoder: declared over 'sit' and 'vae'. */
export const alignToy = toy.loss('align', 'sit|vae', (v, b: ToyBatch) => {
  const z = encodeToy(v.vae.w, b.x);
  const f = matMul(b.x, v.enc.w);
  return [mean(square(sub(sitToy(v.sit, z), f))), { z }] as const;
});
/** A VAE-only regulariser. */
export const regToy = toy.loss('reg', 'vae', (v, b: ToyBatch) => [mul(sum(square(v.vae.w)), 0.1), {}] as const);

export interface ToyStoreData { vaeW: TensorData; sitW: TensorData; sitB: TensorData; encW: TensorData }
export const mkToyStore = (d: ToyStoreData): Store<Toy> => ({
  vae: { w: constant(tf.tensor(d.vaeW.data as number[], [...d.vaeW.shape])) },
  sit: { w: constant(tf.tensor(d.sitW.data as number[], [...d.sitW.shape])), b: constant(tf.tensor(d.sitB.data as number[], [...d.sitB.shape])) },
  enc: { w: constant(tf.tensor(d.encW.data as number[], [...d.encW.shape])) },
});
export const mkToyBatch = (d: { x: TensorData; eps: TensorData }): ToyBatch => ({
  x: constant(tf.tensor(d.x.data as number[], [N, D])),
  eps: constant(tf.tensor(d.eps.data as number[], [N, D])),
});
