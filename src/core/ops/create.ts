/** @file Constant constructors and host transfers. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../tensor.js';

/** A constant float32 (or given dtype) tensor from data. @category constructors */
export const tensor = (
  data: ArrayLike<number> | Float32Array | Int32Array | number,
  shape?: readonly number[],
  dtype: 'float32' | 'int32' | 'bool' = 'float32',
): T<never> =>
  (typeof data === 'number'
    ? tf.scalar(data, dtype)
    : tf.tensor(data as Float32Array, shape === undefined ? undefined : [...shape], dtype)) as T<never>;
/** A constant tensor of zeros. @category constructors */
export const zeros = (shape: readonly number[]): T<never> => tf.zeros([...shape]) as T<never>;
/** A constant tensor of ones. @category constructors */
export const ones = (shape: readonly number[]): T<never> => tf.ones([...shape]) as T<never>;
/** Zeros shaped like `x` (a constant). @category constructors */
export const zerosLike = (x: T<string>): T<never> => tf.zerosLike(x as tf.Tensor) as T<never>;
/** A constant scalar. @category constructors */
export const scalar = (v: number): T<never> => tf.scalar(v) as T<never>;
/** One-hot encoding of int32 `indices` (a constant). @category constructors */
export const oneHot = (indices: T<never>, depth: number): T<never> => tf.oneHot(indices as tf.Tensor1D, depth) as T<never>;
/** `[start, start+step, …)` as a constant float32 tensor. @category constructors */
export const range = (start: number, stop: number, step = 1): T<never> => tf.range(start, stop, step) as T<never>;
/** Reads a tensor back to the host asynchronously (the only read that works on every backend). @category utility types */
export const read = async (x: T<string>): Promise<Float32Array> => Float32Array.from(await (x as tf.Tensor).data() as Float32Array);
/** Reads a scalar back to the host asynchronously. @category utility types */
export const readScalar = async (x: T<string>): Promise<number> => ((await (x as tf.Tensor).data())[0] as number);
