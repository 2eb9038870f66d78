/** @file Typed matrix products. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { out, raw } from '../internal.js';
import type { T } from '../tensor.js';

/**
 * Batched matrix product `a @ b` (rank ≥ 2, leading dims broadcast), with optional transposes of the
 * last two axes. Prefer the transpose flags over an explicit `transpose`: they cost nothing.
 * @category layers
 */
export const matMul = <A extends string, B extends string>(
  a: T<A>,
  b: T<B>,
  transposeA = false,
  transposeB = false,
): T<A | B> => out<A | B>(tf.matMul(raw(a), raw(b), transposeA, transposeB), a, b);

/**
 * Token-wise affine map `x @ wᵀ + b` for `x: [..., in]`, `w: [out, in]` (PyTorch `nn.Linear` layout),
 * `b: [out]`. Leading axes are folded into one matrix product.
 * @category layers
 */
export const linearMap = <X extends string, W extends string, Bi extends string = never>(
  x: T<X>,
  w: T<W>,
  b?: T<Bi>,
): T<X | W | Bi> =>
  out<X | W | Bi>(
    tf.tidy(() => {
      const xr = raw(x);
      const inDim = x.shape[x.rank - 1] as number;
      const lead = x.shape.slice(0, -1);
      const x2 = x.rank === 2 ? xr : tf.reshape(xr, [-1, inDim]);
      // Not tf.fused.matMul: tfjs-backend-wasm 4.22 computes FusedMatMul with transposeB + bias wrongly
      // (caught by test/backends/backends.test.ts); matMul + add is correct on every backend.
      const xw = tf.matMul(x2, raw(w), false, true);
      const y = b === undefined ? xw : tf.add(xw, raw(b));
      return x.rank === 2 ? y : tf.reshape(y, [...lead, w.shape[0] as number]);
    }),
    x,
    w,
    b,
  );
