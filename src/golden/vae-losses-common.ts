/** @file Helpers shared by the VAE and loss golden checkers: fixture access, NCHW comparisons, gradient groups, coverage. */
import { read } from '../core/ops/create.js';
import type { T } from '../core/tensor.js';
import type { SafeEntry } from '../io/safetensors.js';
import type { StateDictLike } from '../io/statedict/entries.js';
import { compareTo, entryTensor, failedCheck, GRAD_TOL, maxAbs, nhwcToNchw } from './sit-common.js';
import type { Fixture, TensorCheck } from './types.js';

/** A tensor's description in a fixture json (`tensors.<name>`). @category utility types */
export interface TensorMeta {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly desc?: string;
  readonly f64_rel_err?: number;
  readonly analytically_zero?: boolean;
}

/** Ratio of the README rule for `analytically_zero` gradients: `max|ours| ≤ 1e-5 · max|grad|` of the group. @category utility types */
export const ANALYTICALLY_ZERO_RATIO = 1e-5;

/** A fixture entry by name, or an error naming the fixture and the tensor. @category utility types */
export function fixtureEntry(fx: Fixture, name: string): SafeEntry {
  const e = fx.st.entries.get(name);
  if (e === undefined) throw new Error(`golden fixture '${fx.name}' has no tensor '${name}'`);
  return e;
}

/** A fixture tensor as a constant, NCHW permuted to NHWC (4-d only). @category utility types */
export const fixtureTensorNhwc = (fx: Fixture, name: string): T<never> => entryTensor(fixtureEntry(fx, name), true);

/** Reads one of our tensors back in PyTorch layout (NHWC → NCHW for 4-d). @category utility types */
export async function readNchw(t: T<string>): Promise<Float32Array> {
  const d = await read(t);
  return t.rank === 4 ? nhwcToNchw(d, t.shape) : d;
}

/** Compares our (NHWC) tensor with the fixture tensor `name` (NCHW), max-normalised. @category utility types */
export async function compareNchw(fx: Fixture, name: string, ours: T<string>, tol: number): Promise<TensorCheck> {
  const ref = fixtureEntry(fx, name);
  const theirs = ref.shape.reduce((a, b) => a * b, 1);
  if (theirs !== ours.size) return failedCheck(name, `shape [${ours.shape.join(', ')}] (NHWC) vs reference [${ref.shape.join(', ')}]`);
  return compareTo(name, await readNchw(ours), ref, tol);
}

/** Compares a host scalar with a reference scalar (relative to `|ref|`, absolute when it is 0). @category utility types */
export function scalarCheck(name: string, ours: number, ref: number, tol: number): TensorCheck {
  const err = ref === 0 ? Math.abs(ours) : Math.abs(ours - ref) / Math.abs(ref);
  return { tensor: name, err: Number.isFinite(err) ? err : Infinity, tol, pass: err <= tol };
}

/**
 * Compares every fixture tensor `<prefix><official key>` with our state-dict entry of that key
 * (gradients in PyTorch layout): `1e-3` max-normalised, except tensors flagged `analytically_zero`,
 * which must satisfy `max|ours| ≤ 1e-5 · max|ref|` over the other tensors of the group (and be exactly
 * zero when the whole group is).
 * @category utility types
 */
export function checkGradGroup(
  fx: Fixture,
  meta: Readonly<Record<string, TensorMeta>>,
  prefix: string,
  ours: StateDictLike,
  tol = GRAD_TOL,
): TensorCheck[] {
  const names = Object.keys(meta).filter((k) => k.startsWith(prefix));
  let groupMax = 0;
  for (const k of names) if (meta[k]?.analytically_zero !== true) groupMax = Math.max(groupMax, maxAbs(fixtureEntry(fx, k).data));
  return names.map((name) => {
    const o = ours.get(name.slice(prefix.length));
    if (o === undefined) return failedCheck(name, `no gradient computed for '${name.slice(prefix.length)}'`);
    if (meta[name]?.analytically_zero === true) {
      const m = maxAbs(o.data);
      const bound = ANALYTICALLY_ZERO_RATIO * groupMax;
      const err = groupMax === 0 ? m : m / groupMax;
      return { tensor: name, err, tol: ANALYTICALLY_ZERO_RATIO, pass: m <= bound, note: `analytically zero: max|ours| ${m.toExponential(2)} vs 1e-5·max|grad| ${bound.toExponential(2)}` };
    }
    return compareTo(name, o.data, fixtureEntry(fx, name), tol);
  });
}

/**
 * Compares buffers (e.g. BatchNorm running statistics) `<prefix><key>` with our state-dict entries:
 * float tensors max-normalised within `tol`, integer ones (`num_batches_tracked`) exactly.
 * @category utility types
 */
export function checkBuffers(fx: Fixture, meta: Readonly<Record<string, TensorMeta>>, prefix: string, ours: StateDictLike, tol: number): TensorCheck[] {
  return Object.keys(meta)
    .filter((k) => k.startsWith(prefix))
    .map((name) => {
      const o = ours.get(name.slice(prefix.length));
      if (o === undefined) return failedCheck(name, `no buffer '${name.slice(prefix.length)}' computed`);
      const ref = fixtureEntry(fx, name);
      if (ref.dtype === 'I64' || ref.dtype === 'I32') {
        const same = o.data.length === ref.data.length && Array.from(ref.data).every((v, i) => v === o.data[i]);
        return { tensor: name, err: same ? 0 : Infinity, tol: 0, pass: same, note: `integer: ours ${Array.from(o.data).join(',')} vs ${Array.from(ref.data).join(',')}` };
      }
      return compareTo(name, o.data, ref, tol);
    });
}

/** Failed checks for every computed fixture tensor (per `isComputed`) that no check compared. @category utility types */
export function coverage(fx: Fixture, meta: Readonly<Record<string, TensorMeta>>, checks: readonly TensorCheck[], isComputed: (name: string) => boolean): TensorCheck[] {
  const done = new Set(checks.map((c) => c.tensor));
  return Object.keys(meta)
    .filter((k) => isComputed(k) && !done.has(k))
    .map((k) => failedCheck(k, `fixture '${fx.name}': tensor not compared by the checker`));
}
