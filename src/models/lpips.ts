/**
 * @file LPIPS-VGG16 perceptual distance (official `loss/lpips.py`, richzhang LPIPS v0.1), NHWC. A
 * frozen group: its parameters are read by the VAE loss and never trained.
 */
import { maxPool } from '../core/ops/conv.js';
import { tensor } from '../core/ops/create.js';
import { add, div, mul, relu, sqrt, square, sub } from '../core/ops/elementwise.js';
import { mean, sum } from '../core/ops/reduce.js';
import { reshape } from '../core/ops/shape.js';
import { tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { conv2d, type Conv2dParams } from '../nn/conv.js';

/** One 3×3 conv of the VGG16 trunk: LPIPS slice (1–5), torchvision `features` index, widths. @category models */
export interface Vgg16Conv {
  readonly slice: number;
  readonly index: number;
  readonly inCh: number;
  readonly outCh: number;
}

/**
 * The 13 convs of torchvision `vgg16().features[0:30]`, grouped as LPIPS's five slices ending at
 * relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (each conv is followed by a ReLU; slices 2–5 start
 * with a 2×2 max-pool at features index 4, 9, 16, 23).
 * @category models
 */
export const VGG16_CONVS: readonly Vgg16Conv[] = [
  { slice: 1, index: 0, inCh: 3, outCh: 64 },
  { slice: 1, index: 2, inCh: 64, outCh: 64 },
  { slice: 2, index: 5, inCh: 64, outCh: 128 },
  { slice: 2, index: 7, inCh: 128, outCh: 128 },
  { slice: 3, index: 10, inCh: 128, outCh: 256 },
  { slice: 3, index: 12, inCh: 256, outCh: 256 },
  { slice: 3, index: 14, inCh: 256, outCh: 256 },
  { slice: 4, index: 17, inCh: 256, outCh: 512 },
  { slice: 4, index: 19, inCh: 512, outCh: 512 },
  { slice: 4, index: 21, inCh: 512, outCh: 512 },
  { slice: 5, index: 24, inCh: 512, outCh: 512 },
  { slice: 5, index: 26, inCh: 512, outCh: 512 },
  { slice: 5, index: 28, inCh: 512, outCh: 512 },
];

/** Feature widths of the five LPIPS layers (relu1_2 … relu5_3). @category models */
export const LPIPS_CHANNELS: readonly number[] = [64, 128, 256, 512, 512];

/** Scaling-layer shift (official buffer `scaling_layer.shift`). @category models */
export const LPIPS_SHIFT: readonly number[] = [-0.03, -0.088, -0.188];
/** Scaling-layer scale (official buffer `scaling_layer.scale`). @category models */
export const LPIPS_SCALE: readonly number[] = [0.458, 0.448, 0.45];

/** The VGG16 trunk: `slices[s]` holds the convs of LPIPS slice `s+1` in order (2, 2, 3, 3, 3 convs). @category models */
export interface Vgg16FeaturesParams<G extends string> {
  readonly slices: readonly (readonly Conv2dParams<G>[])[];
}

/**
 * LPIPS parameters: the VGG16 trunk, the five `lin` 1×1 kernels `[1, 1, c_k, 1]` (no bias;
 * official `lin{k}.model.1.weight` `[1, c_k, 1, 1]`) and the scaling-layer buffers `shift`, `scale` `[3]`.
 * @category models
 */
export interface LpipsParams<G extends string> {
  readonly net: Vgg16FeaturesParams<G>;
  readonly lin: readonly T<G>[];
  readonly shift: T<never>;
  readonly scale: T<never>;
}

/** The official scaling-layer constants as tensors `[3]`. @category constructors */
export const initLpipsScaling = (): { readonly shift: T<never>; readonly scale: T<never> } => ({
  shift: tensor(LPIPS_SHIFT, [3]),
  scale: tensor(LPIPS_SCALE, [3]),
});

/**
 * VGG16 features at the five LPIPS layers: `x: [N, H, W, 3]` (already scaled) →
 * `[relu1_2 [N,H,W,64], relu2_2 [N,H/2,W/2,128], relu3_3, relu4_3, relu5_3 [N,H/16,W/16,512]]`.
 * Official: `lpips.vgg16.forward` over torchvision `features[0:30]`.
 * @category models
 */
export function vgg16Features<G extends string, X extends string>(p: Vgg16FeaturesParams<G>, x: T<X>): T<G | X>[] {
  return tidy(() => {
    const outs: T<G | X>[] = [];
    let h: T<G | X> = x;
    p.slices.forEach((convs, s) => {
      if (s > 0) h = maxPool(h, 2, 2, 'valid');
      for (const c of convs) h = relu(conv2d(c, h, { padding: 1 }));
      outs.push(h);
    });
    return outs;
  });
}

/** Unit-normalises features over channels: `f / (√(Σ_c f²) + 1e-10)`. Official: `normalize_tensor`. @category models */
export const normalizeChannels = <G extends string>(f: T<G>, eps = 1e-10): T<G> =>
  tidy(() => div(f, add(sqrt(sum(square(f), -1, true)), eps)));

/**
 * Options of {@link lpips}: `legacyRescale` applies `2x − 1` to both inputs before the scaling
 * layer, as the official code did before commit a594880 (the released REPA-E checkpoints were
 * trained that way, REPAE_SPEC §10.7). Default false (commit `09de2e9`).
 * @category models
 */
export interface LpipsOptions {
  readonly legacyRescale?: boolean;
}

/**
 * The five per-layer LPIPS maps before the spatial mean: `lin_k((n(f_k(x0)) − n(f_k(x1)))²)`,
 * each `[N, h_k, w_k, 1]`. Inputs `[N, H, W, 3]` are in [−1, 1] and go straight into the scaling
 * layer `(x − shift)/scale` (no `2x − 1` rescale, as at official commit `09de2e9`, unless
 * `opts.legacyRescale`). Official: `LPIPS.forward` up to `lins[kk].model(diffs[kk])`.
 * @category models
 */
export function lpipsLayers<G extends string, X extends string, Y extends string>(
  p: LpipsParams<G>,
  x0: T<X>,
  x1: T<Y>,
  opts: LpipsOptions = {},
): T<G | X | Y>[] {
  return tidy(() => {
    const pre = <Z extends string>(x: T<Z>): T<Z> => (opts.legacyRescale === true ? sub(mul(x, 2), 1) : x);
    const f0 = vgg16Features(p.net, div(sub(pre(x0), p.shift), p.scale));
    const f1 = vgg16Features(p.net, div(sub(pre(x1), p.shift), p.scale));
    return f0.map((a, k) => {
      const b = f1[k]!;
      const lin = p.lin[k];
      if (lin === undefined) throw new Error(`lpips: missing lin${k}`);
      return conv2d({ w: lin }, square(sub(normalizeChannels(a), normalizeChannels(b))));
    });
  });
}

/**
 * LPIPS distance per sample: `Σ_k mean_{h,w} lpipsLayers(x0, x1)[k]` → `[N]` (the official
 * `[N, 1, 1, 1]` flattened). Official: `LPIPS.forward(input, target)`; the VAE loss uses its batch mean.
 *
 * @example
 * const d = lpips(view.lpips, x, xHat)   // T<'lpips' | …>, shape [N]
 * @category models
 */
export function lpips<G extends string, X extends string, Y extends string>(
  p: LpipsParams<G>,
  x0: T<X>,
  x1: T<Y>,
  opts: LpipsOptions = {},
): T<G | X | Y> {
  return tidy(() => {
    const maps = lpipsLayers(p, x0, x1, opts);
    let total: T<G | X | Y> | undefined;
    for (const m of maps) {
      const avg = reshape(mean(m, [1, 2]), [m.shape[0] as number]);
      total = total === undefined ? avg : add(total, avg);
    }
    if (total === undefined) throw new Error('lpips: no layers');
    return total;
  });
}
