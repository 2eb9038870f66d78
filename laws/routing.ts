/** @file Routing laws: linearity by group, and no gradient outside a loss's `wrt`. */
import * as tf from '@tensorflow/tfjs-core';
import type { Registry, Store } from '../src/core/groups.js';
import type { Routing } from '../src/core/grad.js';
import type { AnyLoss } from '../src/core/loss.js';
import { flatten, tensorsIn } from '../src/core/tree.js';

const maxAbsDiff = async (a: tf.Tensor | null, b: tf.Tensor | null): Promise<number> => {
  if (a === null && b === null) return 0;
  const x = a === null ? new Float32Array(b!.size) : await a.data();
  const y = b === null ? new Float32Array(a!.size) : await b.data();
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
  const [v, g] = routing.valueAndGrad(combined as never, groups as never)(store, batch as never) as readonly [tf.Tensor, unknown, unknown];
  let worst = 0;
  for (const K of groups) {
    const lhs = flatten((g as Record<string, unknown>)[K]).map((l) => l.leaf);
    const acc: (tf.Tensor | null)[] = lhs.map(() => null);
    for (const [l, c] of terms) {
      if (!(l.wrt as readonly string[]).includes(K)) continue;
      const [vi, gi] = routing.valueAndGrad(l as never, [K] as never)(store, batch as never) as readonly [tf.Tensor, unknown, unknown];
      flatten((gi as Record<string, unknown>)[K]).forEach((leaf, j) => {
        if (leaf.leaf === null) return;
        const scaled = tf.mul(leaf.leaf, c);
        const prev = acc[j] ?? null;
        acc[j] = prev === null ? scaled : tf.add(prev, scaled);
        if (prev !== null) { prev.dispose(); scaled.dispose(); }
      });
      tf.dispose([vi, ...tensorsIn(gi)]);
    }
    for (let j = 0; j < lhs.length; j++) worst = Math.max(worst, await maxAbsDiff(lhs[j] ?? null, acc[j] ?? null));
    tf.dispose(acc.filter((x): x is tf.Tensor => x !== null));
  }
  tf.dispose([v, ...tensorsIn(g)]);
  return worst;
}

/**
 * The view law: with *every* leaf of the store offered as a differentiation target, the gradient
 * of `l` w.r.t. each leaf of a group outside `l.wrt` is absent (null). Returns the paths that
 * wrongly received a gradient (empty = holds). Guards the trusted view builder.
 * @category laws
 */
export function leakedGroups<R extends Registry, B>(routing: Routing<R>, l: AnyLoss<R, B>, store: Store<R>, batch: B): string[] {
  const all = flatten(store);
  const xs = all.flatMap((f) => (f.leaf === null ? [] : [f.leaf]));
  const { value, grads } = tf.engine().gradients(
    () => {
      const [v] = l.run(routing.view(store, l.wrt) as never, batch);
      return v;
    },
    xs,
    undefined,
    true,
  );
  const wrt = l.wrt as readonly string[];
  const leaked: string[] = [];
  all.forEach((f, i) => {
    const group = f.path.split('.')[0] as string;
    if (!wrt.includes(group) && grads[i] != null) leaked.push(f.path);
  });
  tf.dispose([value, ...grads.filter((x): x is tf.Tensor => x != null)]);
  return leaked;
}
