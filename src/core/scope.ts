/** @file Memory scopes: thin typed wrappers over tfjs `tidy`, `keep` and `dispose`. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { raw } from './internal.js';
import { tensorsIn } from './tree.js';

/**
 * Runs `f` and disposes every tensor it created that is not part of its result (tfjs `tidy`, but
 * also for results that are records/arrays of tensors, and for nested trees).
 * @category utility types
 */
export function tidy<X>(f: () => X): X {
  let out: X | undefined;
  tf.tidy(() => {
    out = f();
    return tensorsIn(out).map(raw);
  });
  return out as X;
}

/** Disposes every tensor inside any value (trees, arrays, records); other values are ignored. @category utility types */
export function dispose(x: unknown): void {
  for (const t of tensorsIn(x)) if (!t.isDisposed) raw(t).dispose();
}

/** The number of live tensors (tfjs `memory().numTensors`), for leak checks. @category utility types */
export const numTensors = (): number => tf.memory().numTensors;

/**
 * Disposes every tensor reachable from `old` that is not also reachable from `next`: the way a
 * pure step releases the state it consumed (`releaseOld(state, state2)`).
 * @category utility types
 */
export function releaseOld(old: unknown, next: unknown): void {
  const keep = new Set(tensorsIn(next));
  for (const t of tensorsIn(old)) if (!keep.has(t) && !t.isDisposed) raw(t).dispose();
}

/** Keeps every tensor inside `x` alive past the enclosing {@link tidy} (tfjs `keep`). @category utility types */
export function keep<X>(x: X): X {
  for (const t of tensorsIn(x)) tf.keep(raw(t));
  return x;
}
