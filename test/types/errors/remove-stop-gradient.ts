// Removing the stop-gradient in the step: feeding the SiT objective a live VAE latent.
import type { T } from '../../../src/core/index.js';
import type { SitBatch } from '../../../src/repae/routing.js';
declare const batch: SitBatch;
declare const liveZ: T<'vae'>;
// expect-error: Type 'T<"vae">' is not assignable to type 'T<never>'
export const b: SitBatch = { ...batch, z: liveZ };
