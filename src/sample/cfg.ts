/**
 * @file The sampler's model interface and classifier-free guidance with a guidance interval
 * (official `samplers.py`): batch `[x; x]` with labels `[y; y_null]`, `u + s·(c − u)`.
 */
import { read, tensor } from '../core/ops/create.js';
import { dispose } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import type { SitConfig } from '../models/sit/config.js';
import { sitInference } from '../models/sit/forward.js';
import type { SitParams } from '../models/sit/params.js';

/**
 * A velocity field `v_θ(x, t, y)` as the samplers call it: `x: [B, H, W, C]` float32, `t: [B]`
 * float32, int32 labels `y: [B]` → `[B, H, W, C]` (must not leak tensors: only its result may
 * survive). `numClasses` is the default null class for guidance.
 * @category samplers
 */
export interface VelocityModel {
  /** `v_θ(x, t, y)`: the velocity `[B, H, W, C]` at latents `x`, times `t` and labels `y`. */
  readonly velocity: (x: T<never>, t: T<never>, y: T<never>) => T<never>;
  readonly numClasses: number;
}

/**
 * A SiT as a {@link VelocityModel}: {@link sitInference} (eval mode, no BatchNorm), null class
 * `cfg.numClasses`.
 *
 * @example
 * const model = sitVelocityModel(ema.sit, cfg)
 * const x0 = await eulerSampler(model, xT, labels, { numSteps: 50 })
 * @category samplers
 */
export const sitVelocityModel = (params: SitParams<never>, cfg: SitConfig): VelocityModel => ({
  velocity: (x, t, y) => sitInference(params, x, t, y, cfg),
  numClasses: cfg.numClasses,
});

/**
 * Classifier-free guidance: scale `s` and the interval `[low, high]` of `t_cur` where it is on
 * (defaults 0 and 1). Guidance is active iff `s > 1` and `low ≤ t_cur ≤ high`; t = 1 is noise,
 * so `high = 0.65` means no guidance in the noisiest 35 %. `nullClass` defaults to the model's
 * `numClasses` (the official samplers hard-code 1000, i.e. ImageNet).
 * @category samplers
 */
export interface GuidanceOptions {
  readonly scale: number;
  readonly low?: number;
  readonly high?: number;
  readonly nullClass?: number;
}

/** Whether guidance is active at `t` (official `cfg_scale > 1 and guidance_low <= t_cur <= guidance_high`). @category samplers */
export const guidanceActive = (g: GuidanceOptions | undefined, t: number): boolean =>
  g !== undefined && g.scale > 1 && t <= (g.high ?? 1) && t >= (g.low ?? 0);

/** Progress of a sampler, reported after every step. @category samplers */
export interface SamplerProgress {
  /** Steps done (1-based). */
  readonly step: number;
  readonly numSteps: number;
  /** The step's start and end times. */
  readonly t: number;
  readonly tNext: number;
  /** Model evaluations so far (a guided evaluation of the doubled batch counts once). */
  readonly nfe: number;
}

/**
 * The samplers' grid: `torch.linspace(start, end, steps)` in float64, reproducing PyTorch's
 * symmetric evaluation (`start + i·step` in the first half, `end − (steps−1−i)·step` after).
 * @category samplers
 */
export function torchLinspace(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (steps - 1);
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
  return out;
}

/** A float64 host state of NHWC latents. @category samplers */
export interface HostLatents {
  readonly data: Float64Array;
  readonly shape: readonly [number, number, number, number];
}

/** Reads NHWC latents to a float64 host state (the official `latents.to(torch.float64)`). @category samplers */
export async function toHost(x: T<never>): Promise<HostLatents> {
  if (x.shape.length !== 4) throw new RangeError(`sampler: latents must be NHWC [N, H, W, C], got [${x.shape.join(', ')}]`);
  return { data: Float64Array.from(await read(x)), shape: x.shape as [number, number, number, number] };
}

/** The float64 host state as a float32 tensor (the sampler's result). @category samplers */
export const fromHost = (x: HostLatents): T<never> => tensor(Float32Array.from(x.data), x.shape);

/**
 * One model evaluation at host state `x` and time `t`: casts `x` and `t` to float32 as the official
 * samplers do, doubles the batch to `[x; x]` with labels `[y; nullClass]` when `guided`, and
 * returns the float32 output widened to float64, in the (possibly doubled) batch order, together
 * with the float64 model input (the doubled state when guided).
 * @category samplers
 */
export async function evalVelocity(
  model: VelocityModel,
  x: HostLatents,
  t: number,
  y: Int32Array,
  guided: boolean,
  nullClass: number,
): Promise<{ readonly v: Float64Array; readonly input: Float64Array }> {
  const [b, h, w, c] = x.shape;
  const nb = guided ? 2 * b : b;
  const input = guided ? new Float64Array(2 * x.data.length) : x.data;
  if (guided) {
    input.set(x.data, 0);
    input.set(x.data, x.data.length);
  }
  const labels = new Int32Array(nb);
  labels.set(y, 0);
  if (guided) labels.fill(nullClass, b);
  const xt = tensor(Float32Array.from(input), [nb, h, w, c]);
  const tt = tensor(new Float32Array(nb).fill(Math.fround(t)), [nb]);
  const yt = tensor(labels, [nb], 'int32');
  let out: T<never> | undefined;
  try {
    out = model.velocity(xt, tt, yt);
    if (out.shape.join() !== xt.shape.join())
      throw new RangeError(`sampler: the model returned [${out.shape.join(', ')}] for input [${xt.shape.join(', ')}]`);
    const v = Float64Array.from(await read(out));
    return { v, input };
  } finally {
    dispose([xt, tt, yt, out]);
  }
}

/**
 * Combines a doubled batch `[cond; uncond]` into `u + s·(c − u)` in float64 (official
 * `d_uncond + cfg_scale * (d_cond - d_uncond)`).
 * @category samplers
 */
export function combineGuided(d: Float64Array, scale: number): Float64Array {
  const n = d.length / 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const cnd = d[i] as number, unc = d[n + i] as number;
    out[i] = unc + scale * (cnd - unc);
  }
  return out;
}

/** Checks sampler labels (one per sample) and converts them to int32. @category samplers */
export function labelsFor(y: ArrayLike<number>, batch: number): Int32Array {
  if (y.length !== batch) throw new RangeError(`sampler: ${y.length} labels for a batch of ${batch}`);
  return Int32Array.from(y);
}
