/** @file Finite-difference gradient check with float32-aware tolerances. */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../src/core/setup.js';

/**
 * Compares the autodiff gradient of a scalar function `f(x)` with central differences
 * `(f(x+h·eᵢ) − f(x−h·eᵢ))/2h` at up to `maxCoords` coordinates. tfjs has no float64, so the
 * returned error is relative to `max(1, |g|)` and should be held to ~1e-2 with h ≈ 1e-2.
 * @category laws
 */
export async function gradcheckError(f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, h = 1e-2, maxCoords = 16): Promise<number> {
  ensureGradients();
  const g = tf.grad(f)(x);
  const gv = await g.data();
  g.dispose();
  const xv = await x.data();
  const n = xv.length;
  const step = Math.max(1, Math.floor(n / maxCoords));
  let worst = 0;
  for (let i = 0; i < n; i += step) {
    const probe = async (delta: number): Promise<number> => {
      const xp = Float32Array.from(xv);
      xp[i] = (xp[i] as number) + delta;
      const t = tf.tensor(xp, x.shape);
      const y = f(t);
      const v = (await y.data())[0] as number;
      tf.dispose([t, y]);
      return v;
    };
    const fd = ((await probe(h)) - (await probe(-h))) / (2 * h);
    const ad = gv[i] as number;
    worst = Math.max(worst, Math.abs(fd - ad) / Math.max(1, Math.abs(ad)));
  }
  return worst;
}
