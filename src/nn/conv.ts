/** @file 2-D convolution layer (NHWC) with PyTorch's default initialisation and padding semantics. */
import { conv2d as conv2dOp, type Padding } from '../core/ops/conv.js';
import { tensor } from '../core/ops/create.js';
import { add } from '../core/ops/elementwise.js';
import { tidy } from '../core/scope.js';
import { uniformArray, type Key, split } from '../core/rng.js';
import type { T } from '../core/tensor.js';

/**
 * Parameters of a 2-D convolution: kernel `w: [kh, kw, in, out]` (tfjs layout; the state-dict maps
 * transpose from PyTorch's `[out, in, kh, kw]`) and optional bias `b: [out]` (absent for
 * `bias=False` convs, e.g. the PatchGAN convs before a BatchNorm).
 * @category layers
 */
export interface Conv2dParams<G extends string> {
  readonly w: T<G>;
  readonly b?: T<G>;
}

/** Shape of a convolution to initialise (PyTorch `nn.Conv2d(inCh, outCh, kernel, bias=bias)`). @category layers */
export interface Conv2dConfig {
  readonly inCh: number;
  readonly outCh: number;
  /** Square kernel size. */
  readonly kernel: number;
  /** Whether the conv has a bias (default true). */
  readonly bias?: boolean;
}

/**
 * PyTorch-style padding: a number `p` pads every side by `p` (`nn.Conv2d(padding=p)`); a tuple
 * `[left, right, top, bottom]` pads per side as `F.pad(x, (left, right, top, bottom))` does
 * before a `padding=0` conv (the VAE `Downsample` uses `[0, 1, 0, 1]`).
 * @category layers
 */
export type TorchPadding = number | readonly [number, number, number, number];

/** Options of {@link conv2d}: stride (default 1) and PyTorch padding (default 0). @category layers */
export interface Conv2dOptions {
  readonly stride?: number;
  readonly padding?: TorchPadding;
}

/**
 * Converts PyTorch padding to the core op's per-side `[[top, bottom], [left, right]]`.
 * @category layers
 */
export const torchPadding = (p: TorchPadding): Padding =>
  typeof p === 'number'
    ? [
        [p, p],
        [p, p],
      ]
    : [
        [p[2], p[3]],
        [p[0], p[1]],
      ];

/** The VAE `Downsample` padding: zero-pad right and bottom by one (`F.pad(x, (0, 1, 0, 1))`). @category layers */
export const DOWNSAMPLE_PAD: TorchPadding = [0, 1, 0, 1];

/**
 * Uniform float32 values in `[−bound, bound)` from a key (plain JS, identical on every backend).
 * @category constructors
 */
export function uniformSymmetric(key: Key, shape: readonly number[], bound: number): T<never> {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = uniformArray(key, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * (u[i] as number) - 1) * bound;
  return tensor(out, shape);
}

/**
 * Fresh convolution parameters with PyTorch's default init: `kaiming_uniform_(a=√5)` for the
 * kernel, i.e. `U(−1/√fan_in, 1/√fan_in)` with `fan_in = in·kh·kw`, and the same bound for the bias.
 * Official: `torch.nn.Conv2d.reset_parameters`.
 *
 * @example
 * const p = initConv2d(rng.key(0), { inCh: 3, outCh: 128, kernel: 3 })   // w: [3, 3, 3, 128]
 * @category constructors
 */
export function initConv2d(key: Key, cfg: Conv2dConfig): Conv2dParams<never> {
  const [kw, kb] = split(key) as [Key, Key];
  const bound = 1 / Math.sqrt(cfg.inCh * cfg.kernel * cfg.kernel);
  const w = uniformSymmetric(kw, [cfg.kernel, cfg.kernel, cfg.inCh, cfg.outCh], bound);
  return cfg.bias === false ? { w } : { w, b: uniformSymmetric(kb, [cfg.outCh], bound) };
}

/**
 * Applies a 2-D convolution layer: `x: [N, H, W, in]` → `[N, H', W', out]` with
 * `H' = ⌊(H + top + bottom − kh)/stride⌋ + 1`. Official: `torch.nn.Conv2d(..., stride, padding)`
 * (and `F.pad` + `padding=0` for tuple paddings).
 *
 * The bias is added after an unfused convolution on purpose: the fused kernel's gradient always
 * computes the kernel gradient, even for frozen or detached kernels (LPIPS's VGG16), while the
 * unfused one computes only the gradients that backprop asks for.
 *
 * @example
 * const h = conv2d(p.convIn, x, { padding: 1 })
 * const d = conv2d(p.downsample, h, { stride: 2, padding: DOWNSAMPLE_PAD })
 * @category layers
 */
export const conv2d = <G extends string, X extends string>(
  p: Conv2dParams<G>,
  x: T<X>,
  opts: Conv2dOptions = {},
): T<G | X> => {
  const b = p.b;
  const pad = torchPadding(opts.padding ?? 0);
  if (b === undefined) return conv2dOp(x, p.w, undefined, opts.stride ?? 1, pad);
  return tidy(() => add(conv2dOp(x, p.w, undefined, opts.stride ?? 1, pad), b));
};
