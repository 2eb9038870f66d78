/** @file The diagonal Gaussian posterior of the KL autoencoder (official `DiagonalGaussianDistribution`), NHWC. */
import { add, clip, exp, mul, square, sub } from '../../core/ops/elementwise.js';
import { sum } from '../../core/ops/reduce.js';
import { slice } from '../../core/ops/shape.js';
import { normal, type Key } from '../../core/rng.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';

/**
 * A diagonal Gaussian over latents `[N, h, w, E]`: `moments` `[N, h, w, 2E]` as produced by
 * `quant_conv` (before the clamp), `mean = moments[..., :E]`, `logvar = clamp(moments[..., E:], −30, 20)`,
 * `std = exp(logvar/2)`, `var = exp(logvar)`.
 * @category models
 */
export interface Posterior<G extends string> {
  readonly moments: T<G>;
  readonly mean: T<G>;
  readonly logvar: T<G>;
  readonly std: T<G>;
  readonly var: T<G>;
}

/** Randomness for {@link posteriorSample}: an injected `eps ~ N(0, I)` of the latent shape, or a key to draw it from. @category models */
export type SampleNoise<E extends string = never> = { readonly eps: T<E> } | { readonly key: Key };

/**
 * Builds the posterior from `moments: [N, h, w, 2E]` (channels-last; the first `E` channels are
 * the mean). Official: `DiagonalGaussianDistribution(parameters)` (`deterministic=False`).
 * The result's `moments` is the argument itself (not a copy): dispose the other fields only.
 * @category models
 */
export function posteriorFromMoments<G extends string>(moments: T<G>): Posterior<G> {
  const c = moments.shape[moments.rank - 1] as number;
  if (c % 2 !== 0) throw new Error(`posteriorFromMoments: expected 2E channels, got ${c}`);
  const e = c / 2;
  const lead = moments.shape.slice(0, -1).map(() => 0);
  const size = moments.shape.slice(0, -1).map(() => -1);
  return tidy(() => {
    const mean = slice(moments, [...lead, 0], [...size, e]);
    const logvar = clip(slice(moments, [...lead, e], [...size, e]), -30, 20);
    return { moments, mean, logvar, std: exp(mul(logvar, 0.5)), var: exp(logvar) };
  });
}

/**
 * A reparameterised sample `mean + std·ε` (gradient flows to mean and logvar). `ε` is injected
 * (`{ eps }`, shape of the mean) or drawn from `{ key }`. Official: `DiagonalGaussianDistribution.sample()`.
 * @category models
 */
export function posteriorSample<G extends string, E extends string = never>(p: Posterior<G>, noise: SampleNoise<E>): T<G | E> {
  return tidy(() => {
    const eps: T<E> = 'eps' in noise ? noise.eps : normal(noise.key, p.mean.shape);
    if (eps.shape.join() !== p.mean.shape.join())
      throw new Error(`posteriorSample: eps has shape [${eps.shape.join(', ')}], expected [${p.mean.shape.join(', ')}]`);
    return add(p.mean, mul(p.std, eps));
  });
}

/** The mode (= mean). Official: `DiagonalGaussianDistribution.mode()`. @category models */
export const posteriorMode = <G extends string>(p: Posterior<G>): T<G> => p.mean;

/**
 * KL divergence to the standard normal per sample, `0.5·Σ_{h,w,c}(mean² + var − 1 − logvar)` → `[N]`.
 * Official: `DiagonalGaussianDistribution.kl()`.
 * @category models
 */
export function posteriorKl<G extends string>(p: Posterior<G>): T<G> {
  const axes = Array.from({ length: p.mean.rank - 1 }, (_, i) => i + 1);
  return tidy(() => mul(sum(sub(sub(add(square(p.mean), p.var), 1), p.logvar), axes), 0.5));
}
