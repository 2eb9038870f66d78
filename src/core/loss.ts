/** @file Losses that declare, in type and value, which groups they may differentiate. */
import type { Group, Registry, Trainable, View } from './groups.js';
import type { Scalar } from './tensor.js';

/**
 * A scalar objective over the parameters of registry `R` that may differentiate exactly the groups
 * `D`. `wrt` is the run-time witness of `D`: the group-set string the loss was declared with
 * (`'sit|proj'`), parsed, validated and frozen; `run` receives a {@link View} in which only the groups
 * in `D` are live, and returns the value and auxiliary outputs.
 * @category losses
 */
export interface Loss<R extends Registry, D extends Trainable<R>, B, Aux = {}> {
  readonly name: string;
  readonly wrt: readonly D[];
  /** Evaluates the loss on a view (only `D` live) and a batch: the scalar value and auxiliary outputs. */
  readonly run: (view: View<R, D>, batch: B) => readonly [Scalar<D>, Aux];
}

/**
 * Any loss of registry `R` over batches `B`, whatever groups it declares (for laws and tooling):
 * every `Loss<R, D, B, A>` is assignable to it.
 * @category utility types
 */
export interface AnyLoss<R extends Registry, B> {
  readonly name: string;
  readonly wrt: readonly Trainable<R>[];
  /** Evaluates the loss (erased view type). */
  readonly run: (view: never, batch: B) => readonly [Scalar<string>, unknown];
}

/** The groups a loss may differentiate. @category utility types */
export type LossDeps<L> = L extends Loss<Registry, infer D, never, unknown> ? D : never;

/** Groups of `R` that are not in `D` (for documentation of views). @category utility types */
export type Detached<R extends Registry, D extends string> = Exclude<Group<R>, D>;
