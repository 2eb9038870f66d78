// constant()/fromTensor() accept untracked tfjs tensors only: a live latent cannot be laundered.
import { constant, fromTensor, type T } from '../../../src/core/index.js';
declare const liveZ: T<'vae'>;
// expect-error: Argument of type 'T<"vae">' is not assignable to parameter of type 'Tensor<Rank>'
export const c = constant(liveZ);
// expect-error: Argument of type 'T<"vae">' is not assignable to parameter of type 'Tensor<Rank>'
export const f = fromTensor(liveZ);
