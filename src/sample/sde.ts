/** @file Euler–Maruyama SDE sampler (official `samplers.euler_maruyama_sampler`), float64 host state. */
import { fold, normalArray, type Key } from '../core/rng.js';
import type { T } from '../core/tensor.js';
import { pathCoefficientsAt, type PathType } from '../models/sit/interpolant.js';
import {
  combineGuided, evalVelocity, fromHost, guidanceActive, labelsFor, toHost, torchLinspace, type GuidanceOptions, type SamplerProgress,
  type VelocityModel,
} from './cfg.js';

/** Options of {@link eulerMaruyamaSampler}. @category samplers */
export interface EulerMaruyamaOptions {
  /** Number of steps (= NFE): `numSteps` grid points from 1 to 0.04, then 0. Must be ≥ 2. */
  readonly numSteps: number;
  /** Classifier-free guidance (applied to the drift). */
  readonly guidance?: GuidanceOptions;
  /** Interpolation path used to turn the velocity into a score (default `'linear'`). */
  readonly path?: PathType;
  /** Key for the step noises (step `k` uses `normal(fold(key, k))`). */
  readonly key?: Key;
  /** Injected step noises instead of `key`: `numSteps − 1` NHWC arrays of `B·H·W·C` values (official `torch.randn_like(x_cur)`). */
  readonly noise?: readonly ArrayLike<number>[];
  /** Called after every step. */
  readonly onStep?: (p: SamplerProgress) => void;
}

/**
 * The score from a velocity, per element: `s = (r·v − x)/var` with `r = α/α'`,
 * `var = σ² − r·σ'·σ` (linear path: `s = −((1−t)·v + x)/t`). Official: `get_score_from_velocity`.
 * @category samplers
 */
export function scoreFromVelocity(v: number, x: number, t: number, path: PathType): number {
  const c = pathCoefficientsAt(path, t);
  const r = c.alpha / c.dAlpha;
  const variance = c.sigma * c.sigma - r * c.dSigma * c.sigma;
  return (r * v - x) / variance;
}

/**
 * Integrates the reverse SDE with diffusion `g(t) = 2t` from `t = 1` (`xT: [B, H, W, C]`) to 0 on
 * the grid `[linspace(1, 0.04, numSteps), 0]`: for the first `numSteps − 1` intervals
 * `x ← x + d·Δt + √g·√|Δt|·ε` with drift `d = v − ½·g·score(v, x, t)` (guidance applied to the drift
 * of the doubled batch), and a final deterministic step `x ← x + Δt·d` from 0.04 to 0. State in
 * float64 on the host, model in float32. Noise from `opts.noise` (injected) or `opts.key`.
 * Official: `samplers.euler_maruyama_sampler` (README evaluation: 250 steps).
 *
 * @example
 * const x0 = await eulerMaruyamaSampler(model, xT, labels, { numSteps: 250, key: rng.key(0), guidance: { scale: 1.8, high: 0.7 } })
 * @category samplers
 */
export async function eulerMaruyamaSampler(
  model: VelocityModel,
  xT: T<never>,
  y: ArrayLike<number>,
  opts: EulerMaruyamaOptions,
): Promise<T<never>> {
  const n = opts.numSteps;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`eulerMaruyamaSampler: numSteps must be an integer ≥ 2, got ${n}`);
  const x0 = await toHost(xT);
  const size = x0.data.length;
  if (opts.noise !== undefined) {
    if (opts.noise.length < n - 1) throw new RangeError(`eulerMaruyamaSampler: ${opts.noise.length} injected noises for ${n - 1} stochastic steps`);
    opts.noise.forEach((e, k) => {
      if (e.length !== size) throw new RangeError(`eulerMaruyamaSampler: noise[${k}] has ${e.length} values, the state has ${size}`);
    });
  } else if (opts.key === undefined) throw new Error('eulerMaruyamaSampler: give opts.key or opts.noise');
  const labels = labelsFor(y, x0.shape[0]);
  const nullClass = opts.guidance?.nullClass ?? model.numClasses;
  const path = opts.path ?? 'linear';
  const scale = opts.guidance?.scale ?? 1;
  const ts = new Float64Array(n + 1);
  ts.set(torchLinspace(1, 0.04, n), 0);
  ts[n] = 0;
  let x = x0.data;
  let nfe = 0;
  /** The (guided) drift at the current state. */
  const drift = async (tCur: number): Promise<Float64Array> => {
    const guided = guidanceActive(opts.guidance, tCur);
    const r = await evalVelocity(model, { data: x, shape: x0.shape }, tCur, labels, guided, nullClass);
    nfe++;
    const diffusion = 2 * tCur;
    const d = new Float64Array(r.v.length);
    for (let j = 0; j < d.length; j++) {
      const v = r.v[j] as number;
      d[j] = v - 0.5 * diffusion * scoreFromVelocity(v, r.input[j] as number, tCur, path);
    }
    return guided ? combineGuided(d, scale) : d;
  };
  for (let i = 0; i < n - 1; i++) {
    const tCur = ts[i] as number, tNext = ts[i + 1] as number;
    const dt = tNext - tCur;
    const diffusion = 2 * tCur;
    const eps = opts.noise?.[i] ?? normalArray(fold(opts.key as Key, i), size);
    const d = await drift(tCur);
    const sdt = Math.sqrt(Math.abs(dt)), sg = Math.sqrt(diffusion);
    const next = new Float64Array(size);
    for (let j = 0; j < size; j++) next[j] = (x[j] as number) + (d[j] as number) * dt + sg * ((eps[j] as number) * sdt);
    x = next;
    opts.onStep?.({ step: i + 1, numSteps: n, t: tCur, tNext, nfe });
  }
  const tCur = ts[n - 1] as number, tNext = ts[n] as number;
  const dt = tNext - tCur;
  const d = await drift(tCur);
  const out = new Float64Array(size);
  for (let j = 0; j < size; j++) out[j] = (x[j] as number) + dt * (d[j] as number);
  opts.onStep?.({ step: n, numSteps: n, t: tCur, tNext, nfe });
  return fromHost({ data: out, shape: x0.shape });
}
