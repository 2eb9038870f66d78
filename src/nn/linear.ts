/** @file Fully connected layer with PyTorch's `nn.Linear` weight layout `[out, in]`. */
import { tensor, zeros } from '../core/ops/create.js';
import { linearMap } from '../core/ops/linalg.js';
import { normalArray, uniformArray, type Key } from '../core/rng.js';
import type { T } from '../core/tensor.js';

/**
 * Parameters of a linear layer: weight `w: [out, in]` (PyTorch layout, applied with `transposeB`)
 * and bias `b: [out]`.
 * @category layers
 */
export interface LinearParams<G extends string> {
  readonly w: T<G>;
  readonly b: T<G>;
}

/**
 * How to initialise a linear weight: Xavier-uniform (`U(±√(6/(in+out)))`, the SiT/DiT default),
 * all zeros (adaLN-Zero), or a normal with the given standard deviation (SiT's `t_embedder`).
 * Biases always start at zero.
 * @category layers
 */
export type LinearInit = 'xavier' | 'zeros' | { readonly normalStd: number };

/**
 * Float32 host values of a Xavier-uniform matrix `[out, in]` (`torch.nn.init.xavier_uniform_`,
 * bound `√(6/(fan_in + fan_out))`), drawn from `key` (identical on every backend).
 * @category constructors
 */
export function xavierUniformArray(key: Key, out: number, inDim: number): Float32Array {
  const n = out * inDim;
  const bound = Math.sqrt(6 / (inDim + out));
  const u = uniformArray(key, n);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = (2 * (u[i] as number) - 1) * bound;
  return w;
}

/**
 * Fresh linear parameters `in → out`: weight per `init` (default Xavier-uniform, as SiT's
 * `initialize_weights` `_basic_init`), zero bias.
 *
 * @example
 * const fc = initLinear(rng.key(0), 768, 3072)          // w: [3072, 768], b: [3072]
 * const ada = initLinear(k, 768, 4608, 'zeros')          // adaLN-Zero
 * @category constructors
 */
export function initLinear(key: Key, inDim: number, outDim: number, init: LinearInit = 'xavier'): LinearParams<never> {
  let w: T<never>;
  if (init === 'xavier') w = tensor(xavierUniformArray(key, outDim, inDim), [outDim, inDim]);
  else if (init === 'zeros') w = zeros([outDim, inDim]);
  else {
    const z = normalArray(key, outDim * inDim);
    const s = init.normalStd;
    w = tensor(Float32Array.from(z, (v) => v * s), [outDim, inDim]);
  }
  return { w, b: zeros([outDim]) };
}

/**
 * Applies a linear layer token-wise: `x: [..., in]` → `x @ wᵀ + b: [..., out]` (one matrix product
 * over all leading axes; no transpose is materialised). Official: `torch.nn.Linear`.
 *
 * @example
 * const h = linear(p.fc1, tokens)     // [N, T, 768] → [N, T, 3072]
 * @category layers
 */
export const linear = <G extends string, X extends string>(p: LinearParams<G>, x: T<X>): T<G | X> => linearMap(x, p.w, p.b);
