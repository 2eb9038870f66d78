/** @file Stochastic interpolants (linear, cosine) and training-time sampling (uniform, logit-normal). */
import { tensor } from '../../core/ops/create.js';
import { add, cos, div, mul, sin, sub } from '../../core/ops/elementwise.js';
import { normalArray, uniformArray, type Key } from '../../core/rng.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';

/** Interpolation path (official `path_type`): `'linear'` (default) or `'cosine'`. @category models */
export type PathType = 'linear' | 'cosine';
/** How training times are drawn (official `weighting`): `'uniform'` or `'lognormal'`. @category models */
export type TimeWeighting = 'uniform' | 'lognormal';

/**
 * The path coefficients at time `t` (t = 0 data, t = 1 noise): `x_t = α·x0 + σ·ε`, velocity target
 * `α'·x0 + σ'·ε`. Each is a tensor or a plain number (the linear path's constant derivatives).
 * @category models
 */
export interface PathCoefficients<A> {
  readonly alpha: A;
  readonly sigma: A;
  readonly dAlpha: A;
  readonly dSigma: A;
}

/**
 * Path coefficients as numbers (float64), for the samplers:
 * linear `α = 1−t, σ = t, α' = −1, σ' = 1`; cosine `α = cos(πt/2), σ = sin(πt/2),
 * α' = −(π/2) sin(πt/2), σ' = (π/2) cos(πt/2)`. Official: `SiT.interpolant`, `samplers.get_score_from_velocity`.
 * @category models
 */
export function pathCoefficientsAt(path: PathType, t: number): PathCoefficients<number> {
  switch (path) {
    case 'linear':
      return { alpha: 1 - t, sigma: t, dAlpha: -1, dSigma: 1 };
    case 'cosine': {
      const a = (t * Math.PI) / 2;
      return { alpha: Math.cos(a), sigma: Math.sin(a), dAlpha: (-Math.PI / 2) * Math.sin(a), dSigma: (Math.PI / 2) * Math.cos(a) };
    }
    default:
      return path satisfies never;
  }
}

/**
 * Path coefficients for a tensor of times (`t: [N, 1, 1, 1]` to broadcast over NHWC latents), in
 * the official float32 operation order. Official: `SiT.interpolant(t)`.
 * @category models
 */
export function pathCoefficients<G extends string>(path: PathType, t: T<G>): PathCoefficients<T<G> | number> {
  switch (path) {
    case 'linear':
      return { alpha: sub(1, t), sigma: t, dAlpha: -1, dSigma: 1 };
    case 'cosine':
      return tidy(() => {
        const a = div(mul(t, Math.PI), 2);
        return { alpha: cos(a), sigma: sin(a), dAlpha: mul(sin(a), -Math.PI / 2), dSigma: mul(cos(a), Math.PI / 2) };
      });
    default:
      return path satisfies never;
  }
}

/**
 * The interpolant and its velocity target: `x_t = α_t·x0 + σ_t·ε`, `v = α'_t·x0 + σ'_t·ε`
 * (linear: `v = ε − x0`). `x0`, `eps`: `[N, H, W, C]`, `t: [N, 1, 1, 1]`. Official: steps 3 of
 * `SiT.forward` (`model_input`, `model_target` with `prediction='v'`).
 *
 * @example
 * const { xt, target } = interpolate('linear', x0, eps, t)
 * @category models
 */
export function interpolate<X extends string, E extends string, G extends string>(
  path: PathType,
  x0: T<X>,
  eps: T<E>,
  t: T<G>,
): { readonly xt: T<X | E | G>; readonly target: T<X | E | G> } {
  return tidy(() => {
    const c = pathCoefficients(path, t);
    return {
      xt: add(mul(c.alpha, x0), mul(c.sigma, eps)),
      target: add(mul(c.dAlpha, x0), mul(c.dSigma, eps)),
    };
  });
}

/**
 * `n` training times in float64 from a key: uniform `U[0, 1)`, or lognormal `s = exp(n)`,
 * `n ~ N(0, 1)`, mapped to `s/(1+s)` (linear path: logit-normal) or `(2/π)·atan(s)` (cosine).
 * Official: the `time_input is None` branch of `SiT.forward`.
 * @category models
 */
export function sampleTimeArray(key: Key, n: number, weighting: TimeWeighting, path: PathType): Float64Array {
  if (weighting === 'uniform') return uniformArray(key, n);
  const z = normalArray(key, n);
  return Float64Array.from(z, (v) => {
    const s = Math.exp(v);
    return path === 'linear' ? s / (1 + s) : (2 / Math.PI) * Math.atan(s);
  });
}

/** {@link sampleTimeArray} as a constant float32 tensor `[n, 1, 1, 1]`. @category models */
export const sampleTime = (key: Key, n: number, weighting: TimeWeighting, path: PathType): T<never> =>
  tensor(Float32Array.from(sampleTimeArray(key, n, weighting, path)), [n, 1, 1, 1]);
