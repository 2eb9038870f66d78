/** @file The REPA alignment loss: negative cosine similarity between projected SiT tokens and the frozen encoder's features. */
import { add, div, maximum, mul } from '../core/ops/elementwise.js';
import { mean, norm, sum } from '../core/ops/reduce.js';
import { tidy } from '../core/scope.js';
import { type T } from '../core/tensor.js';

/** L2-normalises along the last axis: `x / max(‖x‖, 1e-12)` (official `F.normalize(dim=-1)`). @category losses */
export const l2Normalize = <G extends string>(x: T<G>): T<G> => tidy(() => div(x, maximum(norm(x, -1, true), 1e-12)));

/**
 * The REPA alignment loss: `−(1/(K·N)) Σ_k Σ_n mean_τ cos(z_{k,n,τ}, z̃_{k,n,τ})` for targets
 * `zs[k]: [N, T, z_dim_k]` and projections `zsTilde[k]` (same shapes), a scalar in [−1, 1].
 * Official: the `proj_loss` loop of `SiT.forward`.
 * @category losses
 */
export function repaProjLoss<A extends string, B extends string>(zs: readonly T<A>[], zsTilde: readonly T<B>[]): T<A | B> {
  if (zs.length !== zsTilde.length || zs.length === 0)
    throw new RangeError(`repaProjLoss: ${zs.length} target feature sets for ${zsTilde.length} projectors (need the same, ≥ 1)`);
  zs.forEach((z, k) => {
    const a = z.shape, b = zsTilde[k]!.shape;
    if (a.length !== 3 || a.join() !== b.join())
      throw new RangeError(`repaProjLoss: zs[${k}] has shape [${a.join(', ')}] but the projector gives [${b.join(', ')}] (tokens must match the SiT's)`);
  });
  return tidy(() => {
    const n = zs[0]?.shape[0] as number;
    const terms = zs.map((z, k) => sum(mean(sum(mul(l2Normalize(z), l2Normalize(zsTilde[k]!)), -1), -1)));
    const total = terms.reduce((a: T<A | B>, b) => add(a, b));
    return mul(total, -1 / (zs.length * n));
  });
}

