/** @file Stop-gradient law: value kept, gradient zero. */
import { mul, read } from '../src/core/ops/index.js';
import { dispose } from '../src/core/scope.js';
import type { T } from '../src/core/tensor.js';
import { gradOf } from '../src/core/testing.js';

/**
 * For a candidate stop-gradient `sg`: `sg(x)` equals `x`, and `d/dx Σ sg(x)·x = x` (the gradient
 * through the stopped branch is zero, so only the direct branch contributes). Returns the largest
 * deviation of the value and of the gradient (both 0 when the law holds).
 * @category laws
 */
export async function stopGradientDeviation(sg: (x: T<'x'>) => T<string>, x: T<never>): Promise<{ value: number; grad: number }> {
  const v = sg(x);
  const [s, g] = gradOf((a: T<'x'>) => mul(sg(a), a), x, 'x');
  const [xv, vv, gv] = await Promise.all([read(x), read(v), read(g)]);
  let dv = 0, dg = 0;
  for (let i = 0; i < xv.length; i++) {
    dv = Math.max(dv, Math.abs((vv[i] as number) - (xv[i] as number)));
    dg = Math.max(dg, Math.abs((gv[i] as number) - (xv[i] as number)));
  }
  dispose([v, s, g]);
  return { value: dv, grad: dg };
}
