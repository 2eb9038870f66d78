/**
 * @file Host transfers between tfjs tensors and safetensors entries, and safetensors files on disk
 * (read entry by entry, so files above Node's 2 GiB `readFileSync` limit work; written atomically).
 */
import * as tf from '@tensorflow/tfjs-core';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import {
  decodeSafeEntry, parseSafetensorsHeader, SafetensorsError, safetensorsHeaderLength, safetensorsParts,
  type SafeDtype, type SafeEntry, type SafeFile, type SafeWriteEntry,
} from './safetensors.js';
import { fromTensor, type T } from '../core/tensor.js';

/**
 * Reads a tensor back to the host as a safetensors entry (awaits `tensor.data()`; creates no
 * tensors). The dtype defaults to the tensor's (`float32` → F32, `int32` → I32, `bool` → BOOL);
 * pass `dtype` to store e.g. `F16`/`BF16` (rounded to nearest even) or `I64`.
 *
 * @example
 * const e = await toSafeEntry(params.w)            // { dtype: 'F32', shape: [768, 768], data }
 * @category io
 */
export async function toSafeEntry(t: tf.Tensor, dtype?: SafeDtype): Promise<SafeWriteEntry> {
  const natural: SafeDtype | undefined = t.dtype === 'float32' ? 'F32' : t.dtype === 'int32' ? 'I32' : t.dtype === 'bool' ? 'BOOL' : undefined;
  if (natural === undefined) throw new SafetensorsError(`toSafeEntry: tensor dtype ${t.dtype} has no safetensors equivalent`);
  const data = (await t.data()) as Float32Array | Int32Array | Uint8Array;
  return { dtype: dtype ?? natural, shape: [...t.shape], data };
}

/**
 * {@link toSafeEntry} over a map or record of tensors (keys kept, in insertion order).
 * @category io
 */
export async function toSafeEntries(
  tensors: ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>,
  dtype?: SafeDtype,
): Promise<Map<string, SafeWriteEntry>> {
  const list = tensors instanceof Map ? [...(tensors as ReadonlyMap<string, tf.Tensor>)] : Object.entries(tensors as Record<string, tf.Tensor>);
  const out = new Map<string, SafeWriteEntry>();
  for (const [k, t] of list) out.set(k, await toSafeEntry(t, dtype));
  return out;
}

/**
 * Uploads a safetensors entry as a constant tensor. Float dtypes become `float32`; I32/I16/I8/U8
 * and I64 (when every value fits in int32) become `int32`; BOOL becomes `bool`. `opts.dtype`
 * overrides the target. Throws {@link SafetensorsError} naming `opts.name` when an I64 value does
 * not fit.
 *
 * @example
 * const w = fromSafeEntry(st.entries.get('final_layer.linear.weight')!, { name: 'final_layer.linear.weight' })
 * @category io
 */
export function fromSafeEntry(e: SafeEntry | SafeWriteEntry, opts: { readonly dtype?: 'float32' | 'int32' | 'bool'; readonly name?: string } = {}): T<never> {
  const d = e.dtype;
  const target = opts.dtype ?? (d === 'F32' || d === 'F16' || d === 'BF16' || d === 'F64' ? 'float32' : d === 'BOOL' ? 'bool' : 'int32');
  let data: Float32Array | Int32Array | Uint8Array;
  if (target === 'float32') data = e.data instanceof Float32Array ? e.data : Float32Array.from(e.data);
  else if (target === 'bool') data = e.data instanceof Uint8Array ? e.data : Uint8Array.from(e.data, (x) => (x !== 0 ? 1 : 0));
  else {
    if (e.data instanceof Int32Array) data = e.data;
    else {
      const src = e.data, n = src.length;
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const x = src[i] as number;
        if ((x | 0) !== x && !(d === 'F32' || d === 'F16' || d === 'BF16' || d === 'F64'))
          throw new SafetensorsError(`${opts.name === undefined ? '' : `key '${opts.name}': `}${d} value ${x} at flat index ${i} does not fit in int32`, opts.name === undefined ? {} : { key: opts.name });
        data[i] = x;
      }
    }
  }
  return fromTensor(tf.tensor(data, [...e.shape], target));
}

/** Reads exactly `len` bytes at `pos`, or throws a truncation error. */
function readAt(fd: number, len: number, pos: number, file: string, key?: string): Uint8Array {
  const buf = new Uint8Array(len);
  let off = 0;
  while (off < len) {
    const n = readSync(fd, buf, off, len - off, pos + off);
    if (n === 0)
      throw new SafetensorsError(`${file}: ${key === undefined ? '' : `key '${key}': `}truncated while reading (got ${off} of ${len} bytes)`, key === undefined ? { file } : { file, key });
    off += n;
  }
  return buf;
}

/**
 * Reads a safetensors file from disk, entry by entry (any size). `opts.keys` restricts the read to
 * those keys (a requested key that is missing is an error). Errors are {@link SafetensorsError}s
 * naming the path and the key.
 *
 * @example
 * const { entries } = readSafetensorsFile('run/checkpoints/0004000/ema.safetensors')
 * @category io
 */
export function readSafetensorsFile(path: string, opts: { readonly keys?: Iterable<string> } = {}): SafeFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const first = size >= 8 ? readAt(fd, 8, 0, path) : new Uint8Array(0);
    const hlen = safetensorsHeaderLength(first, size, path);
    const layout = parseSafetensorsHeader(readAt(fd, hlen, 8, path), size - 8 - hlen, path);
    const want = opts.keys === undefined ? undefined : new Set(opts.keys);
    if (want !== undefined) {
      const have = new Set(layout.entries.map((e) => e.name));
      for (const k of want) if (!have.has(k)) throw new SafetensorsError(`${path}: has no key '${k}'`, { file: path, key: k });
    }
    const entries = new Map<string, SafeEntry>();
    for (const e of layout.entries) {
      if (want !== undefined && !want.has(e.name)) continue;
      const bytes = readAt(fd, e.end - e.begin, layout.dataStart + e.begin, path, e.name);
      entries.set(e.name, decodeSafeEntry(e, bytes));
    }
    return { entries, metadata: layout.metadata };
  } finally {
    closeSync(fd);
  }
}

/** Adds `path` to a file-less {@link SafetensorsError} (other errors are returned unchanged). @category io */
export function withFile(e: unknown, path: string): unknown {
  if (!(e instanceof SafetensorsError) || e.file !== undefined) return e;
  return new SafetensorsError(`${path}: ${e.message}`, e.key === undefined ? { file: path } : { file: path, key: e.key });
}

/**
 * Writes a safetensors file atomically (`path.tmp-<pid>`, fsync, rename, fsync of the directory),
 * streaming one entry at a time. Returns the file size in bytes.
 *
 * @example
 * writeSafetensorsFile('vae.safetensors', await toSafeEntries(stateDict), { format: 'pt' })
 * @category io
 */
export function writeSafetensorsFile(
  path: string,
  entries: ReadonlyMap<string, SafeWriteEntry> | Readonly<Record<string, SafeWriteEntry>>,
  metadata?: Readonly<Record<string, string>>,
): number {
  try {
    const parts = safetensorsParts(entries, metadata);
    return writeFileAtomic(path, (function* () { yield parts.head; yield* parts.blobs(); })());
  } catch (e) {
    throw withFile(e, path);
  }
}
