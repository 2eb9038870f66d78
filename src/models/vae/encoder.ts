/** @file The AutoencoderKL encoder (official `Encoder`), NHWC. */
import { silu } from '../../core/ops/elementwise.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import { conv2d } from '../../nn/conv.js';
import { groupNorm } from '../../nn/group-norm.js';
import { attnBlock, downsample, resnetBlock } from './blocks.js';
import type { EncoderParams, MidParams } from './params.js';

/** The mid block: `block2(attn1(block1(x)))`. Official: `mid.block_1`, `mid.attn_1`, `mid.block_2`. @category layers */
export const midBlock = <G extends string, X extends string>(p: MidParams<G>, x: T<X>): T<G | X> =>
  tidy(() => resnetBlock(p.block2, attnBlock(p.attn1, resnetBlock(p.block1, x))));

/**
 * Encoder forward: `x: [N, H, W, 3]` (images in [−1, 1]) → moments before `quant_conv`,
 * `[N, H/2^(L−1), W/2^(L−1), 2E]`. `convIn` → per level: res blocks (each followed by its attention
 * block when the level has them), then `downsample` except at the last level → mid → `normOut` →
 * swish → `convOut`. Official: `Encoder.forward` (`double_z=True`, no timestep embedding).
 * @category models
 */
export function encoder<G extends string, X extends string>(p: EncoderParams<G>, x: T<X>): T<G | X> {
  return tidy(() => {
    let h: T<G | X> = conv2d(p.convIn, x, { padding: 1 });
    for (const level of p.down) {
      level.block.forEach((b, i) => {
        h = resnetBlock(b, h);
        const a = level.attn[i];
        if (a !== undefined) h = attnBlock(a, h);
      });
      if (level.downsample !== undefined) h = downsample(level.downsample, h);
    }
    h = midBlock(p.mid, h);
    return conv2d(p.convOut, silu(groupNorm(p.normOut, h)), { padding: 1 });
  });
}
