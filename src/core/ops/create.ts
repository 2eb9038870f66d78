/** @file Constant constructors and host transfers. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { raw, tag } from '../internal.js';
import type { T } from '../tensor.js';

/** A constant float32 (or given dtype) tensor from data. @category constructors */
export const tensor = (
  data: ArrayLike<number> | Float32Array | Int32Array | number,
  shape?: readonly number[],
  dtype: 'float32' | 'int32' | 'bool' = 'float32',
): T<never> =>
  tag<never>(typeof data === 'number'
    ? tf.scalar(data, dtype)
    : tf.tensor(data as Float32Array, shape === undefined ? undefined : [...shape], dtype));
/** A constant tensor of zeros. @category constructors */
export const zeros = (shape: readonly number[]): T<never> => tag<never>(tf.zeros([...shape]));
/** A constant tensor of ones. @category constructors */
export const ones = (shape: readonly number[]): T<never> => tag<never>(tf.ones([...shape]));
/** Zeros shaped like `x` (a constant). @category constructors */
export const zerosLike = (x: T<string>): T<never> => tag<never>(tf.zerosLike(raw(x)));
/** A constant scalar. @category constructors */
export const scalar = (v: number): T<never> => tag<never>(tf.scalar(v));
/** One-hot encoding of int32 `indices` (a constant). @category constructors */
export const oneHot = (indices: T<never>, depth: number): T<never> => tag<never>(tf.oneHot(raw(indices) as tf.Tensor1D, depth));
/** `[start, start+step, …)` as a constant float32 tensor. @category constructors */
export const range = (start: number, stop: number, step = 1): T<never> => tag<never>(tf.range(start, stop, step));
/** Reads a tensor back to the host asynchronously (the only read that works on every backend). @category utility types */
export const read = async (x: T<string>): Promise<Float32Array> => Float32Array.from(await raw(x).data() as Float32Array);
/** Reads a scalar back to the host asynchronously. @category utility types */
export const readScalar = async (x: T<string>): Promise<number> => ((await raw(x).data())[0] as number);
/** Reads a tensor back to the host synchronously (cpu and wasm only; prefer {@link read}). @category utility types */
export const readSync = (x: T<string>): Float32Array => Float32Array.from(raw(x).dataSync() as Float32Array);
/** Reads an int32 tensor back to the host asynchronously. @category utility types */
export const readInt = async (x: T<string>): Promise<Int32Array> => Int32Array.from((await raw(x).data()) as Int32Array);
/** A constant int32 tensor from data. @category constructors */
export const intTensor = (data: ArrayLike<number>, shape?: readonly number[]): T<never> =>
  tag<never>(tf.tensor(Int32Array.from(data), shape === undefined ? undefined : [...shape], 'int32'));
/** A constant tensor of `shape` filled with `value`. @category constructors */
export const full = (shape: readonly number[], value: number): T<never> => tag<never>(tf.fill([...shape], value));
