/**
 * @file fast-check bindings of the laws (fp-ts-laws style), published as `repae/laws` so users can
 * test their own losses: each `checkX` runs a property with a fixed seed and throws on a
 * counterexample; each predicate it uses is exported too.
 */
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import type { Registry, Store } from '../src/core/groups.js';
import type { Routing } from '../src/core/grad.js';
import type { AnyLoss } from '../src/core/loss.js';
import { dispose } from '../src/core/scope.js';
import { leakedGroups, routingDeviation } from './routing.js';
import { tensorsLeaked } from './memory.js';

export * from './arbitraries.js';
export * from './routing.js';
export * from './stop.js';
export * from './gradcheck.js';
export * from './memory.js';
export * from './tree.js';
export * from './optim.js';

/** Options shared by the fast-check bindings (fixed seed by default, so CI is reproducible). @category laws */
export interface LawOptions {
  readonly numRuns?: number;
  readonly seed?: number;
  readonly tol?: number;
}

const params = (o: LawOptions): fc.Parameters<unknown> => ({ numRuns: o.numRuns ?? 25, seed: o.seed ?? 42 });

/**
 * Property: routing linearity by group holds for `combined = Σ cᵢ·termsᵢ` on every generated store
 * and batch (stores are built by `mkStore` from generated data and disposed afterwards).
 * @category laws
 */
export async function checkRouting<R extends Registry, B, SD, BD>(
  routing: Routing<R>,
  terms: readonly (readonly [AnyLoss<R, B>, number])[],
  combined: AnyLoss<R, B>,
  arbs: { readonly store: fc.Arbitrary<SD>; readonly batch: fc.Arbitrary<BD> },
  mk: { readonly store: (d: SD) => Store<R>; readonly batch: (d: BD) => B },
  o: LawOptions = {},
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arbs.store, arbs.batch, async (sd, bd) => {
      const store = mk.store(sd), batch = mk.batch(bd);
      try {
        const dev = await routingDeviation(routing, terms, combined, store, batch);
        return dev <= (o.tol ?? 1e-4);
      } finally {
        dispose(store);
        dispose(batch);
      }
    }),
    params(o),
  );
}

/**
 * Property: no gradient reaches a group outside `l.wrt`, even when every leaf is offered.
 * @category laws
 */
export async function checkNoGradOutsideWrt<R extends Registry, B, SD, BD>(
  routing: Routing<R>,
  l: AnyLoss<R, B>,
  arbs: { readonly store: fc.Arbitrary<SD>; readonly batch: fc.Arbitrary<BD> },
  mk: { readonly store: (d: SD) => Store<R>; readonly batch: (d: BD) => B },
  o: LawOptions = {},
): Promise<void> {
  await fc.assert(
    fc.property(arbs.store, arbs.batch, (sd, bd) => {
      const store = mk.store(sd), batch = mk.batch(bd);
      try {
        return leakedGroups(routing, l, store, batch).length === 0;
      } finally {
        dispose(store);
        dispose(batch);
      }
    }),
    params(o),
  );
}

/**
 * Property: running `program(input)` leaves the number of live tensors unchanged.
 * @category laws
 */
export async function checkNoLeak<D>(program: (d: D) => unknown, arb: fc.Arbitrary<D>, o: LawOptions = {}): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arb, async (d) => (await tensorsLeaked(() => program(d), 1)) === 0),
    { ...params(o), numRuns: o.numRuns ?? 5 },
  );
}

/** The number of live tensors (re-exported for convenience in law bindings). @category laws */
export const liveTensors = (): number => tf.memory().numTensors;
