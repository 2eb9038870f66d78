/** @file Transformer MLP as timm's `Mlp`: fc1 → GELU (tanh approximation) → fc2. */
import { geluTanh } from '../core/ops/elementwise.js';
import { split, type Key } from '../core/rng.js';
import { tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { initLinear, linear, type LinearParams } from './linear.js';

/** Parameters of a two-layer MLP `D → hidden → D`. @category layers */
export interface MlpParams<G extends string> {
  readonly fc1: LinearParams<G>;
  readonly fc2: LinearParams<G>;
}

/** Fresh MLP parameters (Xavier-uniform weights, zero biases). @category constructors */
export function initMlp(key: Key, dim: number, hidden: number): MlpParams<never> {
  const [k1, k2] = split(key) as [Key, Key];
  return { fc1: initLinear(k1, dim, hidden), fc2: initLinear(k2, hidden, dim) };
}

/**
 * Token-wise MLP `fc2(gelu_tanh(fc1(x)))`, `x: [..., D]` → `[..., D]`, dropout 0. Official: timm
 * `Mlp(act_layer=lambda: nn.GELU(approximate="tanh"))` as used by the SiT blocks.
 *
 * @example
 * const h = mlp(p.mlp, tokens)
 * @category layers
 */
export const mlp = <G extends string, X extends string>(p: MlpParams<G>, x: T<X>): T<G | X> =>
  tidy(() => linear(p.fc2, geluTanh(linear(p.fc1, x))));
