/** @file stopGradient: the one primitive that discharges groups from a tensor's type. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { raw, tag } from './internal.js';
import type { T } from './tensor.js';

/**
 * Stops gradients: returns `x` unchanged, but autodiff treats the result as a constant.
 *
 * The result's type drops every group `x` depended on (`T<G>` → `T<never>`), so a loss declared
 * over `'sit'` can consume it. Zero-copy on every backend: it is a custom-gradient node with **no
 * inputs**, so backprop never visits the subgraph behind it (official: `z.detach()`).
 *
 * @example
 * const z = stopGradient(vaeForward(view.vae, x).z)   // T<never>
 * @see freeze for discharging a whole group from a loss
 * @category transforms
 */
export function stopGradient<G extends string>(x: T<G>): T<never> {
  // reshape, not clone: a zero-copy view on every backend (wasm's Identity kernel copies the buffer).
  const f = tf.customGrad(() => ({ value: tf.reshape(raw(x), [...x.shape]), gradFunc: () => [] })) as unknown as () => tf.Tensor;
  return tag<never>(f());
}
