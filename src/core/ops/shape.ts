/** @file Typed shape ops: reshape, transpose, slicing, concatenation, padding, gathering. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { out, outAll, raw } from '../internal.js';
import type { T } from '../tensor.js';

/** Reshape (one entry may be −1). @category layers */
export const reshape = <G extends string>(x: T<G>, shape: readonly number[]): T<G> => out<G>(tf.reshape(raw(x), [...shape]), x);
/** Permute axes. @category layers */
export const transpose = <G extends string>(x: T<G>, perm: readonly number[]): T<G> =>
  out<G>(tf.transpose(raw(x), [...perm]), x);
/** Slice `size` entries starting at `begin` (−1 in `size` = to the end). @category layers */
export const slice = <G extends string>(x: T<G>, begin: readonly number[], size: readonly number[]): T<G> =>
  out<G>(tf.slice(raw(x), [...begin], [...size]), x);
/** Concatenate along `axis`. @category layers */
export const concat = <G extends string>(xs: readonly T<G>[], axis = 0): T<G> => out<G>(tf.concat(xs.map(raw), axis), ...xs);
/** Stack along a new `axis`. @category layers */
export const stack = <G extends string>(xs: readonly T<G>[], axis = 0): T<G> => out<G>(tf.stack(xs.map(raw), axis), ...xs);
/** Split into `n` equal parts (or the given sizes) along `axis`. @category layers */
export const split = <G extends string>(x: T<G>, n: number | readonly number[], axis = 0): T<G>[] =>
  outAll<G>(tf.split(raw(x), typeof n === 'number' ? n : [...n], axis), x);
/** Unstack along `axis`. @category layers */
export const unstack = <G extends string>(x: T<G>, axis = 0): T<G>[] => outAll<G>(tf.unstack(raw(x), axis), x);
/** Zero (or constant) padding: `paddings[i] = [before, after]`. @category layers */
export const pad = <G extends string>(x: T<G>, paddings: readonly (readonly [number, number])[], value = 0): T<G> =>
  out<G>(tf.pad(raw(x), paddings.map((p) => [p[0], p[1]] as [number, number]), value), x);
/** Gather rows of `x` along `axis` at integer `indices` (e.g. an embedding lookup). @category layers */
export const gather = <G extends string>(x: T<G>, indices: T<never>, axis = 0): T<G> =>
  out<G>(tf.gather(raw(x), raw(indices), axis), x, indices);
/** Insert a length-1 axis. @category layers */
export const expandDims = <G extends string>(x: T<G>, axis: number): T<G> => out<G>(tf.expandDims(raw(x), axis), x);
/** Drop length-1 axes. @category layers */
export const squeeze = <G extends string>(x: T<G>, axes?: readonly number[]): T<G> =>
  out<G>(tf.squeeze(raw(x), axes === undefined ? undefined : [...axes]), x);
/** Broadcast to `shape`. @category layers */
export const broadcastTo = <G extends string>(x: T<G>, shape: readonly number[]): T<G> =>
  out<G>(tf.broadcastTo(raw(x), [...shape]), x);
/** Repeat `x` `reps[i]` times along axis i. @category layers */
export const tile = <G extends string>(x: T<G>, reps: readonly number[]): T<G> => out<G>(tf.tile(raw(x), [...reps]), x);
/** Identity copy (keeps the groups). @category layers */
export const identity = <G extends string>(x: T<G>): T<G> => out<G>(tf.clone(raw(x)), x);
/** Reverse along the given axes. @category layers */
export const reverse = <G extends string>(x: T<G>, axes: readonly number[]): T<G> => out<G>(tf.reverse(raw(x), [...axes]), x);
/** The first `n` entries along axis 0 (`x[:n]`). @category layers */
export const head = <G extends string>(x: T<G>, n: number): T<G> =>
  out<G>(tf.slice(raw(x), [0, ...x.shape.slice(1).map(() => 0)], [n, ...x.shape.slice(1).map(() => -1)]), x);
