/** @file The tracked tensor type `T<G>`: a tfjs tensor branded with the parameter groups it depends on. */
import type { Tensor } from '@tensorflow/tfjs-core';

declare const Deps: unique symbol;

/**
 * A tensor that names, in its type, the parameter groups it differentiably depends on.
 *
 * `T<never>` is a constant; `T<'sit'>` may carry gradient into the `sit` group. The phantom is
 * covariant, so `T<never>` is assignable to `T<'sit'>`, which is assignable to `T<'sit' | 'vae'>`,
 * but never the other way round. At run time it is exactly a `tf.Tensor` (a zero-cost brand).
 *
 * @example
 * const z: T<'vae'> = vaeEncode(view.vae, x)
 * const c: T<never> = stopGradient(z)
 * @category utility types
 */
export type T<G extends string = never> = Tensor & {
  /** The phantom dependency set (type level only). */
  readonly [Deps]: (_: never) => G;
};

/** A 0-d tracked tensor (a loss value). Alias of {@link T}; the rank is not tracked. @category utility types */
export type Scalar<G extends string = never> = T<G>;

/** The group set of a tracked tensor type. @category utility types */
export type DepsOf<X> = X extends T<infer G> ? G : never;

/**
 * Maps every tracked tensor inside a record/array type to a constant `T<never>`.
 * This is the type of auxiliary outputs after they leave a gradient tape.
 * @category utility types
 */
export type Constants<X> = X extends Tensor
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
export type Retag<X, G extends string> = X extends Tensor
  ? T<G>
  : X extends readonly unknown[]
    ? { readonly [I in keyof X]: Retag<X[I], G> }
    : X extends object
      ? { readonly [K in keyof X]: Retag<X[K], G> }
      : X;

/** Trusted cast: declares that a raw tensor depends on `G`. Only `src/core` and `src/backends` may call it. @internal */
export const tag = <G extends string>(x: Tensor): T<G> => x as T<G>;

/** A constant (group-free) view of a raw tfjs tensor, e.g. a batch read from disk. @category constructors */
export const constant = (x: Tensor): T<never> => x as T<never>;
