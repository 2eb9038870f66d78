/** @file AutoencoderKL building blocks (official `models/autoencoder.py`), NHWC. */
import { upsampleNearest } from '../../core/ops/conv.js';
import { add, mul, silu, softmax } from '../../core/ops/elementwise.js';
import { matMul } from '../../core/ops/linalg.js';
import { reshape } from '../../core/ops/shape.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import { conv2d, DOWNSAMPLE_PAD } from '../../nn/conv.js';
import { groupNorm } from '../../nn/group-norm.js';
import type { AttnBlockParams, ResampleParams, ResnetBlockParams } from './params.js';

/**
 * `ResnetBlock` forward: `h = conv1(swish(norm1(x)))`, `h = conv2(swish(norm2(h)))` (dropout p = 0),
 * output `shortcut(x) + h` with the 1×1 `ninShortcut` when the width changes.
 * `x: [N, H, W, in]` → `[N, H, W, out]`. Official: `ResnetBlock.forward` (no timestep embedding).
 * @category layers
 */
export function resnetBlock<G extends string, X extends string>(p: ResnetBlockParams<G>, x: T<X>): T<G | X> {
  return tidy(() => {
    let h = conv2d(p.conv1, silu(groupNorm(p.norm1, x)), { padding: 1 });
    h = conv2d(p.conv2, silu(groupNorm(p.norm2, h)), { padding: 1 });
    const skip: T<G | X> = p.ninShortcut === undefined ? x : conv2d(p.ninShortcut, x);
    return add(skip, h);
  });
}

/**
 * `AttnBlock` forward: single-head self-attention over the `H·W` positions,
 * `out_i = Σ_j softmax_j(q_i·k_j / √C) v_j`, then `x + projOut(out)`. `x: [N, H, W, C]`.
 * Official: `AttnBlock.forward` (scale `C^-0.5`).
 * @category layers
 */
export function attnBlock<G extends string, X extends string>(p: AttnBlockParams<G>, x: T<X>): T<G | X> {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  return tidy(() => {
    const hn = groupNorm(p.norm, x);
    const q = reshape(conv2d(p.q, hn), [n, h * w, c]);
    const k = reshape(conv2d(p.k, hn), [n, h * w, c]);
    const v = reshape(conv2d(p.v, hn), [n, h * w, c]);
    const att = softmax(mul(matMul(q, k, false, true), c ** -0.5), -1);
    const out = reshape(matMul(att, v), [n, h, w, c]);
    return add(x, conv2d(p.projOut, out));
  });
}

/**
 * `Downsample` forward: zero-pad right and bottom by 1, then 3×3 conv with stride 2 and no padding.
 * `[N, H, W, C]` → `[N, H/2, W/2, C]`. Official: `Downsample(with_conv=True)`.
 * @category layers
 */
export const downsample = <G extends string, X extends string>(p: ResampleParams<G>, x: T<X>): T<G | X> =>
  conv2d(p.conv, x, { stride: 2, padding: DOWNSAMPLE_PAD });

/**
 * `Upsample` forward: nearest-neighbour ×2, then 3×3 conv (padding 1).
 * `[N, H, W, C]` → `[N, 2H, 2W, C]`. Official: `Upsample(with_conv=True)`.
 * @category layers
 */
export const upsample = <G extends string, X extends string>(p: ResampleParams<G>, x: T<X>): T<G | X> =>
  tidy(() => conv2d(p.conv, upsampleNearest(x, 2), { padding: 1 }));
