/** @file Routing laws: linearity by group, and no gradient outside a loss's `wrt`. */
import type { Frozen, GroupSet, Registry, Store, Trainable } from '../src/core/groups.js';
import type { Routing } from '../src/core/grad.js';
import type { AnyLoss } from '../src/core/loss.js';
import { add, mul, read, scalar, sum } from '../src/core/ops/index.js';
import { dispose } from '../src/core/scope.js';
import type { T } from '../src/core/tensor.js';
import { gradientsWrt } from '../src/core/testing.js';
import { constantLeaves, flatten } from '../src/core/tree.js';

const maxAbsDiff = async (a: T<never> | null, b: T<never> | null): Promise<number> => {
  if (a === null && b === null) return 0;
  const x = a === null ? new Float32Array(b!.size) : await read(a);
  const y = b === null ? new Float32Array(a!.size) : await read(b);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs((x[i] as number) - (y[i] as number)));
  return m;
};

/**
 * Linearity by group: for every trainable group K,
 * `∇_K Σᵢ cᵢLᵢ = Σ_{i : K ∈ Dᵢ} cᵢ ∇_K Lᵢ`. Returns the largest absolute deviation (0 = holds).
 * A loss that lets gradient leak into a group it does not declare makes the two sides differ.
 * @category laws
 */
export async function routingDeviation<R extends Registry, B>(
  routing: Routing<R>,
  terms: readonly (readonly [AnyLoss<R, B>, number])[],
  combined: AnyLoss<R, B>,
  store: Store<R>,
  batch: B,
): Promise<number> {
  const groups = combined.wrt;
  const [v, g] = routing.valueAndGrad(combined as never, groups.join('|') as never)(store, batch as never) as readonly [T<never>, unknown, unknown];
  let worst = 0;
  for (const K of groups) {
    const lhs = constantLeaves((g as Record<string, unknown>)[K]);
    const acc: (T<never> | null)[] = lhs.map(() => null);
    for (const [l, c] of terms) {
      if (!(l.wrt as readonly string[]).includes(K)) continue;
      const [vi, gi] = routing.valueAndGrad(l as never, K as never)(store, batch as never) as readonly [T<never>, unknown, unknown];
      constantLeaves((gi as Record<string, unknown>)[K]).forEach((leaf, j) => {
        if (leaf === null) return;
        const scaled = mul(leaf, c);
        const prev = acc[j] ?? null;
        acc[j] = prev === null ? scaled : add(prev, scaled);
        if (prev !== null) dispose([prev, scaled]);
      });
      dispose([vi, gi]);
    }
    for (let j = 0; j < lhs.length; j++) worst = Math.max(worst, await maxAbsDiff(lhs[j] ?? null, acc[j] ?? null));
    dispose(acc);
  }
  dispose([v, g]);
  return worst;
}

/**
 * The view law: with *every* leaf of the store offered as a differentiation target, the gradient
 * of `l` w.r.t. each leaf of a group outside `l.wrt` is absent (null). Returns the paths that
 * wrongly received a gradient (empty = holds). Guards the trusted view builder.
 * @category laws
 */
export function leakedGroups<R extends Registry, B>(routing: Routing<R>, l: AnyLoss<R, B>, store: Store<R>, batch: B): string[] {
  const paths = flatten(store).map((f) => f.path);
  const all = constantLeaves(store).flatMap((leaf, i) => (leaf === null ? [] : [{ path: paths[i] as string, leaf }]));
  const { value, grads } = gradientsWrt(() => l.run(routing.view(store, l.wrt.join('|') as never) as never, batch)[0], all.map((f) => f.leaf));
  const wrt = l.wrt as readonly string[];
  const leaked: string[] = [];
  all.forEach((f, i) => {
    const group = f.path.split('.')[0] as string;
    if (!wrt.includes(group) && grads[i] != null) leaked.push(f.path);
  });
  dispose([value, grads]);
  return leaked;
}

/**
 * The closure law: a loss over the group set `groupSet` (`'sit|vae'`) whose value reads the parameters through a **closure over
 * the store** (`capture(store)`, e.g. `s => [s.vae.w]`) instead of its view receives no gradient
 * from those reads: the store is a constant on the tape (valueAndGrad differentiates fresh
 * identities reached only through the view). Returns the groups whose gradient is not null (empty = holds).
 * @category laws
 */
export async function closureGradientLeak<R extends Registry, B, const S extends string>(
  routing: Routing<R>,
  groupSet: S & GroupSet<S, Trainable<R>, Frozen<R>, false, 'a trainable group of this registry'>,
  store: Store<R>,
  batch: B,
  capture: (store: Store<R>) => readonly T<never>[],
): Promise<string[]> {
  const groups: readonly string[] = groupSet.split('|');
  const l = routing.loss('closure-law', groupSet as never, () => {
    const parts = capture(store).map((t) => sum(mul(t, t)));
    return [parts.reduce((a: T<never>, b) => add(a, b), scalar(0)), {}] as const;
  });
  const [v, g] = routing.valueAndGrad(l as never, groupSet as never)(store, batch as never) as readonly [T<never>, Record<string, unknown>, unknown];
  const leaked = groups.filter((k) => constantLeaves(g[k]).some((x) => x !== null));
  dispose([v, g]);
  return leaked;
}
