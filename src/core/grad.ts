/** @file The trusted heart: views, routed losses and valueAndGrad over a registry. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import type { Frozen, Grads, Group, GroupSet, GroupSetTypedNever, ParseGroups, Registry, RegistrySpec, Store, Trainable, View } from './groups.js';
import { checkDeps, depsOf, raw, recordKept, seed, tag, withTape } from './internal.js';
import type { Loss } from './loss.js';
import { stopGradient } from './stop.js';
import type { Constants, Scalar, T } from './tensor.js';
import { tidy } from './scope.js';
import { isTensor, leaves, tensorsIn } from './tree.js';
import { ensureGradients, withSetupHint } from './setup.js';

/** The value, the gradients for `W` and the auxiliary outputs (now constants) of one evaluation. @category transforms */
export type ValueAndGrads<R extends Registry, W extends Group<R>, Aux> = readonly [Scalar, Grads<R, W>, Constants<Aux>];

/** Typed constructors and transforms bound to one registry (see {@link defineRegistry}). @category transforms */
export interface Routing<R extends Registry> {
  /** The run-time spec of the registry. */
  readonly spec: RegistrySpec<R>;
  /**
   * Declares a loss that may differentiate exactly the groups of `wrt`, a group-set string literal
   * (`'sit|proj'`: trainable groups joined by `|`, each once, any order; see {@link GroupSet}). The
   * body receives a view in which every other group is detached, and must return a scalar that
   * depends on `wrt` only: a value that still depends on another group is a compile error, and (for
   * what a type cannot see: casts, `any`) a run-time error on every evaluation inside a tape. `wrt` is
   * parsed and validated again at run time; the parsed, frozen list is the loss's `wrt`.
   */
  readonly loss: <const S extends string, B, Aux = {}>(
    name: string,
    wrt: S & GroupSet<S, Trainable<R>, Frozen<R>, false, 'a trainable group of this registry'>,
    run: (view: View<R, NoInfer<ParseGroups<S>>>, batch: B) => readonly [Scalar<NoInfer<ParseGroups<S>>>, Aux],
  ) => [S] extends [never] ? GroupSetTypedNever : Loss<R, Extract<ParseGroups<S>, Trainable<R>>, B, Aux>;
  /**
   * `c₁·L₁ + c₂·L₂`: may differentiate `D₁ ∪ D₂`; each term still sees only its own groups live.
   * Linear by construction: {@link Routing.valueAndGrad} differentiates each term on its own tape
   * (fresh parameter identities per term) and adds the results, so nothing a term stashes can carry
   * gradient in another.
   */
  readonly sum: <D1 extends Trainable<R>, D2 extends Trainable<R>, B, A1, A2>(
    a: readonly [Loss<R, D1, B, A1>, number],
    b: readonly [Loss<R, D2, B, A2>, number],
    name?: string,
  ) => Loss<R, D1 | D2, B, A1 & A2>;
  /** `c·L`, same routing. */
  readonly scale: <D extends Trainable<R>, B, A>(l: Loss<R, D, B, A>, c: number) => Loss<R, D, B, A>;
  /** Discharges `groups` (a group-set literal, `'vae'` or `'sit|vae'`, drawn from the loss's groups) from a loss: they are detached in its view and leave its type. */
  readonly freeze: <D extends Trainable<R>, B, A, const S extends string>(l: Loss<R, D, B, A>, groups: S & GroupSet<S, D, Frozen<R>, false, 'a group of this loss'>) => [S] extends [never] ? GroupSetTypedNever : Loss<R, Exclude<D, ParseGroups<S>>, B, A>;
  /**
   * Differentiates `l` w.r.t. the groups of `wrt ⊆ D` (a group-set literal, `'sit|proj'`) at the parameters in `store`. Gradients of
   * leaves the loss does not reach are `null` (distinct from zero: AdamW skips them).
   *
   * The tape differentiates **fresh identities** of the leaves of `l`'s groups, which reach the
   * loss only through its view: the store itself (and anything captured from it in a closure) is
   * a constant on the tape, and so is a parameter returned in the aux.
   */
  readonly valueAndGrad: <D extends Trainable<R>, B, Aux, const S extends string>(
    l: Loss<R, D, B, Aux>,
    wrt: S & GroupSet<S, D, Frozen<R>, false, 'a group of this loss'>,
  ) => (store: Store<R>, batch: B) => ValueAndGrads<R, Extract<ParseGroups<S>, D>, Aux>;
  /** Evaluates `l` without a tape: value and aux, all constants. */
  readonly evaluate: <D extends Trainable<R>, B, Aux>(l: Loss<R, D, B, Aux>) => (store: Store<R>, batch: B) => readonly [Scalar, Constants<Aux>];
  /**
   * The view a loss over `live` sees: every leaf of every other group detached. `live` is a
   * group-set literal over all groups (frozen ones included); `''` detaches everything.
   */
  readonly view: <const S extends string>(store: Store<R>, live: S & GroupSet<S, Group<R>, never, true, 'a group of this registry'>) => View<R, ParseGroups<S>>;
}

