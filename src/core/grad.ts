/** @file The trusted heart: views, routed losses and valueAndGrad over a registry. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import type { Grads, Group, Registry, RegistrySpec, Store, Trainable, View } from './groups.js';
import type { Loss } from './loss.js';
import { stopGradient } from './stop.js';
import type { Constants, Scalar, T } from './tensor.js';
import { flatten, leaves, mapTree, tensorsIn, unflatten } from './tree.js';
import { ensureGradients, withSetupHint } from '../backends/gradients.js';

/** The value, the gradients for `W` and the auxiliary outputs (now constants) of one evaluation. @category transforms */
export type ValueAndGrads<R extends Registry, W extends Group<R>, Aux> = readonly [Scalar, Grads<R, W>, Constants<Aux>];

/** Typed constructors and transforms bound to one registry (see {@link defineRegistry}). @category transforms */
export interface Routing<R extends Registry> {
  /** The run-time spec of the registry. */
  readonly spec: RegistrySpec<R>;
  /**
   * Declares a loss that may differentiate exactly `wrt`. The body receives a view in which every
   * other group is detached, and must return a scalar that depends on `wrt` only: a value that still
   * depends on another group is a compile error.
   */
  loss<const D extends Trainable<R>, B, Aux = {}>(
    name: string,
    wrt: readonly D[],
    run: (view: View<R, NoInfer<D>>, batch: B) => readonly [Scalar<NoInfer<D>>, Aux],
  ): Loss<R, D, B, Aux>;
  /** `c₁·L₁ + c₂·L₂`: may differentiate `D₁ ∪ D₂`; each term still sees only its own groups live. */
  sum<D1 extends Trainable<R>, D2 extends Trainable<R>, B, A1, A2>(
    a: readonly [Loss<R, D1, B, A1>, number],
    b: readonly [Loss<R, D2, B, A2>, number],
    name?: string,
  ): Loss<R, D1 | D2, B, A1 & A2>;
  /** `c·L`, same routing. */
  scale<D extends Trainable<R>, B, A>(l: Loss<R, D, B, A>, c: number): Loss<R, D, B, A>;
  /** Discharges `groups` from a loss: they are detached in its view and leave its type. */
  freeze<D extends Trainable<R>, B, A, const K extends D>(l: Loss<R, D, B, A>, groups: readonly K[]): Loss<R, Exclude<D, K>, B, A>;
  /**
   * Differentiates `l` w.r.t. the groups `wrt ⊆ D` at the parameters in `store`. Gradients of
   * leaves the loss does not reach are `null` (distinct from zero: AdamW skips them).
   */
  valueAndGrad<D extends Trainable<R>, B, Aux, const W extends D>(
    l: Loss<R, D, B, Aux>,
    wrt: readonly W[],
  ): (store: Store<R>, batch: B) => ValueAndGrads<R, W, Aux>;
  /** Evaluates `l` without a tape: value and aux, all constants. */
  evaluate<D extends Trainable<R>, B, Aux>(l: Loss<R, D, B, Aux>): (store: Store<R>, batch: B) => readonly [Scalar, Constants<Aux>];
  /** The view a loss over `live` sees: every leaf of every other group detached. */
  view<const D extends Group<R>>(store: Store<R>, live: readonly D[]): View<R, D>;
}

/** Keeps every tensor inside an arbitrary aux value (so it survives the tape's tidy). */
function keepAll(x: unknown): void {
  for (const t of tensorsIn(x)) tf.keep(t);
}

function detachTree<X>(tree: X): X {
  return mapTree(tree, (l) => (l === null ? null : stopGradient(l as T<string>)));
}

/** Re-detaches, inside an existing view, the groups that `live` does not name. */
function narrow<R extends Registry>(groups: readonly string[], v: unknown, live: readonly string[]): unknown {
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const g of groups) out[g] = live.includes(g) ? src[g] : detachTree(src[g]);
  return out as unknown as View<R, never>;
}

/**
 * Binds the typed routing combinators to a registry. The spec lists every group (the store must
 * have exactly these keys) and the frozen ones.
 *
 * @example
 * const { loss, valueAndGrad } = defineRegistry<Toy>({ groups: ['sit', 'vae', 'enc'], frozen: ['enc'] })
 * const l = loss('l', ['sit'], (v, x: T<never>) => [sum(mul(v.sit.w, x)), {}] as const)
 * const [value, grads] = valueAndGrad(l, ['sit'])(store, x)
 * @category transforms
 */
