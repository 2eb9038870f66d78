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

/**
 * A group set written as one immutable string literal: group names joined by `|`, no spaces, each
 * once, in any order (`'sit|proj'` ≡ `'proj|sit'`). Strings cannot be mutated through an alias, so
 * the value a loss is built from is the value its type was checked against (an array could be
 * widened and pushed after the check).
 * @example type G = ParseGroups<'sit|proj'> // 'sit' | 'proj'
 * @category utility types
 */
export type ParseGroups<S extends string> = S extends '' ? never : SplitGroups<S>[number];

/** `'a|b|c'` → `['a', 'b', 'c']` (the parts of a group set, in the order written). @category utility types */
export type SplitGroups<S extends string> = S extends `${infer H}|${infer Rest}` ? [H, ...SplitGroups<Rest>] : [S];

/** `true` when `S` is a union of several types (`boolean` is one), `false` otherwise. @category utility types */
export type IsUnion<S, U = S> = S extends unknown ? ([U] extends [S] ? false : true) : never;

/** What is wrong with the parts `P` of a group set, the first problem found (`never` = nothing; see {@link GroupSetProblem}). @category utility types */
export type GroupSetPartsProblem<P extends readonly string[], Allowed extends string, Fr extends string, Where extends string, Seen extends string> =
  P extends readonly [infer H extends string, ...infer Rest extends string[]]
    ? string extends H
      ? 'group sets must be string literals, like \'sit|proj\''
      : [H] extends [Seen]
        ? `group '${H}' appears twice in the group set`
        : [H] extends [Fr]
          ? `group '${H}' is frozen: it is read, never trained`
          : [H] extends [Allowed]
            ? GroupSetPartsProblem<Rest, Allowed, Fr, Where, Seen | H>
            : `'${H}' is not ${Where} (write the groups joined by '|', no spaces)`
    : never;

/**
 * Why the string type `S` is not a group set drawn from `Allowed` (`never` when it is one): a
 * non-literal `string`, a union of literals (its value could be any member, so no one group set
 * can be read from the type), the empty string (unless `AllowEmpty`), a duplicated, frozen (`Fr`)
 * or unknown part (`Where` names the allowed set in the message).
 * @category utility types
 */
export type GroupSetProblem<S extends string, Allowed extends string, Fr extends string = never, AllowEmpty extends boolean = false, Where extends string = 'a group allowed here'> =
  string extends S
    ? 'group sets must be string literals, like \'sit|proj\''
    : true extends IsUnion<S>
      ? 'a group set must be one string literal, not a union'
      : S extends ''
        ? AllowEmpty extends true
          ? never
          : 'a group set cannot be empty'
        : GroupSetPartsProblem<SplitGroups<S>, Allowed, Fr, Where, never>;

/**
 * The check on a group-set argument, used as `groups: S & GroupSet<S, Allowed>`: `unknown` when `S`
 * is a valid group set, otherwise an object type (no string is assignable to it) whose only key is
 * the reason and whose value type is the allowed groups, so the compile error prints both.
 * @example
 * declare function f<const S extends string>(s: S & GroupSet<S, 'a' | 'b'>): ParseGroups<S>
 * f('a|b') // 'a' | 'b'
 * f('a|c') // error: ... { readonly "'c' is not a group allowed here (...); allowed:": "a" | "b" }
 * @category utility types
 */
export type GroupSet<S extends string, Allowed extends string, Fr extends string = never, AllowEmpty extends boolean = false, Where extends string = 'a group allowed here'> =
  [GroupSetProblem<S, Allowed, Fr, AllowEmpty, Where>] extends [never]
    ? unknown
    : { readonly [M in `${GroupSetProblem<S, Allowed, Fr, AllowEmpty, Where>}; allowed:`]: Allowed };

/**
 * What `loss` and `freeze` return for a group set typed `never` (an argument of type `never` is
 * assignable to every parameter, e.g. an element of an empty array literal, `{ a: [] }.a[0]!`, which
 * a `string[]` alias may have filled): not a loss, so any use of it is a compile error. (`valueAndGrad`
 * over `never` is typed with no gradients at all, which claims nothing.)
 * @category utility types
 */
export interface GroupSetTypedNever {
  readonly 'a group set typed never cannot be checked': never;
}
