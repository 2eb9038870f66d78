/** @file GroupNorm (affine) over the channel axis of NHWC tensors. */
import { ones, zeros } from '../core/ops/create.js';
import { groupNormNhwc } from '../core/ops/fused.js';
import type { T } from '../core/tensor.js';

/**
 * Parameters of an affine GroupNorm: scale `w: [C]` (official `weight`, γ) and shift `b: [C]`
 * (official `bias`, β).
 * @category layers
 */
export interface GroupNormParams<G extends string> {
  readonly w: T<G>;
  readonly b: T<G>;
}

/** GroupNorm hyper-parameters (the VAE's `Normalize`: 32 groups, eps 1e-6). @category layers */
export interface GroupNormConfig {
  readonly groups: number;
  readonly eps: number;
}

/** The VAE's `Normalize(c)`: `GroupNorm(num_groups=32, eps=1e-6, affine=True)`. @category layers */
export const VAE_GROUP_NORM: GroupNormConfig = { groups: 32, eps: 1e-6 };

/** Fresh GroupNorm parameters as PyTorch initialises them: `w = 1`, `b = 0`, shape `[C]`. @category constructors */
export const initGroupNorm = (channels: number): GroupNormParams<never> => ({ w: ones([channels]), b: zeros([channels]) });

/**
 * GroupNorm over NHWC: `x: [N, H, W, C]` is split into `groups` channel groups of `C/groups`
 * consecutive channels; each (sample, group) is normalised with its mean and biased variance over
 * `H, W` and the group's channels, then `y = x̂·w + b` per channel. Official: `torch.nn.GroupNorm`.
 * One fused op with an explicit gradient ({@link groupNormNhwc}: one ATen call on torch).
 *
 * @example
 * const h = groupNorm(p.norm1, x, VAE_GROUP_NORM)
 * @category layers
 */
export function groupNorm<G extends string, X extends string>(
  p: GroupNormParams<G>,
  x: T<X>,
  cfg: GroupNormConfig = VAE_GROUP_NORM,
): T<G | X> {
  return groupNormNhwc(x, p.w, p.b, cfg.groups, cfg.eps);
}
