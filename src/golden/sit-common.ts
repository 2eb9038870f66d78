/** @file Helpers shared by the SiT and sampler golden checkers: layouts, tensor access and comparisons. */
import { tensor } from '../core/ops/create.js';
import type { T } from '../core/tensor.js';
import { sitConfigFromKwargs } from '../io/statedict/sit.js';
import type { SafeEntry, SafeFile } from '../io/safetensors.js';
import type { SitConfig } from '../models/sit/config.js';
import type { TensorCheck } from './types.js';

/** Tolerance for forward outputs, activations, losses and sampler results (README "Tolerances"). @category utility types */
export const FORWARD_TOL = 1e-4;
/** Tolerance for gradients (README "Tolerances"). @category utility types */
export const GRAD_TOL = 1e-3;

/** Permutes host values `[N, C, H, W]` → `[N, H, W, C]` (PyTorch → repae layout). @category utility types */
export function nchwToNhwc(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [n, c, h, w] = shape as [number, number, number, number];
  const out = new Float32Array(n * c * h * w);
  for (let a = 0; a < n; a++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) out[((a * h + i) * w + j) * c + ch] = src[((a * c + ch) * h + i) * w + j] as number;
  return out;
}

/** Permutes host values `[N, H, W, C]` → `[N, C, H, W]` (repae → PyTorch layout). @category utility types */
export function nhwcToNchw(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [n, h, w, c] = shape as [number, number, number, number];
  const out = new Float32Array(n * c * h * w);
  for (let a = 0; a < n; a++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) out[((a * c + ch) * h + i) * w + j] = src[((a * h + i) * w + j) * c + ch] as number;
  return out;
}

/** Max-normalised error `max|a − b| / max|b|` (the fixtures' metric; `Infinity` on a length mismatch or a non-finite value). @category utility types */
export function maxNormErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number, y = b[i] as number;
    if (!Number.isFinite(x)) return Infinity;
    num = Math.max(num, Math.abs(x - y));
    den = Math.max(den, Math.abs(y));
  }
  return den === 0 ? num : num / den;
}

/** Max absolute value of host data. @category utility types */
export const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] as number));
  return m;
};

/** Compares `ours` against a reference entry with the max-normalised error. @category utility types */
export function compareTo(name: string, ours: ArrayLike<number>, ref: SafeEntry, tol: number, note?: string): TensorCheck {
  const err = maxNormErr(ours, ref.data);
  const n = note ?? (ours.length !== ref.data.length ? `length ${ours.length} vs reference ${ref.data.length}` : undefined);
  return { tensor: name, err, tol, pass: err <= tol, ...(n === undefined ? {} : { note: n }) };
}

/** A failed check for something the checker could not compute or find. @category utility types */
export const failedCheck = (name: string, note: string): TensorCheck => ({ tensor: name, err: Infinity, tol: 0, pass: false, note });

/** A fixture entry by name, or an error naming the fixture and the key. @category utility types */
export function entry(st: SafeFile, name: string, fixture: string): SafeEntry {
  const e = st.entries.get(name);
  if (e === undefined) throw new Error(`golden fixture '${fixture}' has no tensor '${name}'`);
  return e;
}

/**
 * A fixture entry as a constant tensor: NCHW entries are permuted to NHWC when `nhwc` (4-d only);
 * integer entries become int32.
 * @category utility types
 */
export function entryTensor(e: SafeEntry, nhwc = false): T<never> {
  const isInt = e.dtype === 'I64' || e.dtype === 'I32' || e.dtype === 'I16' || e.dtype === 'I8' || e.dtype === 'U8' || e.dtype === 'BOOL';
  if (isInt) return tensor(Int32Array.from(e.data), e.shape, 'int32');
  if (nhwc && e.shape.length === 4) {
    const [n, c, h, w] = e.shape as [number, number, number, number];
    return tensor(nchwToNhwc(e.data, e.shape), [n, h, w, c]);
  }
  return tensor(e.data instanceof Float32Array ? e.data : Float32Array.from(e.data), e.shape);
}

/** The SiT config of a fixture json (`config.model.kwargs`, official constructor arguments). @category utility types */
export function fixtureSitConfig(json: Readonly<Record<string, unknown>>, fixture: string): SitConfig {
  const cfg = json['config'] as { model?: { kwargs?: Record<string, unknown> } } | undefined;
  const kw = cfg?.model?.kwargs;
  if (kw === undefined) throw new Error(`golden fixture '${fixture}': json has no config.model.kwargs`);
  return sitConfigFromKwargs(kw);
}

/** The entries of a fixture without a name prefix (the official state-dict keys of the initial weights). @category utility types */
export function unprefixedEntries(st: SafeFile, officialKeys: ReadonlySet<string>): Map<string, SafeEntry> {
  const out = new Map<string, SafeEntry>();
  for (const [k, v] of st.entries) if (officialKeys.has(k)) out.set(k, v);
  return out;
}
