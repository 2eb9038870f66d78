/** @file AutoencoderKL (official `models/autoencoder.py`): encode, decode and the training forward, NHWC. */
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import { conv2d } from '../../nn/conv.js';
import { decoder } from './decoder.js';
import { encoder } from './encoder.js';
import { posteriorFromMoments, posteriorSample, type Posterior, type SampleNoise } from './posterior.js';
import type { VaeParams } from './params.js';

export * from './config.js';
export * from './params.js';
export * from './blocks.js';
export * from './encoder.js';
export * from './decoder.js';
export * from './posterior.js';

/**
 * Encodes images `x: [N, H, W, 3]` in [−1, 1] to the posterior over latents `[N, H/f, W/f, E]`
 * (`f = 2^(L−1)`): `moments = quantConv(encoder(x))`. Official: `AutoencoderKL.encode`.
 *
 * @example
 * const post = vaeEncode(p, x); const z = posteriorMode(post)
 * @category models
 */
export const vaeEncode = <G extends string, X extends string>(p: VaeParams<G>, x: T<X>): Posterior<G | X> =>
  tidy(() => posteriorFromMoments(conv2d(p.quantConv, encoder(p.encoder, x))));

/**
 * Decodes raw (un-normalised) latents `z: [N, h, w, E]` to images `[N, h·f, w·f, 3]`:
 * `decoder(postQuantConv(z))`. Official: `AutoencoderKL.decode(z).sample`.
 * @category models
 */
export const vaeDecode = <G extends string, Z extends string>(p: VaeParams<G>, z: T<Z>): T<G | Z> =>
  tidy(() => decoder(p.decoder, conv2d(p.postQuantConv, z)));

/** The result of {@link vaeForward}: the posterior, the sampled latent and the reconstruction. @category models */
export interface VaeForward<G extends string> {
  readonly posterior: Posterior<G>;
  /** `posterior.sample()`: raw latent `[N, h, w, E]` (not normalised). */
  readonly z: T<G>;
  /** `decode(z)`: reconstruction `[N, H, W, 3]`. */
  readonly xHat: T<G>;
}

/**
 * The training forward: encode, sample `z = mean + std·ε` (ε injected or drawn from a key), decode.
 * Official: `AutoencoderKL.forward(x)` → `(posterior, z, recon)`.
 *
 * @example
 * const { posterior, z, xHat } = vaeForward(view.vae, x, { key: rng.fold(k, step) })
 * @category models
 */
export function vaeForward<G extends string, X extends string, E extends string = never>(
  p: VaeParams<G>,
  x: T<X>,
  noise: SampleNoise<E>,
): VaeForward<G | X | E> {
  return tidy(() => {
    const posterior = vaeEncode(p, x);
    const z = posteriorSample(posterior, noise);
    return { posterior, z, xHat: vaeDecode(p, z) };
  });
}
