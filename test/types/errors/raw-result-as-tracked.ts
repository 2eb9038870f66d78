// A raw tfjs result cannot pose as a tracked tensor, constant or not.
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../../../src/core/index.js';
declare const a: tf.Tensor, b: tf.Tensor;
// expect-error: Property '[Deps]' is missing in type 'Tensor<Rank>' but required in type 'T<never>'
export const c: T<never> = tf.add(a, b);
