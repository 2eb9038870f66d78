/** @file Law support: differentiate a typed function of one tensor, on a trusted tape. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from './setup.js';
import { raw, seed, tag, tracking, withTape } from './internal.js';

/** Law helpers run outside any tape: inside one, their constant results could launder a live value. */
function outsideTapes(what: string): void {
  if (tracking()) throw new Error(`${what}: not available inside a valueAndGrad tape (its results are constants)`);
}
import { sum } from './ops/reduce.js';
import type { T } from './tensor.js';

/**
 * `[Σ f(x), ∇ₓ Σ f(x)]` for a typed `f` whose argument is live on the group `G` (a fresh identity
 * of `x`, as in `valueAndGrad`). Both results are constants. For laws and numeric checks that
 * need a derivative without a registry.
 * @example
 * const [v, g] = gradOf((a: T<'x'>) => mul(stopGradient(a), a), x, 'x')  // g = x
 * @category transforms
 */
export function gradOf<G extends string>(f: (x: T<G>) => T<string>, x: T<never>, group: G): readonly [T<never>, T<never>] {
  outsideTapes('gradOf');
  ensureGradients();
  return withTape(() => {
    const fresh = tf.reshape(raw(x), [...x.shape]);
    seed(fresh, group);
    try {
      const { value, grads } = tf.engine().gradients(() => raw(sum(f(tag<G>(fresh)))), [fresh], undefined, true);
      const g = grads[0] ?? tf.zerosLike(fresh);
      return [tag<never>(value), tag<never>(g)] as const;
    } finally {
      fresh.dispose();
    }
  });
}

/**
 * Differentiates `f` w.r.t. the **very** tensors `xs` (not fresh identities): which of them does
 * the computation reach? For the view law, which checks that a view builder detaches every leaf it
 * should (results are constants; `null` = not reached).
 * @category transforms
 */
export function gradientsWrt(f: () => T<string>, xs: readonly T<never>[]): { readonly value: T<never>; readonly grads: readonly (T<never> | null)[] } {
  outsideTapes('gradientsWrt');
  ensureGradients();
  const { value, grads } = tf.engine().gradients(() => raw(f()), xs.map(raw), undefined, true);
  return { value: tag<never>(value), grads: grads.map((g) => (g == null ? null : tag<never>(g))) };
}
