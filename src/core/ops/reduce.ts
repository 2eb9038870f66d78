/** @file Typed reductions. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { out, raw } from '../internal.js';
import type { T } from '../tensor.js';

/** The axes a reduction runs over: one, several, or (undefined) all of them. @category utility types */
export type Axis = number | readonly number[] | undefined;
const ax = (a: Axis): number | number[] | undefined => (a === undefined || typeof a === 'number' ? a : [...a]);

/** Sum over `axis` (all axes by default). @category layers */
export const sum = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  out<G>(tf.sum(raw(x), ax(axis), keepDims), x);
/** Mean over `axis` (all axes by default). @category layers */
export const mean = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  out<G>(tf.mean(raw(x), ax(axis), keepDims), x);
/** Max over `axis`. @category layers */
export const max = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  out<G>(tf.max(raw(x), ax(axis), keepDims), x);
/** Min over `axis`. @category layers */
export const min = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  out<G>(tf.min(raw(x), ax(axis), keepDims), x);
/** Index of the max along `axis` (a constant int32 tensor). @category layers */
export const argMax = (x: T<string>, axis = -1): T<never> => out<never>(tf.argMax(raw(x), axis));

/**
 * Biased variance `E[(x − E x)²]` over `axis` (PyTorch `var(unbiased=False)`).
 * @category layers
 */
export const variance = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  out<G>(
    tf.tidy(() => {
      const m = tf.mean(raw(x), ax(axis), true);
      return tf.mean(tf.square(tf.sub(raw(x), m)), ax(axis), keepDims);
    }),
    x,
  );

/** Euclidean norm over `axis` (all entries by default). @category layers */
export const norm = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  out<G>(tf.tidy(() => tf.sqrt(tf.sum(tf.square(raw(x)), ax(axis), keepDims))), x);

/** Mean and biased variance over `axes` (tfjs `moments`). @category layers */
export const moments = <G extends string>(x: T<G>, axes: readonly number[], keepDims = false): { readonly mean: T<G>; readonly variance: T<G> } => {
  const m = tf.moments(raw(x), [...axes], keepDims);
  return { mean: out<G>(m.mean, x), variance: out<G>(m.variance, x) };
};