/**
 * After a forward pass threw at the outermost tape (a refused loss, a bad shape), frees what tfjs
 * saved for the backward pass that will now never run: the kept clones on the tape's nodes (tfjs
 * frees them only in backprop, so every refusal leaked them).
 */
function disposeAbandonedTape(): void {
  const st = tf.engine().state;
  if (st.gradientDepth !== 0) return;
  for (const node of st.activeTape ?? []) for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
  st.activeTape = [];
}

/** Keeps every tensor inside an arbitrary aux value (so it survives the tape's tidy). */
function keepAll(x: unknown): void {
  for (const t of tensorsIn(x)) recordKept(tf.keep(raw(t)));
}

/** Rebuilds a tree, detaching the leaves that are live at run time on a group outside `live` (unchanged subtrees are shared). */
function detachOutside(tree: unknown, live: readonly string[]): unknown {
  const go = (node: unknown): unknown => {
    if (isTensor(node)) {
      const d = depsOf(node);
      if (d.size === 0) return node;
      for (const g of d) if (!live.includes(g)) return stopGradient(node);
      return node;
    }
    if (Array.isArray(node)) {
      const m = node.map(go);
      return m.every((x, i) => x === node[i]) ? node : m;
    }
    if (typeof node === 'object' && node !== null) {
      let changed = false;
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(node)) {
        const c = (node as Record<string, unknown>)[k];
        o[k] = go(c);
        if (o[k] !== c) changed = true;
      }
      return changed ? o : node;
    }
    return node;
  };
  return go(tree);
}

/** Detaches every tensor leaf of a tree (the public view's detached groups). */
const detachAll = (tree: unknown): unknown =>
  isTensor(tree)
    ? stopGradient(tree)
    : Array.isArray(tree)
      ? tree.map(detachAll)
      : typeof tree === 'object' && tree !== null
        ? Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, detachAll(v)]))
        : tree;

/** Re-detaches, inside an existing view, the groups that `live` does not name. */
function narrow(groups: readonly string[], v: unknown, live: readonly string[]): unknown {
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const g of groups) out[g] = live.includes(g) ? src[g] : detachOutside(src[g], []);
  return out;
}

/** The terms of a sum, each with its coefficient (losses built by `sum`/`scale` of a sum). */
type Terms = readonly (readonly [Loss<Registry, never, unknown, unknown>, number])[];
const sumTerms = new WeakMap<object, Terms>();
/** The losses this module built (only they are accepted by the transforms). */
const built = new WeakSet<object>();

/**
 * Binds the typed routing combinators to a registry. The spec lists every group (the store must
 * have exactly these keys) and the frozen ones.
 *
 * @example
 * const { loss, valueAndGrad } = defineRegistry<Toy>({ groups: ['sit', 'vae', 'enc'], frozen: ['enc'] })
 * const l = loss('l', 'sit', (v, x: T<never>) => [sum(mul(v.sit.w, x)), {}] as const)
 * const [value, grads] = valueAndGrad(l, 'sit')(store, x)
 * @category transforms
 */
