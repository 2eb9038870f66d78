/** @file Typed reductions. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../tensor.js';

/** The axes a reduction runs over: one, several, or (undefined) all of them. @category utility types */
export type Axis = number | readonly number[] | undefined;
const ax = (a: Axis): number | number[] | undefined => (a === undefined || typeof a === 'number' ? a : [...a]);

/** Sum over `axis` (all axes by default). @category layers */
export const sum = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  tf.sum(x, ax(axis), keepDims) as T<G>;
/** Mean over `axis` (all axes by default). @category layers */
export const mean = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  tf.mean(x, ax(axis), keepDims) as T<G>;
/** Max over `axis`. @category layers */
export const max = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  tf.max(x, ax(axis), keepDims) as T<G>;
/** Min over `axis`. @category layers */
export const min = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  tf.min(x, ax(axis), keepDims) as T<G>;
/** Index of the max along `axis` (a constant int32 tensor). @category layers */
export const argMax = (x: T<string>, axis = -1): T<never> => tf.argMax(x, axis) as T<never>;

/**
 * Biased variance `E[(x − E x)²]` over `axis` (PyTorch `var(unbiased=False)`).
 * @category layers
 */
export const variance = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  tf.tidy(() => {
    const m = tf.mean(x, ax(axis), true);
    return tf.mean(tf.square(tf.sub(x, m)), ax(axis), keepDims);
  }) as T<G>;

/** Euclidean norm over `axis` (all entries by default). @category layers */
export const norm = <G extends string>(x: T<G>, axis?: Axis, keepDims = false): T<G> =>
  tf.tidy(() => tf.sqrt(tf.sum(tf.square(x), ax(axis), keepDims))) as T<G>;
