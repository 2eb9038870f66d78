/** @file Euler and Heun ODE samplers (official `samplers.euler_sampler`), float64 host state. */
import type { T } from '../core/tensor.js';
import {
  combineGuided, evalVelocity, fromHost, guidanceActive, labelsFor, toHost, torchLinspace, type GuidanceOptions, type SamplerProgress,
  type VelocityModel,
} from './cfg.js';

/** Options of {@link eulerSampler}. @category samplers */
export interface EulerOptions {
  /** Number of steps (grid `t_k = 1 − k/numSteps`). */
  readonly numSteps: number;
  /** Heun's second-order correction on every step but the last. */
  readonly heun?: boolean;
  /** Classifier-free guidance (off when absent or `scale ≤ 1`). */
  readonly guidance?: GuidanceOptions;
  /** Called after every step. */
  readonly onStep?: (p: SamplerProgress) => void;
}

/**
 * Integrates the probability-flow ODE from `t = 1` (noise `xT: [B, H, W, C]`) to `t = 0` with
 * Euler (or Heun) steps on the grid `linspace(1, 0, numSteps + 1)`:
 * `x_{k+1} = x_k + (t_{k+1} − t_k)·d`, with Heun `d = (v(x_k, t_k) + v(x_{k+1}, t_{k+1}))/2` except on
 * the last step; the guidance decision of a step is made with `t_k` for both evaluations.
 * The state is float64 on the host; the model is called in float32 (exactly as the official
 * code). Returns the float32 sample. NFE: `numSteps` (Euler) or `2·numSteps − 1` (Heun).
 * Official: `samplers.euler_sampler(model, latents, y, num_steps, heun, cfg_scale, guidance_low, guidance_high)`.
 *
 * @example
 * const x0 = await eulerSampler(sitVelocityModel(ema.sit, cfg), xT, [207, 360], { numSteps: 50, guidance: { scale: 1.8, high: 0.7 } })
 * @category samplers
 */
export async function eulerSampler(model: VelocityModel, xT: T<never>, y: ArrayLike<number>, opts: EulerOptions): Promise<T<never>> {
  if (!Number.isInteger(opts.numSteps) || opts.numSteps < 1) throw new RangeError(`eulerSampler: numSteps must be a positive integer, got ${opts.numSteps}`);
  const x0 = await toHost(xT);
  const labels = labelsFor(y, x0.shape[0]);
  const nullClass = opts.guidance?.nullClass ?? model.numClasses;
  const ts = torchLinspace(1, 0, opts.numSteps + 1);
  let x = x0.data;
  let nfe = 0;
  for (let i = 0; i < opts.numSteps; i++) {
    const tCur = ts[i] as number, tNext = ts[i + 1] as number;
    const guided = guidanceActive(opts.guidance, tCur);
    const scale = opts.guidance?.scale ?? 1;
    const cur = { data: x, shape: x0.shape };
    const r = await evalVelocity(model, cur, tCur, labels, guided, nullClass);
    nfe++;
    const d = guided ? combineGuided(r.v, scale) : r.v;
    const dt = tNext - tCur;
    let next = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) next[j] = (x[j] as number) + dt * (d[j] as number);
    if (opts.heun === true && i < opts.numSteps - 1) {
      const r2 = await evalVelocity(model, { data: next, shape: x0.shape }, tNext, labels, guided, nullClass);
      nfe++;
      const d2 = guided ? combineGuided(r2.v, scale) : r2.v;
      next = new Float64Array(x.length);
      for (let j = 0; j < x.length; j++) next[j] = (x[j] as number) + dt * (0.5 * (d[j] as number) + 0.5 * (d2[j] as number));
    }
    x = next;
    opts.onStep?.({ step: i + 1, numSteps: opts.numSteps, t: tCur, tNext, nfe });
  }
  return fromHost({ data: x, shape: x0.shape });
}
