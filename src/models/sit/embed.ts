/** @file SiT's fixed embeddings: the 2-D sin-cos position table and the sinusoidal timestep features. */
import { tensor } from '../../core/ops/create.js';
import { mul, sinCosPrecise } from '../../core/ops/elementwise.js';
import { concat, reshape } from '../../core/ops/shape.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';

/**
 * The 2-D sin-cos positional table as float32 host values `[G·G, D]` (row-major tokens
 * `n = i·G + j` for patch row `i`, column `j`), computed in float64 and rounded once. With
 * `ω_k = 10000^(−k/(D/4))`, `k < D/4`, channels are `[sin(jω) | cos(jω) | sin(iω) | cos(iω)]`:
 * the **column** index fills the first half (the official code calls it `emb_h`, but its
 * meshgrid order makes it the x coordinate). Official: `get_2d_sincos_pos_embed(D, G)`.
 *
 * @example
 * const pe = sincosPosEmbedArray(768, 16)   // 256 × 768; pe[0..767] = [0…0, 1…1, 0…0, 1…1]
 * @category constructors
 */
export function sincosPosEmbedArray(dim: number, grid: number): Float32Array {
  if (dim % 4 !== 0) throw new RangeError(`sincosPosEmbed: dim ${dim} must be divisible by 4`);
  const q = dim / 4;
  const omega = Float64Array.from({ length: q }, (_, k) => 1 / 10000 ** (k / q));
  const out = new Float32Array(grid * grid * dim);
  for (let i = 0; i < grid; i++)
    for (let j = 0; j < grid; j++) {
      const base = (i * grid + j) * dim;
      for (let k = 0; k < q; k++) {
        const a = j * (omega[k] as number), b = i * (omega[k] as number);
        out[base + k] = Math.sin(a);
        out[base + q + k] = Math.cos(a);
        out[base + 2 * q + k] = Math.sin(b);
        out[base + 3 * q + k] = Math.cos(b);
      }
    }
  return out;
}

/**
 * The 2-D sin-cos positional table as a constant tensor `[1, G·G, D]` (the shape of the official
 * `pos_embed` parameter). See {@link sincosPosEmbedArray}.
 * @category constructors
 */
export const sincosPosEmbed = (dim: number, grid: number): T<never> => tensor(sincosPosEmbedArray(dim, grid), [1, grid * grid, dim]);

/**
 * The timestep frequencies `f_k = exp(−ln(10000)·k/half)`, `k < half`, rounded as PyTorch's
 * float32 computation does. Official: `TimestepEmbedder.timestep_embedding` (`max_period=10000`).
 * @category constructors
 */
export function timestepFrequencies(half: number): Float32Array {
  const c = Math.fround(-Math.log(10000));
  return Float32Array.from({ length: half }, (_, k) => Math.exp(Math.fround(Math.fround(c * k) / half)));
}

/**
 * Sinusoidal timestep features `[N, dim]`: `[cos(t·f_0..), sin(t·f_0..)]` (**cos first**), from raw
 * `t ∈ [0, 1]` (no ×1000), `t: [N]`. Official: `TimestepEmbedder.timestep_embedding(t, 256)`.
 *
 * @example
 * const e = timestepEmbedding(t, 256)   // at t = 0: 128 ones then 128 zeros
 * @category layers
 */
export const timestepEmbedding = <G extends string>(t: T<G>, dim: number): T<G> =>
  tidy(() => {
    if (dim % 2 !== 0) throw new RangeError(`timestepEmbedding: dim ${dim} must be even`);
    const half = dim / 2;
    const args = mul(reshape(t, [-1, 1]), tensor(timestepFrequencies(half), [1, half]));
    // Not the sin/cos builtins: SwiftShader's WebGPU evaluates them to ~1e-4 (see sinCosPrecise).
    const [s, c] = sinCosPrecise(args);
    return concat([c, s], -1);
  });
