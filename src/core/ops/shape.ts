/** @file Typed shape ops: reshape, transpose, slicing, concatenation, padding, gathering. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../tensor.js';

/** Reshape (one entry may be −1). @category layers */
export const reshape = <G extends string>(x: T<G>, shape: readonly number[]): T<G> => tf.reshape(x, [...shape]) as T<G>;
/** Permute axes. @category layers */
export const transpose = <G extends string>(x: T<G>, perm: readonly number[]): T<G> =>
  tf.transpose(x, [...perm]) as T<G>;
/** Slice `size` entries starting at `begin` (−1 in `size` = to the end). @category layers */
export const slice = <G extends string>(x: T<G>, begin: readonly number[], size: readonly number[]): T<G> =>
  tf.slice(x, [...begin], [...size]) as T<G>;
/** Concatenate along `axis`. @category layers */
export const concat = <G extends string>(xs: readonly T<G>[], axis = 0): T<G> => tf.concat([...xs], axis) as T<G>;
/** Stack along a new `axis`. @category layers */
export const stack = <G extends string>(xs: readonly T<G>[], axis = 0): T<G> => tf.stack([...xs], axis) as T<G>;
/** Split into `n` equal parts (or the given sizes) along `axis`. @category layers */
export const split = <G extends string>(x: T<G>, n: number | readonly number[], axis = 0): T<G>[] =>
  tf.split(x, typeof n === 'number' ? n : [...n], axis) as T<G>[];
/** Unstack along `axis`. @category layers */
export const unstack = <G extends string>(x: T<G>, axis = 0): T<G>[] => tf.unstack(x, axis) as T<G>[];
/** Zero (or constant) padding: `paddings[i] = [before, after]`. @category layers */
export const pad = <G extends string>(x: T<G>, paddings: readonly (readonly [number, number])[], value = 0): T<G> =>
  tf.pad(x, paddings.map((p) => [p[0], p[1]] as [number, number]), value) as T<G>;
/** Gather rows of `x` along `axis` at integer `indices` (e.g. an embedding lookup). @category layers */
export const gather = <G extends string>(x: T<G>, indices: T<never>, axis = 0): T<G> =>
  tf.gather(x, indices, axis) as T<G>;
/** Insert a length-1 axis. @category layers */
export const expandDims = <G extends string>(x: T<G>, axis: number): T<G> => tf.expandDims(x, axis) as T<G>;
/** Drop length-1 axes. @category layers */
export const squeeze = <G extends string>(x: T<G>, axes?: readonly number[]): T<G> =>
  tf.squeeze(x, axes === undefined ? undefined : [...axes]) as T<G>;
/** Broadcast to `shape`. @category layers */
export const broadcastTo = <G extends string>(x: T<G>, shape: readonly number[]): T<G> =>
  tf.broadcastTo(x, [...shape]) as T<G>;
/** Repeat `x` `reps[i]` times along axis i. @category layers */
export const tile = <G extends string>(x: T<G>, reps: readonly number[]): T<G> => tf.tile(x, [...reps]) as T<G>;
/** Identity copy (keeps the groups). @category layers */
export const identity = <G extends string>(x: T<G>): T<G> => tf.clone(x) as T<G>;
