/** @file Memory scopes: thin typed wrappers over tfjs `tidy`, `keep` and `dispose`. (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { collectKept, raw, recordKept } from './internal.js';
import type { T } from './tensor.js';
import { isTensor, tensorsIn } from './tree.js';

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
  for (const t of tensorsIn(x)) recordKept(tf.keep(raw(t)));
  return x;
}

/** Who consumed a state, for {@link ConsumedStateError}. */
interface Consumption {
  readonly by: string;
  readonly at: string;
  readonly path: string;
}
const consumedStates = new WeakMap<object, Consumption>();
const consumedTensors = new WeakMap<object, Consumption>();

/**
 * Thrown when a state that a {@link transition} consumed is used again: names the function that
 * consumed it, at which step, the field whose tensor is gone, and what to use instead (Equinox's
 * `State` refuses a used state the same way), instead of tfjs's anonymous "Tensor is disposed".
 * @category utility types
 */
export class ConsumedStateError extends Error {
  override readonly name = 'ConsumedStateError';
}

/** Every tensor inside `x` with its dotted path (records, arrays; other values skipped). */
function tensorPaths(x: unknown, path = '', out: [T<string>, string][] = []): [T<string>, string][] {
  if (isTensor(x)) out.push([x, path]);
  else if (Array.isArray(x)) x.forEach((c, i) => tensorPaths(c, path === '' ? String(i) : `${path}.${i}`, out));
  else if (typeof x === 'object' && x !== null) for (const [k, c] of Object.entries(x)) tensorPaths(c, path === '' ? k : `${path}.${k}`, out);
  return out;
}

/**
 * Throws {@link ConsumedStateError} when `state` (or a tensor inside it) was consumed by a
 * {@link transition}, or names the first disposed tensor of `state` when something else disposed it.
 * `who` names the caller in the message.
 * @category utility types
 */
export function assertLive(state: unknown, who: string): void {
  const use = (c: Consumption, field: string): string =>
    `${who}: the state passed in was consumed by ${c.by} (${c.at}): its tensors that the new state does not share are disposed, e.g. '${field}'. ` +
    `Use the state that ${c.by} returned (const [next] = ${c.by}(…, state, …); state = next), or copy what you need before the call.`;
  if (typeof state === 'object' && state !== null) {
    const c = consumedStates.get(state);
    if (c !== undefined) throw new ConsumedStateError(use(c, c.path));
  }
  for (const [t, path] of tensorPaths(state)) {
    if (!t.isDisposed) continue;
    const c = consumedTensors.get(t);
    if (c !== undefined) throw new ConsumedStateError(use(c, path === '' ? c.path : path));
    throw new ConsumedStateError(`${who}: the tensor at '${path}' of the state passed in is disposed (not by a state transition: something disposed it by hand)`);
  }
}

/**
 * A pure state transition with its memory owned in one place: checks that `old` is live
 * ({@link assertLive}), runs `f` in a {@link tidy} scope (every tensor it creates that is not in its
 * result is disposed, also those an inner `valueAndGrad` kept for its aux), then disposes the tensors of `old` that neither the result nor `keep` (the
 * caller's inputs, e.g. the batch) holds, and marks `old` consumed by `by` at `at` (e.g.
 * `'step 3'`): passing it to a transition again throws {@link ConsumedStateError} naming them.
 * @example
 * const [next, metrics] = transition('repaeStep', s, `step ${s.step}`, () => body(s), [batch])
 * @category utility types
 */
export function transition<S, R>(by: string, old: S, at: string, f: () => R, keep: unknown = null): R {
  assertLive(old, by);
  const probe = tf.scalar(0);
  const firstId = probe.id;
  probe.dispose();
  // Tensors kept past an inner tidy (valueAndGrad's aux) escape this tidy too: collected and released below.
  const [result, kept] = collectKept(() => tidy(f));
  const live = new Set(tensorsIn([result, keep]));
  for (const t of kept) if (t.id > firstId && !t.isDisposed && !live.has(t as unknown as T<string>)) t.dispose();
  let first = '';
  for (const [t, path] of tensorPaths(old)) {
    if (live.has(t) || t.isDisposed) continue;
    consumedTensors.set(t, { by, at, path });
    if (first === '') first = path;
    raw(t).dispose();
  }
  if (typeof old === 'object' && old !== null) consumedStates.set(old, { by, at, path: first === '' ? '(no tensor)' : first });
  return result;
}
