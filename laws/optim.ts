/** @file Optimizer laws: AdamW closed form, chain associativity, partition = per-group by hand. */
import { add, read, scalar } from '../src/core/ops/index.js';
import { dispose } from '../src/core/scope.js';
import type { T } from '../src/core/tensor.js';
import { tensorsIn } from '../src/core/tree.js';
import type { AdamWConfig, GradientTransformation, GradLeaf } from '../src/optim/optim.js';
import { chain, partition } from '../src/optim/optim.js';

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

/**
 * Runs `steps` updates of `opt` on scalar parameters `ps` with constant gradients `gs` (null = no
 * gradient) and returns the final parameters.
 * @category laws
 */
export async function runOptimizer<S>(opt: GradientTransformation<S>, ps: readonly number[], gs: readonly (number | null)[], steps: number): Promise<number[]> {
  return runOptimizerOn(opt, (params) => params, ps, gs, steps);
}

/**
 * {@link runOptimizer} with `init` given the tree `shape(params)` of the scalar parameters (whose
 * flatten order must be the order of `ps`), e.g. a record of groups for a `partition`.
 * @category laws
 */
export async function runOptimizerOn<S>(opt: GradientTransformation<S>, shape: (params: T<never>[]) => unknown, ps: readonly number[], gs: readonly (number | null)[], steps: number): Promise<number[]> {
  let params: T<never>[] = ps.map((p) => scalar(p));
  let state = opt.init(shape(params));
  for (let t = 0; t < steps; t++) {
    const grads: GradLeaf[] = gs.map((g) => (g === null ? null : scalar(g)));
    const [upd, next] = opt.update(grads, state, params);
    const np = params.map((p, i) => {
      const u = upd[i] ?? null;
      return u === null ? p : add(p, u);
    });
    const keep = new Set<T<string>>([...np]);
    const oldState = state;
    state = next;
    const stillUsed = new Set(collect(state));
    for (const t2 of [...params, ...grads, ...upd, ...collect(oldState)]) if (t2 !== null && !keep.has(t2) && !stillUsed.has(t2) && !t2.isDisposed) dispose(t2);
    params = np;
  }
  const out = await Promise.all(params.map(async (p) => (await read(p))[0] as number));
  dispose([params, collect(state)]);
  return out;
}

const collect = (x: unknown): T<string>[] => tensorsIn(x);

/** `chain(chain(a,b),c)` and `chain(a,chain(b,c))` give the same parameters. Returns the max difference. @category laws */
export async function chainAssociativity<A, B, C>(
  a: GradientTransformation<A>,
  b: GradientTransformation<B>,
  c: GradientTransformation<C>,
  ps: readonly number[],
  gs: readonly (number | null)[],
  steps: number,
): Promise<number> {
  const left = await runOptimizer(chain(chain(a, b), c), ps, gs, steps);
  const right = await runOptimizer(chain(a, chain(b, c)), ps, gs, steps);
  return Math.max(...left.map((x, i) => Math.abs(x - (right[i] as number))));
}

/** One parameter group of {@link partitionByHand}: its label, scalar parameters and constant gradients (null = none). @category laws */
export interface LawGroup<L extends string> {
  readonly label: L;
  readonly ps: readonly number[];
  readonly gs: readonly (number | null)[];
}

/**
 * `partition(transforms, labels)` for `steps` steps gives the same parameters as running, by hand,
 * each label's transformation on the leaves of its groups together (groups in sorted key order, as
 * the core's `flatten` visits them). Returns the max difference.
 * @category laws
 */
export async function partitionByHand<L extends string>(
  transforms: { readonly [l in L]: GradientTransformation<unknown> },
  groups: { readonly [g: string]: LawGroup<L> },
  steps: number,
): Promise<number> {
  const keys = Object.keys(groups).sort();
  const labels = Object.fromEntries(keys.map((g) => [g, groups[g]!.label])) as Record<string, L>;
  const ps = keys.flatMap((g) => groups[g]!.ps), gs = keys.flatMap((g) => groups[g]!.gs);
  const shape = (params: T<never>[]): Record<string, T<never>[]> => {
    let i = 0;
    return Object.fromEntries(keys.map((g) => [g, groups[g]!.ps.map(() => params[i++]!)]));
  };
  const together = await runOptimizerOn(partition(transforms, labels), shape, ps, gs, steps);
  const byHand = new Map<string, number[]>();
  for (const l of Object.keys(transforms) as L[]) {
    const mine = keys.filter((g) => groups[g]!.label === l);
    const out = await runOptimizer(transforms[l], mine.flatMap((g) => groups[g]!.ps), mine.flatMap((g) => groups[g]!.gs), steps);
    let i = 0;
    for (const g of mine) byHand.set(g, groups[g]!.ps.map(() => out[i++]!));
  }
  const expected = keys.flatMap((g) => byHand.get(g)!);
  return Math.max(...together.map((x, i) => Math.abs(x - expected[i]!)));
}
