// tfjs's `<T extends Tensor>(…): T` functions cannot consume a tracked tensor (T<G> is opaque), so
// they cannot infer a tracked result type from the context inside a loss over 'sit'.
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../../../src/core/index.js';
import { sitToy, toy, type ToyBatch } from '../../helpers/toy.js';
declare const liveZ: T<'vae'>;
// expect-error: readonly [Tensor<Rank>, {}]' is not assignable to parameter of type
export const bad = toy.loss('diff', 'sit', (v, b: ToyBatch) => [
  // expect-error: is not assignable to parameter of type 'Tensor<Rank> | TensorLike'
  tf.mean(tf.squaredDifference(sitToy(v.sit, liveZ), b.eps)),
  {},
] as const);
