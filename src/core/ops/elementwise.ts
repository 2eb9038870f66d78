/** @file Typed elementwise ops: each result depends on the union of its inputs' groups. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { out, outAll, raw } from '../internal.js';
import type { T } from '../tensor.js';

// the activations with an explicit gradient live with the fused norms (one tape node each)
export { geluTanh, silu } from './fused.js';

/** An elementwise operand: a tracked tensor or a plain number (a constant). @category utility types */
export type Operand<G extends string> = T<G> | number;
const rw = (x: Operand<string>): tf.Tensor | number => (typeof x === 'number' ? x : raw(x));

const lift1 =
  (f: (x: tf.Tensor) => tf.Tensor) =>
  <G extends string>(x: T<G>): T<G> =>
    out<G>(f(raw(x)), x);
const lift2 =
  (f: (x: tf.Tensor | number, y: tf.Tensor | number) => tf.Tensor) =>
  <A extends string = never, B extends string = never>(x: Operand<A>, y: Operand<B>): T<A | B> =>
    out<A | B>(f(rw(x), rw(y)), x, y);

/** `x + y` with broadcasting. @category layers */
export const add = lift2((x, y) => tf.add(x, y));
/** `x − y` with broadcasting. @category layers */
export const sub = lift2((x, y) => tf.sub(x, y));
/** `x · y` elementwise with broadcasting. @category layers */
export const mul = lift2((x, y) => tf.mul(x, y));
/** `x / y` elementwise with broadcasting. @category layers */
export const div = lift2((x, y) => tf.div(x, y));
/** Elementwise maximum. @category layers */
export const maximum = lift2((x, y) => tf.maximum(x, y));
/** Elementwise minimum. @category layers */
export const minimum = lift2((x, y) => tf.minimum(x, y));
/** Elementwise `x^y`. @category layers */
export const pow = lift2((x, y) => tf.pow(x, y));
/** `(x − y)²` elementwise with broadcasting. @category layers */
export const squaredDifference = lift2((x, y) => tf.squaredDifference(x, y));

/** `−x`. @category layers */
export const neg = lift1(tf.neg);
/** `eˣ`. @category layers */
export const exp = lift1(tf.exp);
/** Natural logarithm. @category layers */
export const log = lift1(tf.log);
/** `√x`. @category layers */
export const sqrt = lift1(tf.sqrt);
/** `1/√x`. @category layers */
export const rsqrt = lift1(tf.rsqrt);
/** `x²`. @category layers */
export const square = lift1(tf.square);
/** `|x|`. @category layers */
export const abs = lift1(tf.abs);
/** `max(x, 0)`. @category layers */
export const relu = lift1(tf.relu);
/** `min(max(x, 0), 6)` (Keras/TF `relu6`, MobileNet's activation). @category layers */
export const relu6 = lift1(tf.relu6);
/** The Gauss error function `erf(x)` (for the exact GELU `0.5x(1 + erf(x/√2))`). @category layers */
export const erf = lift1(tf.erf);
/** Logistic sigmoid. @category layers */
export const sigmoid = lift1(tf.sigmoid);
/** Hyperbolic tangent. @category layers */
export const tanh = lift1(tf.tanh);
/** Sine. @category layers */
export const sin = lift1(tf.sin);
/** Cosine. @category layers */
export const cos = lift1(tf.cos);
/** Arctangent. @category layers */
export const atan = lift1(tf.atan);
/** `1/x`. @category layers */
export const reciprocal = lift1(tf.reciprocal);
/** Elementwise sign (−1, 0, 1); its gradient is zero. @category layers */
export const sign = lift1(tf.sign);
/** Round to the nearest integer (half to even, as tfjs); its gradient is zero. @category layers */
export const round = lift1(tf.round);
/** Floor; its gradient is zero. @category layers */
export const floor = lift1(tf.floor);
/** Leaky ReLU with negative slope `alpha` (PyTorch `LeakyReLU(alpha)`). @category layers */
export const leakyRelu = <G extends string>(x: T<G>, alpha: number): T<G> => out<G>(tf.leakyRelu(raw(x), alpha), x);

/** Clamp into `[lo, hi]` (gradient zero outside, as PyTorch `clamp`). @category layers */
export const clip = <G extends string>(x: T<G>, lo: number, hi: number): T<G> => out<G>(tf.clipByValue(raw(x), lo, hi), x);

