/** @file The group registry: one type keys the store, views, gradients, optimizer table and checkpoint sections. */
import type { T } from './tensor.js';

/**
 * A registry of parameter groups, declared as an interface (a type-level function of the group tag
 * `G`, in the style of Effect's `TypeLambda`): one member per group, whose type is the group's
 * parameter record instantiated at `this['G']`, and `Frozen`, the union of groups that losses may
 * read but never train.
 *
 * Members must be named generic types (`this` is not allowed inside an inline object type).
 *
 * @example
 * interface SitP<G extends string> { readonly w: T<G>; readonly b: T<G> }
 * interface Toy extends Registry {
 *   readonly Frozen: 'enc';
 *   readonly sit: SitP<this['G']>;
 *   readonly enc: EncP<this['G']>;
 * }
 * @category utility types
 */
export interface Registry {
  /** The tag slot; instantiate with {@link Family}. */
  readonly G: string;
  /** Groups that are read but never trained (representation encoder, LPIPS, ...). */
  readonly Frozen: string;
}

/** The group names of a registry. @category utility types */
export type Group<R extends Registry> = Exclude<keyof R, 'G' | 'Frozen'> & string;
/** The frozen groups of a registry. @category utility types */
export type Frozen<R extends Registry> = R['Frozen'] & Group<R>;
/** The groups an optimizer may update. @category utility types */
export type Trainable<R extends Registry> = Exclude<Group<R>, R['Frozen']>;

/** Group `K`'s parameter record with every leaf tagged `G`. @category utility types */
export type Family<R extends Registry, K extends Group<R>, G extends string> = (R & { readonly G: G })[K];

/** All parameters at rest: every leaf a constant. @category utility types */
export type Store<R extends Registry> = { readonly [K in Group<R>]: Family<R, K, never> };

/**
 * What a loss over `D` sees: the leaves of group `K` are tagged `K` when `K ∈ D` (live) and
 * `never` otherwise (detached constants).
 * @category utility types
 */
export type View<R extends Registry, D extends string> = {
  readonly [K in Group<R>]: Family<R, K, K extends D ? K : never>;
};

/** Replaces tensor leaves by `T<never> | null` (null = not reached by the loss). @category utility types */
export type GradTree<X> = X extends T<string>
  ? T<never> | null
  : X extends readonly unknown[]
    ? { readonly [I in keyof X]: GradTree<X[I]> }
    : X extends object
      ? { readonly [K in keyof X]: GradTree<X[K]> }
      : X;

/** Gradients for the groups `W`, shaped like their parameter records. @category utility types */
export type Grads<R extends Registry, W extends Group<R>> = {
  readonly [K in W]: GradTree<Family<R, K, never>>;
};

/**
 * A table with one entry per trainable group: a missing group is a compile error.
 * @category utility types
 */
export type PerGroup<R extends Registry, V> = { readonly [K in Trainable<R>]: V };

/**
 * The run-time witness of a registry: its group names and which are frozen.
 * @category constructors
 */
export interface RegistrySpec<R extends Registry> {
  readonly groups: readonly Group<R>[];
  readonly frozen: readonly Frozen<R>[];
}
