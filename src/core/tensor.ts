/** @file The opaque tracked tensor `T<G>`, and the only public conversions to and from raw tfjs tensors. */
import type { Tensor } from '@tensorflow/tfjs-core';
import { checkDeps, depsOf } from './internal.js';

declare const Deps: unique symbol;

/**
 * A tensor that names, in its type, the parameter groups it differentiably depends on.
 *
 * `T<never>` is a constant; `T<'sit'>` may carry gradient into the `sit` group. The phantom is
 * covariant, so `T<never>` is assignable to `T<'sit'>`, which is assignable to `T<'sit' | 'vae'>`,
 * but never the other way round.
 *
 * **Opaque**: the type carries no tfjs structure (only the read-only shape facts below), so a
 * `T<G>` is not assignable to a `tf.Tensor` and a `tf.Tensor` is not assignable to a `T<G>`. tfjs's
 * `<T extends Tensor>(…): T` functions and chained methods can neither consume nor produce one; every
 * computation goes through the typed ops of `src/core/ops`. At run time it is the tfjs tensor itself
 * (no wrapper); the only ways across are {@link fromTensor}/{@link constant} (untracked inputs) and
 * {@link toTensor} (constants out, for I/O and backends).
 *
 * @example
 * const z: T<'vae'> = vaeEncode(view.vae, x)
 * const c: T<never> = stopGradient(z)
 * @category utility types
 */
export interface T<out G extends string = never> {
  /** The phantom: the groups this tensor may carry gradient into (no run-time field). */
  readonly [Deps]: (_: never) => G;
  /** The shape. */
  readonly shape: readonly number[];
  /** The number of axes. */
  readonly rank: number;
  /** The number of entries. */
  readonly size: number;
  /** The element type. */
  readonly dtype: 'float32' | 'int32' | 'bool' | 'complex64' | 'string';
  /** True once disposed. */
  readonly isDisposed: boolean;
  /** Reads the values to the host (asynchronously; works on every backend). Reading never affects gradients. */
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
  /** Reads the values to the host synchronously (cpu and wasm only). */
  dataSync(): Float32Array | Int32Array | Uint8Array;
  /** Releases the tensor's memory. */
  dispose(): void;
}

/** A 0-d tracked tensor (a loss value). Alias of {@link T}; the rank is not tracked. @category utility types */
export type Scalar<G extends string = never> = T<G>;

/** The group set of a tracked tensor type. @category utility types */
export type DepsOf<X> = X extends T<infer G> ? G : never;

/**
 * Maps every tracked tensor inside a record/array type to a constant `T<never>`.
 * This is the type of auxiliary outputs after they leave a gradient tape.
 * @category utility types
 */
export type Constants<X> = X extends T<string>
  ? T<never>
  : X extends readonly unknown[]
    ? { readonly [I in keyof X]: Constants<X[I]> }
    : X extends object
      ? { readonly [K in keyof X]: Constants<X[K]> }
      : X;

/**
 * Re-tags every tracked tensor inside a tree type with the group set `G`.
 * @category utility types
 */
export type Retag<X, G extends string> = X extends T<string>
  ? T<G>
  : X extends readonly unknown[]
    ? { readonly [I in keyof X]: Retag<X[I], G> }
    : X extends object
      ? { readonly [K in keyof X]: Retag<X[K], G> }
      : X;

/**
 * Replaces every tracked tensor leaf of a tree type by `L` (what {@link unflatten} and
 * {@link mapTree} return: the type of the leaves they are handed, not the template's).
 * @category utility types
 */
export type Relabel<X, L> = X extends T<string>
  ? L
  : X extends null
    ? L
    : X extends readonly unknown[]
      ? { readonly [I in keyof X]: Relabel<X[I], L> }
      : X extends object
        ? { readonly [K in keyof X]: Relabel<X[K], L> }
        : X;

/**
 * A constant (group-free) tracked view of a raw tfjs tensor, e.g. a batch read from disk or a
 * kernel's output in a backend. Refuses, at run time, a tensor that is live on an open tape
 * (a tracked tensor smuggled out and back). Compile time: only raw `tf.Tensor`s are accepted.
 * @category constructors
 */
export function fromTensor(x: Tensor): T<never> {
  checkDeps(x, [], 'fromTensor');
  return x as unknown as T<never>;
}

/** Alias of {@link fromTensor}: a constant view of an untracked tfjs tensor. @category constructors */
export const constant: (x: Tensor) => T<never> = fromTensor;

/**
 * The raw tfjs tensor behind a **constant**, for I/O (`data()`, serialisation) and backends. A
 * live tensor is refused at compile time (`T<G>` with `G ≠ never` is not a `T<never>`) and at run
 * time (its run-time group set is not empty).
 * @category constructors
 */
export function toTensor(x: T<never>): Tensor {
  checkDeps(x, [], 'toTensor');
  return x as unknown as Tensor;
}

/** True when `x` carries no run-time dependency on any group (always true outside a tape). @category utility types */
export const isConstant = (x: T<string>): boolean => depsOf(x).size === 0;

/** The run-time groups of `x`, sorted (empty outside a tape, or for constants). @category utility types */
export const runtimeDeps = (x: T<string>): readonly string[] => [...depsOf(x)].sort();