/** `cond ? a : b` elementwise; `cond` is a constant boolean tensor. @category layers */
export const where = <A extends string, B extends string>(cond: T<never>, a: T<A>, b: T<B>): T<A | B> =>
  out<A | B>(tf.where(raw(cond), raw(a), raw(b)), a, b);

/** Elementwise `x < y` as a constant boolean tensor. @category layers */
export const less = (x: T<string> | number, y: T<string> | number): T<never> => out<never>(tf.less(rw(x), rw(y)));
/** Elementwise `x > y` as a constant boolean tensor. @category layers */
export const greater = (x: T<string> | number, y: T<string> | number): T<never> => out<never>(tf.greater(rw(x), rw(y)));
/** Elementwise `x >= y` as a constant boolean tensor. @category layers */
export const greaterEqual = (x: T<string> | number, y: T<string> | number): T<never> =>
  out<never>(tf.greaterEqual(rw(x), rw(y)));
/** Elementwise `x == y` as a constant boolean tensor. @category layers */
export const equal = (x: T<string> | number, y: T<string> | number): T<never> => out<never>(tf.equal(rw(x), rw(y)));

/**
 * Cast to another dtype (float32 ↔ int32 ↔ bool). Casting to int cuts the gradient as in tfjs, but
 * the result keeps the groups (conservative).
 * @category layers
 */
export const cast = <G extends string>(x: T<G>, dtype: 'float32' | 'int32' | 'bool'): T<G> => out<G>(tf.cast(raw(x), dtype), x);

/** Log-softmax along the last axis (`x − logΣexp x`, stable). @category layers */
export const logSoftmax = <G extends string>(x: T<G>): T<G> => out<G>(tf.logSoftmax(raw(x)), x);

/** Softmax along `axis` (default last). @category layers */
export const softmax = <G extends string>(x: T<G>, axis = -1): T<G> => {
  if (axis === -1 || axis === x.rank - 1) return out<G>(tf.softmax(raw(x)), x);
  return out<G>(
    tf.tidy(() => {
      const m = tf.max(raw(x), axis, true);
      const e = tf.exp(tf.sub(raw(x), m));
      return tf.div(e, tf.sum(e, axis, true));
    }),
    x,
  );
};

/**
 * `[sin x, cos x]` computed with multiplies and adds only: range reduction `r = x − 2π·round(x/2π)`
 * and Taylor series in `r²` (Horner; absolute error ≲ 1e-7 for |x| ≤ 1, ≲ 3e-6 for |x| ≤ 50).
 * Some WebGPU implementations (SwiftShader, fast-math drivers) evaluate the `sin`/`cos` builtins
 * to only ~1e-4; this keeps embeddings exact to float32 on every backend. Differentiable.
 * @category layers
 */
export const sinCosPrecise = <G extends string>(x: T<G>): readonly [T<G>, T<G>] => {
  const res = tf.tidy(() => {
    const twoPi = 2 * Math.PI;
    const xr = raw(x);
    const r = tf.sub(xr, tf.mul(twoPi, tf.round(tf.div(xr, twoPi))));
    const r2 = tf.square(r);
    // sin r = r·Σ (−1)^k r^{2k}/(2k+1)!,  cos r = Σ (−1)^k r^{2k}/(2k)!,  k ≤ 10
    let s: tf.Tensor = tf.scalar(1 / 21 / 20 / 19 / 18 / 17 / 16 / 15 / 14 / 13 / 12 / 11 / 10 / 9 / 8 / 7 / 6 / 5 / 4 / 3 / 2);
    let c: tf.Tensor = tf.scalar(1 / 20 / 19 / 18 / 17 / 16 / 15 / 14 / 13 / 12 / 11 / 10 / 9 / 8 / 7 / 6 / 5 / 4 / 3 / 2);
    for (let k = 9; k >= 0; k--) {
      const fs = 1 / Array.from({ length: 2 * k + 1 }, (_, i) => i + 1).reduce((a, b) => a * b, 1);
      const fc = 1 / Array.from({ length: 2 * k }, (_, i) => i + 1).reduce((a, b) => a * b, 1);
      s = tf.add(tf.mul(tf.mul(s, r2), -1), fs);
      c = tf.add(tf.mul(tf.mul(c, r2), -1), fc);
    }
    return [tf.mul(s, r), c];
  });
  const [s, c] = outAll<G>(res, x);
  return [s as T<G>, c as T<G>] as const;
};

/** The sum of several tensors of the same shape (tfjs `addN`). @category layers */
export const addN = <G extends string>(xs: readonly T<G>[]): T<G> => out<G>(tf.addN(xs.map(raw)), ...xs);