export function defineRegistry<R extends Registry>(spec: RegistrySpec<R>): Routing<R> {
  const groups = spec.groups as readonly string[];
  const checkStore = (store: Store<R>): void => {
    const keys = Object.keys(store);
    for (const g of groups) if (!keys.includes(g)) throw new Error(`store is missing group '${g}' (have: ${keys.join(', ')})`);
    for (const k of keys) if (!groups.includes(k)) throw new Error(`store has unknown group '${k}' (registry: ${groups.join(', ')})`);
  };
  const view = <D extends Group<R>>(store: Store<R>, live: readonly D[]): View<R, D> =>
    narrow<R>(groups, store, live as readonly string[]) as View<R, D>;

  const mk = <D extends Trainable<R>, B, Aux>(
    name: string,
    wrt: readonly D[],
    run: (view: View<R, D>, batch: B) => readonly [Scalar<D>, Aux],
  ): Loss<R, D, B, Aux> => {
    for (const g of wrt as readonly string[]) {
      if (!groups.includes(g)) throw new Error(`loss '${name}': unknown group '${g}'`);
      if ((spec.frozen as readonly string[]).includes(g)) throw new Error(`loss '${name}': group '${g}' is frozen`);
    }
    return Object.freeze({ name, wrt: Object.freeze([...wrt]), run });
  };

  const api: Routing<R> = {
    spec,
    view,
    loss: (name, wrt, run) => mk(name, wrt, run as never),
    sum: (a, b, name) => {
      const wrt = [...new Set([...a[0].wrt, ...b[0].wrt])];
      return mk(name ?? `${a[1]}·${a[0].name} + ${b[1]}·${b[0].name}`, wrt, (v, batch) => {
        const [va, xa] = a[0].run(narrow<R>(groups, v, a[0].wrt) as never, batch);
        const [vb, xb] = b[0].run(narrow<R>(groups, v, b[0].wrt) as never, batch);
        const value = tf.add(tf.mul(va, a[1]), tf.mul(vb, b[1])) as Scalar<(typeof wrt)[number]>;
        return [value, { ...(xa as object), ...(xb as object) } as never] as const;
      });
    },
    scale: (l, c) => mk(`${c}·${l.name}`, l.wrt, (v, batch) => {
      const [x, aux] = l.run(v, batch);
      return [tf.mul(x, c) as typeof x, aux] as const;
    }),
    freeze: (l, ks) => {
      const frozen = ks as readonly string[];
      const wrt = l.wrt.filter((g) => !frozen.includes(g));
      return mk(`freeze(${l.name})`, wrt as never[], (v, batch: never) => l.run(narrow<R>(groups, v, wrt) as never, batch) as never) as never;
    },
    valueAndGrad: (l, wrt) => (store, batch) => {
      checkStore(store);
      for (const g of wrt as readonly string[])
        if (!(l.wrt as readonly string[]).includes(g)) throw new Error(`valueAndGrad(${l.name}): '${g}' is not in wrt [${l.wrt.join(', ')}]`);
      const sections = (wrt as readonly string[]).map((g) => ({ g, flat: flatten((store as Record<string, unknown>)[g]) }));
      const xs = sections.flatMap((s) => s.flat.flatMap((f) => (f.leaf === null ? [] : [f.leaf as tf.Variable])));
      let aux: unknown;
      ensureGradients(); // lazily, once: works after tfjs's own setBackend too
      let result: { value: tf.Tensor; grads: tf.Tensor[] };
      try {
        result = tf.engine().gradients(
          () => {
            const [v, a] = l.run(view(store, l.wrt) as never, batch);
            keepAll(a);
            aux = a;
            return v;
          },
          xs,
          undefined,
          true,
        );
      } catch (e) {
        throw withSetupHint(e);
      }
      const { value, grads } = result;
      let i = 0;
      const out: Record<string, unknown> = {};
      for (const s of sections)
        out[s.g] = unflatten(
          (store as Record<string, unknown>)[s.g],
          s.flat.map((f) => (f.leaf === null ? null : (grads[i++] ?? null))),
        );
      return [value as Scalar, out as Grads<R, never>, aux as Constants<never>] as never;
    },
    evaluate: (l) => (store, batch) => {
      checkStore(store);
      let aux: unknown;
      const value = tf.tidy(() => {
        const [v, a] = l.run(view(store, []) as never, batch);
        keepAll(a);
        aux = a;
        return v;
      });
      return [value as Scalar, aux as never] as const;
    },
  };
  return api;
}

/** The number of tensor leaves in a tree (for diagnostics). @category utility types */
export const countLeaves = (tree: unknown): number => leaves(tree).length;
