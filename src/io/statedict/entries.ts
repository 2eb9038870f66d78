/** @file Shared machinery of the official state-dict maps: entries, layout transposes, a checked reader, errors. */
import * as tf from '@tensorflow/tfjs-core';
import { fromTensor, type T } from '../../core/tensor.js';
import { read } from '../../core/ops/create.js';
import type { SafeDtype } from '../safetensors.js';

/**
 * One state-dict entry in PyTorch layout: dtype (F32 unless said otherwise; `num_batches_tracked`
 * is I64), shape and row-major values. Compatible with `readSafetensors` entries and
 * `writeSafetensors` input.
 * @category io
 */
export interface StateEntry {
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

/** A state dict: official key → entry, in the official (registration) order. @category io */
export type StateDict = Map<string, StateEntry>;

/** Anything with a shape and values (a state dict read from safetensors, or one built here). @category io */
export type StateDictLike = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: ArrayLike<number> }>;

/** Formats a shape as `[a, b, c]`. @category io */
export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * A missing, unexpected or mis-shaped state-dict entry. The message names the model, the key and
 * both shapes, e.g. `vae state dict: key 'encoder.conv_in.weight' has shape [64, 3, 3, 3], expected [128, 3, 3, 3]`.
 * @category io
 */
export class StateDictError extends Error {
  override readonly name = 'StateDictError';
  constructor(
    message: string,
    /** The official key concerned. */
    readonly key: string,
    /** The shape the model expects (undefined for an unexpected key). */
    readonly expected?: readonly number[],
    /** The shape found (undefined for a missing key). */
    readonly actual?: readonly number[],
  ) {
    super(message);
  }
}

/** How a tensor is stored in repae vs PyTorch. `conv`: `[kh, kw, in, out]` ↔ `[out, in, kh, kw]`; `same`: identical. @category io */
export type Layout = 'conv' | 'same';

/** Row-major transpose of `data` with shape `shape` by `perm` (host side, backend-independent). @category io */
export function transposeHost(data: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (rank !== 4) throw new Error(`transposeHost: rank ${rank} not supported`);
  const [, s1, s2, s3] = shape as [number, number, number, number];
  const st = [s1 * s2 * s3, s2 * s3, s3, 1];
  const os = perm.map((p) => shape[p] as number) as [number, number, number, number];
  const [p0, p1, p2, p3] = perm.map((p) => st[p] as number) as [number, number, number, number];
  let o = 0;
  for (let a = 0; a < os[0]; a++)
    for (let b = 0; b < os[1]; b++)
      for (let c = 0; c < os[2]; c++) {
        const base = a * p0 + b * p1 + c * p2;
        for (let d = 0; d < os[3]; d++) out[o++] = data[base + d * p3] as number;
      }
  return out;
}

/** PyTorch conv weight `[out, in, kh, kw]` → tfjs `[kh, kw, in, out]` (values and shape). @category io */
export const torchConvToTf = (data: ArrayLike<number>, shape: readonly number[]): { data: Float32Array; shape: number[] } => ({
  data: transposeHost(data, shape, [2, 3, 1, 0]),
  shape: [shape[2], shape[3], shape[1], shape[0]] as number[],
});

/** tfjs conv kernel `[kh, kw, in, out]` → PyTorch `[out, in, kh, kw]` (values and shape). @category io */
export const tfConvToTorch = (data: ArrayLike<number>, shape: readonly number[]): { data: Float32Array; shape: number[] } => ({
  data: transposeHost(data, shape, [3, 2, 0, 1]),
  shape: [shape[3], shape[2], shape[0], shape[1]] as number[],
});

/** Reads a tensor to a PyTorch-layout F32 entry (async: works on every backend). @category io */
export async function tensorToEntry(t: T<string>, layout: Layout): Promise<StateEntry> {
  const data = await read(t);
  if (layout === 'conv') {
    const r = tfConvToTorch(data, t.shape);
    return { dtype: 'F32', shape: r.shape, data: r.data };
  }
  return { dtype: 'F32', shape: [...t.shape], data };
}

/** Options of the `xxxFromStateDict` loaders. @category io */
export interface LoadOptions {
  /** Key prefix to strip (e.g. `'init.vae.'` or `'grad.'` in a golden fixture); only keys under it are considered. */
  readonly prefix?: string;
  /** Reject keys the model does not have (default true; the official `train_repae.py` loads the VAE non-strictly). */
  readonly strict?: boolean;
}

/**
 * Reads entries from a state dict with shape checks, remembering which keys were used, so that
 * `finish()` can report unexpected keys. Builds constant tensors in repae layout.
 * @category io
 */
export class StateDictReader {
  private readonly used = new Set<string>();
  private readonly prefix: string;
  constructor(
    private readonly map: StateDictLike,
    /** Model name used in error messages (`vae`, `discriminator`, `lpips`). */
    private readonly model: string,
    opts: LoadOptions = {},
  ) {
    this.prefix = opts.prefix ?? '';
  }

  /** The raw entry of `key` (official name, without prefix), checked against `shape`. */
  entry(key: string, shape: readonly number[]): { readonly shape: readonly number[]; readonly data: ArrayLike<number> } {
    const e = this.map.get(this.prefix + key);
    if (e === undefined)
      throw new StateDictError(`${this.model} state dict: missing key '${this.prefix + key}' (expected shape ${fmtShape(shape)})`, key, shape);
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i]))
      throw new StateDictError(
        `${this.model} state dict: key '${this.prefix + key}' has shape ${fmtShape(e.shape)}, expected ${fmtShape(shape)}`,
        key,
        shape,
        e.shape,
      );
    this.used.add(this.prefix + key);
    return e;
  }

  /** Whether `key` exists (without marking it used). */
  has(key: string): boolean {
    return this.map.has(this.prefix + key);
  }

  /** The shape of `key`, if present. */
  shapeOf(key: string): readonly number[] | undefined {
    return this.map.get(this.prefix + key)?.shape;
  }

  /** A tensor for `key` with PyTorch shape `shape`, converted to repae layout. */
  tensor(key: string, shape: readonly number[], layout: Layout): T<never> {
    const e = this.entry(key, shape);
    if (layout === 'conv') {
      const r = torchConvToTf(e.data, shape);
      return fromTensor(tf.tensor(r.data, r.shape, 'float32'));
    }
    return fromTensor(tf.tensor(Float32Array.from(e.data), [...shape], 'float32'));
  }

  /** A scalar number (e.g. `num_batches_tracked`). */
  number(key: string): number {
    return this.entry(key, []).data[0] as number;
  }

  /** Throws (when strict) on keys under the prefix that were never read. */
  finish(strict = true): void {
    if (!strict) return;
    for (const [k, e] of this.map) {
      if (!k.startsWith(this.prefix) || this.used.has(k)) continue;
      throw new StateDictError(
        `${this.model} state dict: unexpected key '${k}' with shape ${fmtShape(e.shape)} (the model has no such parameter; load with strict: false to ignore it)`,
        k.slice(this.prefix.length),
        undefined,
        e.shape,
      );
    }
  }
}

/** Number of scalar values in a state dict (the parameter count when it holds parameters only). @category io */
export const countValues = (sd: StateDictLike): number => {
  let n = 0;
  for (const e of sd.values()) n += e.shape.reduce((a, b) => a * b, 1);
  return n;
};
