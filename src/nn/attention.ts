/** @file Multi-head self-attention as timm's `Attention` (fused qkv, optional qk-norm, output projection). */
import { mul, softmax } from '../core/ops/elementwise.js';
import { matMul } from '../core/ops/linalg.js';
import { reshape, split, transpose } from '../core/ops/shape.js';
import { split as splitKey, type Key } from '../core/rng.js';
import { tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { initLayerNorm, layerNormAffine, type LayerNormParams } from './layer-norm.js';
import { initLinear, linear, type LinearParams } from './linear.js';

/**
 * Parameters of a self-attention layer over `D = heads·head_dim` channels: the fused projection
 * `qkv: D → 3D` (output rows `[q | k | v]`, each head-major), the output projection `proj: D → D`,
 * and, only with qk-norm, affine LayerNorms over `head_dim` applied to q and k.
 * @category layers
 */
export interface AttentionParams<G extends string> {
  readonly qkv: LinearParams<G>;
  readonly proj: LinearParams<G>;
  readonly qNorm?: LayerNormParams<G>;
  readonly kNorm?: LayerNormParams<G>;
}

/** Shape of an attention layer (timm `Attention(dim, num_heads, qkv_bias=True, qk_norm)`). @category layers */
export interface AttentionConfig {
  readonly dim: number;
  readonly numHeads: number;
  /** LayerNorm (affine, eps 1e-5) on q and k per head (timm `qk_norm`). */
  readonly qkNorm: boolean;
}

/** Epsilon of timm's qk-norm LayerNorm. @category layers */
export const QK_NORM_EPS = 1e-5;

/**
 * Fresh attention parameters: Xavier-uniform `qkv` and `proj` weights (Xavier over the whole fused
 * `[3D, D]` matrix, as `_basic_init` does), zero biases, identity qk-norms.
 * @category constructors
 */
export function initAttention(key: Key, cfg: AttentionConfig): AttentionParams<never> {
  if (cfg.dim % cfg.numHeads !== 0) throw new RangeError(`attention: dim ${cfg.dim} is not divisible by numHeads ${cfg.numHeads}`);
  const [kq, kp] = splitKey(key) as [Key, Key];
  const base = { qkv: initLinear(kq, cfg.dim, 3 * cfg.dim), proj: initLinear(kp, cfg.dim, cfg.dim) };
  if (!cfg.qkNorm) return base;
  const hd = cfg.dim / cfg.numHeads;
  return { ...base, qNorm: initLayerNorm(hd), kNorm: initLayerNorm(hd) };
}

/**
 * Multi-head self-attention, `x: [N, T, D]` → `[N, T, D]`:
 * `proj(concat_h softmax(q_h k_hᵀ / √hd) v_h)`, no mask, no dropout. With `qNorm`/`kNorm`, q and k
 * are LayerNorm-ed per head before the product. Official: timm 1.0.11 `Attention.forward`
 * (`fused_attn` only selects an equivalent kernel).
 *
 * Layout: one matrix product gives `[N, T, 3, H, hd]`, a single transpose makes it
 * `[3, N·H, T, hd]` so q, k, v are contiguous slices, the scores use `matMul(q, k, transposeB)`
 * and the value product a plain batched `matMul`; one transpose brings the heads back next to
 * `hd`. (Two transposes per layer, the minimum for head-major attention with row-major tokens.)
 *
 * @example
 * const h = attention(p.attn, tokens, 16)
 * @category layers
 */
export const attention = <G extends string, X extends string>(p: AttentionParams<G>, x: T<X>, numHeads: number): T<G | X> =>
  tidy(() => {
    const [n, t, d] = x.shape as [number, number, number];
    const hd = d / numHeads;
    const qkv = reshape(linear(p.qkv, x), [n, t, 3, numHeads, hd]);
    const heads = reshape(transpose(qkv, [2, 0, 3, 1, 4]), [3, n * numHeads, t, hd]);
    const [q0, k0, v0] = split(heads, 3, 0).map((z) => reshape(z, [n * numHeads, t, hd])) as [T<G | X>, T<G | X>, T<G | X>];
    const q = p.qNorm === undefined ? q0 : layerNormAffine(p.qNorm, q0, QK_NORM_EPS);
    const k = p.kNorm === undefined ? k0 : layerNormAffine(p.kNorm, k0, QK_NORM_EPS);
    const attn = softmax(matMul(mul(q, hd ** -0.5), k, false, true));
    const o = reshape(matMul(attn, v0), [n, numHeads, t, hd]);
    return linear(p.proj, reshape(transpose(o, [0, 2, 1, 3]), [n, t, d]));
  });
