/** @file LayerNorm over the last axis: non-affine (SiT's `norm1`/`norm2`/`norm_final`) and affine (qk-norm). */
import { ones, zeros } from '../core/ops/create.js';
import { layerNormLast, layerNormLastAffine } from '../core/ops/fused.js';
import type { T } from '../core/tensor.js';

/**
 * Parameters of an affine LayerNorm over the last axis: scale `w: [D]` (official `weight`) and
 * shift `b: [D]` (official `bias`).
 * @category layers
 */
export interface LayerNormParams<G extends string> {
  readonly w: T<G>;
  readonly b: T<G>;
}

/**
 * Fresh affine LayerNorm parameters (`w = 1`, `b = 0`, as `torch.nn.LayerNorm`).
 * @category constructors
 */
export const initLayerNorm = (dim: number): LayerNormParams<never> => ({ w: ones([dim]), b: zeros([dim]) });

/**
 * Non-affine LayerNorm over the last axis: `(x − E x)/√(Var x + eps)` with the biased variance.
 * `x: [..., D]` → same shape. Official: `nn.LayerNorm(D, elementwise_affine=False, eps)` (SiT uses
 * `eps = 1e-6`).
 *
 * @example
 * const h = layerNorm(tokens, 1e-6)
 * @category layers
 */
export const layerNorm = <G extends string>(x: T<G>, eps: number): T<G> => layerNormLast(x, eps);

/**
 * Affine LayerNorm over the last axis: `layerNorm(x)·w + b`. Official: `nn.LayerNorm(D, eps)`
 * (timm's qk-norm uses `eps = 1e-5`).
 *
 * @example
 * const q2 = layerNormAffine(p.qNorm, q, 1e-5)   // q: [N·H, T, head_dim]
 * @category layers
 */
export const layerNormAffine = <P extends string, X extends string>(p: LayerNormParams<P>, x: T<X>, eps: number): T<P | X> =>
  layerNormLastAffine(x, p.w, p.b, eps);
