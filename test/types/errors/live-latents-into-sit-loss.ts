// Feeding live VAE latents to a loss declared over SiT only.
import { mean, type T } from '../../../src/core/index.js';
import { sitToy, toy } from '../../helpers/toy.js';
// expect-error: Type 'T<"vae" | "sit">' is not assignable to type 'Scalar<"sit">'
export const bad = toy.loss('diff', 'sit', (v, b: { readonly z: T<'vae'> }) => [mean(sitToy(v.sit, b.z)), {}] as const);