export function defineRegistry<R extends Registry>(spec: RegistrySpec<R>): Routing<R> {
  const groups: readonly string[] = Object.freeze([...(spec.groups as readonly string[])]);
  const frozenGroups: readonly string[] = Object.freeze([...(spec.frozen as readonly string[])]);
  for (const g of groups) if (typeof g !== 'string') throw new TypeError(`defineRegistry: group names must be strings (got ${typeof g})`);
  for (const g of frozenGroups) if (!groups.includes(g)) throw new Error(`defineRegistry: frozen group '${g}' is not a group (${groups.join(', ')})`);

  /** Copies, validates and freezes a run-time group list (the value every later check reads). */
  const groupList = (what: string, list: readonly unknown[], allowed: readonly string[], allowFrozen: boolean): readonly string[] => {
    if (!Array.isArray(list)) throw new TypeError(`${what}: the group list must be an array`);
    const out: string[] = [];
    for (const g of [...list]) {
      if (typeof g !== 'string' || !groups.includes(g)) throw new Error(`${what}: unknown group '${String(g)}' (registry: ${groups.join(', ')})`);
      if (!allowFrozen && frozenGroups.includes(g)) throw new Error(`${what}: group '${g}' is frozen`);
      if (!allowed.includes(g)) throw new Error(`${what}: '${g}' is not in wrt [${allowed.join(', ')}]`);
      if (!out.includes(g)) out.push(g);
    }
    return Object.freeze(out);
  };
  /**
   * Parses and validates a group-set string (`'sit|proj'`) at run time: the same rules as the
   * {@link GroupSet} type (a string, non-empty unless `allowEmpty`, known, not frozen unless
   * `allowFrozen`, in `allowed`, each once), then the frozen list every later check reads.
   */
  const groupSet = (what: string, s: unknown, allowed: readonly string[], allowFrozen: boolean, allowEmpty: boolean): readonly string[] => {
    const usable = allowFrozen ? allowed : allowed.filter((g) => !frozenGroups.includes(g));
    if (typeof s !== 'string')
      throw new TypeError(`${what}: the group set must be a string literal like '${usable.join('|')}' (got ${Array.isArray(s) ? 'an array' : typeof s})`);
    if (s === '') {
      if (allowEmpty) return Object.freeze([]);
      throw new Error(`${what}: the group set is empty (groups: ${usable.join(', ')})`);
    }
    const parts = s.split('|');
    for (const [i, g] of parts.entries())
      if (parts.indexOf(g) !== i) throw new Error(`${what}: group '${g}' appears twice in '${s}'`);
    return groupList(what, parts, allowed, allowFrozen);
  };
  const checkLoss = (l: unknown, what: string): Loss<Registry, never, unknown, unknown> => {
    if (typeof l !== 'object' || l === null || !built.has(l)) throw new TypeError(`${what}: not a loss built by this library's loss/sum/scale/freeze`);
    return l as Loss<Registry, never, unknown, unknown>;
  };
  const checkStore = (store: Store<R>): void => {
    const keys = Object.keys(store);
    for (const g of groups) if (!keys.includes(g)) throw new Error(`store is missing group '${g}' (have: ${keys.join(', ')})`);
    for (const k of keys) if (!groups.includes(k)) throw new Error(`store has unknown group '${k}' (registry: ${groups.join(', ')})`);
    for (const t of tensorsIn(store)) checkDeps(t, [], 'valueAndGrad: a store leaf');
  };
  const view = (store: Store<R>, live: string): unknown => {
    const l = groupSet('view', live, groups, true, true);
    const out: Record<string, unknown> = {};
    for (const g of groups) out[g] = l.includes(g) ? (store as Record<string, unknown>)[g] : detachAll((store as Record<string, unknown>)[g]);
    return out;
  };

  type AnyRun = (v: unknown, b: unknown) => readonly [Scalar<string>, unknown];
  const mk = (name: string, wrtIn: readonly unknown[], body: AnyRun, terms?: Terms): Loss<Registry, never, unknown, unknown> => {
    const wrt = groupList(`loss '${name}'`, wrtIn, groups, false);
    const run: AnyRun = (v, b) => {
      const r = body(narrow(groups, v, wrt), b);
      if (!Array.isArray(r) || !isTensor(r[0])) throw new TypeError(`loss '${name}': run must return [scalar, aux]`);
      checkDeps(r[0], wrt, `loss '${name}'`);
      return r;
    };
    const l = Object.freeze({ name: String(name), wrt, run });
    built.add(l);
    if (terms !== undefined) sumTerms.set(l, terms);
    return l as unknown as Loss<Registry, never, unknown, unknown>;
  };
  const termsOf = (l: Loss<Registry, never, unknown, unknown>, c: number): Terms =>
    (sumTerms.get(l) ?? [[l, 1] as const]).map(([t, k]) => [t, k * c] as const);

  /** One tape: fresh identities for the leaves of `l.wrt`, gradients w.r.t. those of `wrt`. */
  const oneTape = (l: Loss<Registry, never, unknown, unknown>, wrt: readonly string[], store: Record<string, unknown>, batch: unknown) =>
    withTape(() => {
      const created: tf.Tensor[] = [];
      const v: Record<string, unknown> = {};
      const xsOf: Record<string, tf.Tensor[]> = {};
      for (const g of groups) {
        if (!l.wrt.includes(g as never)) {
          v[g] = store[g];
          continue;
        }
        const xs: tf.Tensor[] = [];
        const fresh = (node: unknown): unknown => {
          if (isTensor(node)) {
            // a fresh identity, zero-copy (reshape shares the buffer on every backend)
            const t = tf.reshape(raw(node), [...node.shape]);
            seed(t, g);
            created.push(t);
            xs.push(t);
            return tag(t);
          }
          if (Array.isArray(node)) return node.map(fresh);
          if (typeof node === 'object' && node !== null) {
            const o: Record<string, unknown> = {};
            for (const k of Object.keys(node)) o[k] = fresh((node as Record<string, unknown>)[k]);
            return o;
          }
          return node;
        };
        v[g] = fresh(store[g]);
        xsOf[g] = xs;
      }
      let aux: unknown;
      let valueOut: tf.Tensor | undefined;
      const xs = wrt.flatMap((g) => xsOf[g] ?? []);
      try {
        if (xs.length === 0) {
          const value = tf.tidy(() => {
            const [val, a] = l.run(v, batch);
            keepAll(a);
            aux = a;
            return raw(val);
          });
          valueOut = value;
          return { value, grads: new Map<tf.Tensor, tf.Tensor | null>(), aux, fresh: v };
        }
        ensureGradients(); // lazily, once: works after tfjs's own setBackend too
        let result: { value: tf.Tensor; grads: tf.Tensor[] };
        try {
          result = tf.engine().gradients(
            () => {
              const [val, a] = l.run(v, batch);
              keepAll(a);
              aux = a;
              valueOut = raw(val);
              return valueOut;
            },
            xs,
            undefined,
            true,
          );
        } catch (e) {
          disposeAbandonedTape();
          throw withSetupHint(e);
        }
        const { value, grads } = result;
        return { value, grads: new Map(xs.map((x, i) => [x, grads[i] ?? null] as const)), aux, fresh: v };
      } finally {
        const kept = new Set<unknown>([...tensorsIn(aux), valueOut]);
        for (const t of created) if (!kept.has(t)) t.dispose();
      }
    });

  /** The gradient tree of group `g`: the template is the fresh tree, leaves looked up by identity. */
  const gradTree = (fresh: unknown, grads: ReadonlyMap<tf.Tensor, tf.Tensor | null>): unknown => {
    const go = (node: unknown): unknown => {
      if (node === null) return null;
      if (isTensor(node)) return grads.get(raw(node)) ?? null;
      if (Array.isArray(node)) return node.map(go);
      if (typeof node === 'object') {
        const o: Record<string, unknown> = {};
        for (const k of Object.keys(node).sort()) o[k] = go((node as Record<string, unknown>)[k]);
        return o;
      }
      return node;
    };
    return go(fresh);
  };

  /** `a + c·b` over two gradient trees (`null` = not reached; a missing `a` counts as `null`). */
  const addTrees = (a: unknown, b: unknown, c: number): unknown => {
    if (b === null || b === undefined) return a ?? null;
    if (isTensor(b)) {
      const sb = c === 1 ? raw(b) : tf.mul(raw(b), c);
      return a === null || a === undefined ? sb : tf.add(raw(a as T<never>), sb);
    }
    if (Array.isArray(b)) return b.map((x, i) => addTrees(Array.isArray(a) ? a[i] : undefined, x, c));
    if (typeof b === 'object') {
      const o: Record<string, unknown> = {};
      const ar = typeof a === 'object' && a !== null ? (a as Record<string, unknown>) : {};
      for (const k of Object.keys(b)) o[k] = addTrees(ar[k], (b as Record<string, unknown>)[k], c);
      return o;
    }
    return b;
  };

  const vag = (l: Loss<Registry, never, unknown, unknown>, wrt: readonly string[], store: Record<string, unknown>, batch: unknown): readonly [tf.Tensor, Record<string, unknown>, unknown] => {
    const terms = sumTerms.get(l);
    if (terms === undefined) {
      const r = oneTape(l, wrt, store, batch);
      const out: Record<string, unknown> = {};
      for (const g of wrt) out[g] = gradTree(r.fresh[g], r.grads);
      return [r.value, out, r.aux];
    }
    // a sum: one tape per term, results added (linear by construction)
    const parts: { c: number; tw: readonly string[]; r: readonly [tf.Tensor, Record<string, unknown>, unknown] }[] = [];
    try {
      for (const [t, c] of terms) {
        const tw = wrt.filter((g) => t.wrt.includes(g as never));
        parts.push({ c, tw, r: vag(t, tw, store, batch) });
      }
    } catch (e) {
      // a later term was refused: nobody receives the earlier terms' results
      for (const { r } of parts) for (const x of [tag<never>(r[0]), ...tensorsIn(r[1]), ...tensorsIn(r[2])]) if (!x.isDisposed) raw(x).dispose();
      throw e;
    }
    const combined = tidy(() => {
      let value: tf.Tensor = tf.scalar(0);
      const grads: Record<string, unknown> = {};
      for (const { c, tw, r } of parts) {
        value = tf.add(value, c === 1 ? r[0] : tf.mul(r[0], c));
        for (const g of tw) grads[g] = addTrees(grads[g] ?? null, r[1][g], c);
      }
      return { value: tag<never>(value), grads };
    });
    const keptNow = new Set<unknown>(tensorsIn(combined));
    for (const { r } of parts) for (const x of [tag<never>(r[0]), ...tensorsIn(r[1])]) if (!keptNow.has(x) && !x.isDisposed) raw(x).dispose();
    const out: Record<string, unknown> = {};
    for (const g of wrt) out[g] = combined.grads[g] ?? gradTree(store[g], new Map());
    const aux = Object.assign({}, ...parts.map((p) => p.r[2] as object)) as unknown;
    return [raw(combined.value), out, aux];
  };

  /** `freeze` on a parsed list (recursing into a sum's terms, where the list may be empty). */
  const freezeWith = (l: Loss<Registry, never, unknown, unknown>, frozen: readonly string[]): Loss<Registry, never, unknown, unknown> => {
    const wrt = l.wrt.filter((g) => !frozen.includes(g));
    const terms = sumTerms.get(l);
    const frozenTerms: Terms | undefined =
      terms === undefined ? undefined : terms.map(([t, c]) => [freezeWith(t, frozen.filter((g) => t.wrt.includes(g as never))), c] as const);
    return mk(`freeze(${l.name})`, wrt, (v, batch) => l.run(narrow(groups, v, wrt) as never, batch), frozenTerms);
  };

  const api: Routing<R> = {
    spec,
    view: view as Routing<R>["view"],
    loss: (name, wrt, run) => mk(name, groupSet(`loss '${String(name)}'`, wrt, groups, false, false), run as unknown as AnyRun) as never,
    sum: (a, b, name) => {
      const la = checkLoss(a[0], 'sum'), lb = checkLoss(b[0], 'sum');
      const ca = Number(a[1]), cb = Number(b[1]);
      const wrt = [...new Set([...la.wrt, ...lb.wrt])];
      return mk(
        name ?? `${ca}·${la.name} + ${cb}·${lb.name}`,
        wrt,
        (v, batch) => {
          const [va, xa] = la.run(v as never, batch);
          const [vb, xb] = lb.run(v as never, batch);
          const value = tag<string>(tf.add(tf.mul(raw(va), ca), tf.mul(raw(vb), cb)));
          return [value, { ...(xa as object), ...(xb as object) }] as const;
        },
        [...termsOf(la, ca), ...termsOf(lb, cb)],
      ) as never;
    },
    scale: (l0, c0) => {
      const l = checkLoss(l0, 'scale');
      const c = Number(c0);
      const terms = sumTerms.get(l);
      return mk(
        `${c}·${l.name}`,
        l.wrt,
        (v, batch) => {
          const [x, aux] = l.run(v as never, batch);
          return [tag<string>(tf.mul(raw(x), c)), aux] as const;
        },
        terms === undefined ? undefined : termsOf(l, c),
      ) as never;
    },
    freeze: (l0, ks) => {
      const l = checkLoss(l0, 'freeze');
      return freezeWith(l, groupSet(`freeze(${l.name})`, ks, l.wrt, false, false)) as never;
    },
    valueAndGrad: (l0, wrt0) => {
      const l = checkLoss(l0, 'valueAndGrad');
      const wrt = groupSet(`valueAndGrad(${l.name})`, wrt0, l.wrt, false, false);
      return (store, batch) => {
        checkStore(store);
        const [value, grads, aux] = vag(l, wrt, store as Record<string, unknown>, batch);
        return [tag(value), grads, aux] as never;
      };
    },
    evaluate: (l0) => {
      const l = checkLoss(l0, 'evaluate');
      return (store, batch) => {
        checkStore(store);
        let aux: unknown;
        const value = tf.tidy(() => {
          const [v, a] = l.run(store, batch);
          keepAll(a);
          aux = a;
          return raw(v);
        });
        return [tag(value), aux as never] as const;
      };
    },
  };
  return Object.freeze(api);
}

/** The number of tensor leaves in a tree (for diagnostics). @category utility types */
export const countLeaves = (tree: unknown): number => leaves(tree).length;
