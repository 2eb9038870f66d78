/** @file safetensors read/write (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL) with errors that name the key. */

/** The dtypes this reader understands. @category io */
export type SafeDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** One decoded entry: dtype as stored, shape, and values widened to float64/float32/int arrays. @category io */
export interface SafeEntry {
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  /** Values as numbers (I64 via Number; exact below 2^53). */
  readonly data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/** A decoded file: entries by name, in header order, plus `__metadata__`. @category io */
export interface SafeFile {
  readonly entries: ReadonlyMap<string, SafeEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

const SIZES: Record<SafeDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Error in a safetensors file, naming the file (when known), the key and what is wrong. @category io */
export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function decode(dtype: SafeDtype, bytes: Uint8Array): SafeEntry['data'] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / SIZES[dtype];
  switch (dtype) {
    case 'F32': { const o = new Float32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getFloat32(4 * i, true); return o; }
    case 'F64': { const o = new Float64Array(n); for (let i = 0; i < n; i++) o[i] = dv.getFloat64(8 * i, true); return o; }
    case 'F16': { const o = new Float32Array(n); for (let i = 0; i < n; i++) o[i] = f16ToF32(dv.getUint16(2 * i, true)); return o; }
    case 'BF16': { const o = new Float32Array(n); const b = new DataView(new ArrayBuffer(4)); for (let i = 0; i < n; i++) { b.setUint32(0, dv.getUint16(2 * i, true) << 16); o[i] = b.getFloat32(0); } return o; }
    case 'I64': { const o = new Float64Array(n); for (let i = 0; i < n; i++) o[i] = Number(dv.getBigInt64(8 * i, true)); return o; }
    case 'I32': { const o = new Int32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getInt32(4 * i, true); return o; }
    case 'I16': { const o = new Int32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getInt16(2 * i, true); return o; }
    case 'I8': { const o = new Int32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getInt8(i); return o; }
    case 'U8': case 'BOOL': return Uint8Array.from(bytes);
    default: return dtype satisfies never;
  }
}

/**
 * Parses a safetensors file. Throws {@link SafetensorsError} naming `file` and the key on a
 * truncated file, a corrupt header, offsets out of range or overlapping, a size/shape mismatch or
 * an unknown dtype.
 * @category io
 */
export function readSafetensors(bytes: Uint8Array, file = '<bytes>'): SafeFile {
  const fail = (msg: string): never => { throw new SafetensorsError(`${file}: ${msg}`); };
  if (bytes.byteLength < 8) fail(`truncated: ${bytes.byteLength} bytes, need at least 8 for the header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  if (hlen > bytes.byteLength - 8) fail(`truncated: header length ${hlen} exceeds the file size ${bytes.byteLength}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen))) as Record<string, unknown>;
  } catch (e) {
    return fail(`corrupt header: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('corrupt header: not a JSON object');
  const base = 8 + hlen;
  const dataLen = bytes.byteLength - base;
  const entries = new Map<string, SafeEntry>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = v as Record<string, string>; continue; }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`key '${name}': entry is not an object`);
    const dtype = e.dtype as SafeDtype;
    if (typeof dtype !== 'string' || !(dtype in SIZES)) fail(`key '${name}': unknown dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(SIZES).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`key '${name}': bad shape ${JSON.stringify(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) fail(`key '${name}': bad data_offsets ${JSON.stringify(off)}`);
    const [a, b] = off as [number, number];
    if (b < a || b > dataLen) fail(`key '${name}': data_offsets [${a}, ${b}] out of range (data section is ${dataLen} bytes${b > dataLen ? '; file truncated?' : ''})`);
    const count = (shape as number[]).reduce((x, y) => x * y, 1);
    if ((b - a) !== count * SIZES[dtype]) fail(`key '${name}': ${b - a} bytes for ${dtype} shape [${(shape as number[]).join(', ')}] (expected ${count * SIZES[dtype]})`);
    spans.push([a, b, name]);
    entries.set(name, { dtype, shape: shape as number[], data: decode(dtype, bytes.subarray(base + a, base + b)) });
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    const p = spans[i - 1] as [number, number, string], c = spans[i] as [number, number, string];
    if (c[0] < p[1]) fail(`keys '${p[2]}' and '${c[2]}' overlap`);
  }
  return { entries, metadata };
}

/** A tensor to write: dtype, shape and values. @category io */
export interface SafeWriteEntry {
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

function encode(dtype: SafeDtype, data: ArrayLike<number>): Uint8Array {
  const n = data.length, out = new Uint8Array(n * SIZES[dtype]), dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = data[i] as number;
    switch (dtype) {
      case 'F32': dv.setFloat32(4 * i, x, true); break;
      case 'F64': dv.setFloat64(8 * i, x, true); break;
      case 'F16': dv.setUint16(2 * i, f32ToF16(x), true); break;
      case 'BF16': { const b = new DataView(new ArrayBuffer(4)); b.setFloat32(0, x); let u = b.getUint32(0); if (!Number.isNaN(x)) u += 0x7fff + ((u >> 16) & 1); dv.setUint16(2 * i, Number.isNaN(x) ? 0x7fc0 : u >>> 16, true); break; }
      case 'I64': dv.setBigInt64(8 * i, BigInt(Math.trunc(x)), true); break;
      case 'I32': dv.setInt32(4 * i, x, true); break;
      case 'I16': dv.setInt16(2 * i, x, true); break;
      case 'I8': dv.setInt8(i, x); break;
      case 'U8': case 'BOOL': dv.setUint8(i, x); break;
      default: return dtype satisfies never;
    }
  }
  return out;
}

function f32ToF16(x: number): number {
  const b = new DataView(new ArrayBuffer(4)); b.setFloat32(0, x);
  const u = b.getUint32(0), s = (u >>> 16) & 0x8000, e = ((u >>> 23) & 0xff) - 127 + 15, m = u & 0x7fffff;
  if (((u >>> 23) & 0xff) === 0xff) return s | 0x7c00 | (m ? 0x200 : 0);
  if (e >= 31) return s | 0x7c00;
  if (e <= 0) { if (e < -10) return s; const mm = (m | 0x800000) >> (1 - e); return s | ((mm + 0x1000 + ((mm >> 13) & 1) - 1) >> 13); }
  const r = m + 0xfff + ((m >> 13) & 1);
  return r & 0x800000 ? s | ((e + 1) << 10) : s | (e << 10) | (r >> 13);
}

/**
 * Serialises tensors to safetensors bytes (header padded with spaces to a multiple of 8).
 * @category io
 */
export function writeSafetensors(entries: ReadonlyMap<string, SafeWriteEntry> | Record<string, SafeWriteEntry>, metadata?: Record<string, string>): Uint8Array {
  const list = entries instanceof Map ? [...entries] : Object.entries(entries);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  const blobs: Uint8Array[] = [];
  let off = 0;
  for (const [name, e] of list) {
    const count = e.shape.reduce((a: number, b: number) => a * b, 1);
    if (count !== e.data.length) throw new SafetensorsError(`write: key '${name}': ${e.data.length} values for shape [${e.shape.join(', ')}]`);
    const blob = encode(e.dtype, e.data);
    header[name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [off, off + blob.byteLength] };
    blobs.push(blob);
    off += blob.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + new TextEncoder().encode(json).byteLength) % 8 !== 0) json += ' ';
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let p = 8 + hb.byteLength;
  for (const b of blobs) { out.set(b, p); p += b.byteLength; }
  return out;
}
