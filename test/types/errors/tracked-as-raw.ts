// A tracked tensor is not a tfjs tensor: it cannot be handed to raw tfjs (only constants, via toTensor).
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../../../src/core/index.js';
declare const liveZ: T<'vae'>;
// expect-error: Type 'T<"vae">' is missing the following properties from type 'Tensor<Rank>'
export const r: tf.Tensor = liveZ;
