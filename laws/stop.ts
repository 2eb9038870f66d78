/** @file Stop-gradient law: value kept, gradient zero. */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../src/backends/gradients.js';
import type { T } from '../src/core/tensor.js';

/**
 * For a candidate stop-gradient `sg`: `sg(x)` equals `x`, and `d/dx Σ sg(x)·x = x` (the gradient
 * through the stopped branch is zero, so only the direct branch contributes). Returns the largest
 * deviation of the value and of the gradient (both 0 when the law holds).
 * @category laws
 */
export async function stopGradientDeviation(sg: (x: T<'x'>) => T<never>, x: tf.Tensor): Promise<{ value: number; grad: number }> {
  const v = sg(x as T<'x'>);
  ensureGradients();
  const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(sg(a as T<'x'>), a)))(x);
  const [xv, vv, gv] = await Promise.all([x.data(), v.data(), g.data()]);
  let dv = 0, dg = 0;
  for (let i = 0; i < xv.length; i++) {
    dv = Math.max(dv, Math.abs((vv[i] as number) - (xv[i] as number)));
    dg = Math.max(dg, Math.abs((gv[i] as number) - (xv[i] as number)));
  }
  tf.dispose([v, g]);
  return { value: dv, grad: dg };
}
