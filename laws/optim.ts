/** @file Optimizer laws over parameter trees: AdamW closed form, chain associativity, partition = each label by hand. */
import { read, scalar } from '../src/core/ops/index.js';
import { dispose } from '../src/core/scope.js';
import type { T } from '../src/core/tensor.js';
import { gradLeaves, gradTree, leaves, tensorsIn } from '../src/core/tree.js';
import type { AdamWConfig, GradientTransformation } from '../src/optim/optim.js';
import { applyUpdates, chain, partition, type PartitionLabels } from '../src/optim/optim.js';

/**
 * The closed form of `steps` AdamW steps with a constant gradient `g` on a scalar parameter `p`
 * (float64 reference of PyTorch's formula).
 * @category laws
 */
export function adamClosedForm(p: number, g: number, steps: number, c: AdamWConfig): number {
  let m = 0, v = 0;
  for (let t = 1; t <= steps; t++) {
    p *= 1 - c.lr * c.weightDecay;
    m = c.beta1 * m + (1 - c.beta1) * g;
    v = c.beta2 * v + (1 - c.beta2) * g * g;
    p -= (c.lr / (1 - c.beta1 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - c.beta2 ** t) + c.eps));
  }
  return p;
}

/** Scalar parameters as a flat list: the simplest parameter tree. @category laws */
export type ScalarList = T<never>[];

/**
 * Runs `steps` updates of `opt` on scalar parameters `ps` with constant gradients `gs` (null = no
 * gradient) and returns the final parameters.
 * @category laws
 */
export async function runOptimizer<S>(opt: GradientTransformation<ScalarList, S>, ps: readonly number[], gs: readonly (number | null)[], steps: number): Promise<number[]> {
  return runOptimizerOn(opt, (params) => params, ps, gs, steps);
}

/**
 * {@link runOptimizer} on the parameter tree `shape(leaves)` of the scalar parameters (whose
 * flatten order must be the order of `ps`), e.g. a record of groups for a `partition`; the
 * gradients are the same tree with `gs` at its leaves. Returns the final leaves in flatten order.
 * @category laws
 */
export async function runOptimizerOn<P, S>(opt: GradientTransformation<P, S>, shape: (params: T<never>[]) => P, ps: readonly number[], gs: readonly (number | null)[], steps: number): Promise<number[]> {
  let params: P = shape(ps.map((p) => scalar(p)));
  let state = opt.init(params);
  for (let t = 0; t < steps; t++) {
    const grads = gradTree(params, gs.map((g) => (g === null ? null : scalar(g))));
    const [upd, next] = opt.update(grads, state, params);
    const np = applyUpdates(params, upd);
    const keep = new Set<T<string>>([...tensorsIn(np), ...tensorsIn(next)]);
    for (const x of [...tensorsIn(params), ...gradLeaves(grads), ...gradLeaves(upd), ...tensorsIn(state)]) if (x !== null && !keep.has(x) && !x.isDisposed) dispose(x);
    state = next;
    params = np;
  }
  const out = await Promise.all(leaves(params).map(async (p) => (await read(p))[0] as number));
  dispose([params, state]);
  return out;
}

/**
 * `chain(chain(a,b),c)` and `chain(a,chain(b,c))` give the same parameters on the tree
 * `shape(leaves)`. Returns the max difference.
 * @category laws
 */
export async function chainAssociativity<P, A, B, C>(
  a: GradientTransformation<P, A>,
  b: GradientTransformation<P, B>,
  c: GradientTransformation<P, C>,
  shape: (params: T<never>[]) => P,
  ps: readonly number[],
  gs: readonly (number | null)[],
  steps: number,
): Promise<number> {
  const left = await runOptimizerOn(chain(chain(a, b), c), shape, ps, gs, steps);
  const right = await runOptimizerOn(chain(a, chain(b, c)), shape, ps, gs, steps);
  return Math.max(0, ...left.map((x, i) => Math.abs(x - (right[i] as number))));
}

/** Parameter groups of the partition law: each group a tree of scalars. @category laws */
export type LawParams = { readonly [group: string]: unknown };

/** One parameter group of {@link partitionByHand}: its label, its tree (leaves in flatten order are its scalars), scalar parameters and constant gradients (null = none). @category laws */
export interface LawGroup<L extends string> {
  readonly label: L;
  /** The group's tree built from its leaves (default: the flat list). */
  readonly shape?: (leaves: T<never>[]) => unknown;
  readonly ps: readonly number[];
  readonly gs: readonly (number | null)[];
}

/**
 * `partition(transforms, labels)` for `steps` steps gives the same parameters as running, by hand,
 * each label's transformation on the record of its groups alone (groups in sorted key order, as
 * the core's `flatten` visits them). Returns the max difference.
 * @category laws
 */
export async function partitionByHand<L extends string>(
  transforms: { readonly [l in L]: GradientTransformation<LawParams, unknown> },
  groups: { readonly [g: string]: LawGroup<L> },
  steps: number,
): Promise<number> {
  const record = (keys: readonly string[]) => (params: T<never>[]): LawParams => {
    let i = 0;
    return Object.fromEntries(keys.map((g) => {
      const mine = groups[g]!.ps.map(() => params[i++]!);
      const shape = groups[g]!.shape;
      return [g, shape === undefined ? mine : shape(mine)];
    }));
  };
  const keys = Object.keys(groups).sort();
  const labels = Object.fromEntries(keys.map((g) => [g, groups[g]!.label])) as PartitionLabels<{ readonly [l in L]: GradientTransformation<LawParams, unknown> }>;
  const ps = keys.flatMap((g) => groups[g]!.ps), gs = keys.flatMap((g) => groups[g]!.gs);
  const together = await runOptimizerOn(partition(transforms, labels), record(keys), ps, gs, steps);
  const byHand = new Map<string, number[]>();
  for (const l of Object.keys(transforms) as L[]) {
    const mine = keys.filter((g) => groups[g]!.label === l);
    if (mine.length === 0) continue;
    const out = await runOptimizerOn(transforms[l], record(mine), mine.flatMap((g) => groups[g]!.ps), mine.flatMap((g) => groups[g]!.gs), steps);
    let i = 0;
    for (const g of mine) byHand.set(g, groups[g]!.ps.map(() => out[i++]!));
  }
  const expected = keys.flatMap((g) => byHand.get(g)!);
  return Math.max(0, ...together.map((x, i) => Math.abs(x - expected[i]!)));
}
