/** @file The AutoencoderKL decoder (official `Decoder`), NHWC. */
import { silu } from '../../core/ops/elementwise.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import { conv2d } from '../../nn/conv.js';
import { groupNorm } from '../../nn/group-norm.js';
import { attnBlock, resnetBlock, upsample } from './blocks.js';
import { midBlock } from './encoder.js';
import type { DecoderParams } from './params.js';

/**
 * First half of the decoder: `mid(convIn(z))`, `z: [N, h, w, E]` → `[N, h, w, ch·ch_mult[L−1]]`
 * (official: `Decoder.forward` up to `mid.block_2`).
 * @category models
 */
export const decoderMid = <G extends string, Z extends string>(p: DecoderParams<G>, z: T<Z>): T<G | Z> =>
  tidy(() => midBlock(p.mid, conv2d(p.convIn, z, { padding: 1 })));

/**
 * Second half of the decoder: for level `L−1 … 0`, `numResBlocks + 1` res blocks (each followed by
 * its attention block when the level has them) and `upsample` except at level 0, then `normOut` →
 * swish → `convOut`. `h: [N, h, w, C]` → image `[N, h·2^(L−1), w·2^(L−1), 3]`, not clamped.
 * @category models
 */
export function decoderUp<G extends string, H extends string>(p: DecoderParams<G>, h0: T<H>): T<G | H> {
  return tidy(() => {
    let h: T<G | H> = h0;
    for (let l = p.up.length - 1; l >= 0; l--) {
      const level = p.up[l];
      if (level === undefined) throw new Error(`decoder: missing level ${l}`);
      level.block.forEach((b, i) => {
        h = resnetBlock(b, h);
        const a = level.attn[i];
        if (a !== undefined) h = attnBlock(a, h);
      });
      if (level.upsample !== undefined) h = upsample(level.upsample, h);
    }
    return conv2d(p.convOut, silu(groupNorm(p.normOut, h)), { padding: 1 });
  });
}

/**
 * Decoder forward: `z: [N, h, w, E]` (the output of `post_quant_conv`) → image
 * `[N, h·2^(L−1), w·2^(L−1), 3]` ≈ [−1, 1], not clamped: `decoderUp(decoderMid(z))`.
 * Official: `Decoder.forward` (`give_pre_end=False`, `tanh_out=False`).
 * @category models
 */
export const decoder = <G extends string, Z extends string>(p: DecoderParams<G>, z: T<Z>): T<G | Z> =>
  tidy(() => decoderUp(p, decoderMid(p, z)));
