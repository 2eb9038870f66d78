/**
 * @file safetensors read/write (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL) with errors that
 * name the file and the key. Format: 8-byte little-endian header length, a JSON header
 * `{ key: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { string: string } }`, then the
 * data section (offsets are relative to its start). Mirrors huggingface/safetensors `lib.rs`.
 */

/** The dtypes this reader understands. @category io */
export type SafeDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** All supported dtypes, in a fixed order. @category io */
export const safeDtypes: readonly SafeDtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

/**
 * One decoded entry: dtype as stored, shape, and values widened to a JS typed array:
 * F32/F16/BF16 → `Float32Array`, F64/I64 → `Float64Array` (I64 exact only below 2^53),
 * I32/I16/I8 → `Int32Array`, U8/BOOL → `Uint8Array`.
 * @category io
 */
export interface SafeEntry {
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  /** Values as numbers (I64 via Number; exact below 2^53). */
  readonly data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/** A decoded file: entries by name, in data-offset order, plus `__metadata__`. @category io */
export interface SafeFile {
  readonly entries: ReadonlyMap<string, SafeEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Where one entry lives in the data section (bytes, relative to the data section's start). @category io */
export interface SafeLayoutEntry {
  readonly name: string;
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A validated header: entries sorted by offset, metadata, and where the data section starts. @category io */
export interface SafeLayout {
  readonly entries: readonly SafeLayoutEntry[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Byte offset of the data section in the file (`8 + header length`). */
  readonly dataStart: number;
}

const SIZES: Readonly<Record<SafeDtype, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Bytes per element of a dtype. @category io */
export const dtypeSize = (d: SafeDtype): number => SIZES[d];

/** True for a supported dtype name (own keys only, so `'constructor'` is not a dtype). @category io */
export const isSafeDtype = (d: unknown): d is SafeDtype => typeof d === 'string' && Object.hasOwn(SIZES, d);

/**
 * Error in a safetensors file, naming the file (when known), the key (when there is one) and what
 * is wrong, e.g. `SafetensorsError: ema.safetensors: key 'x_embedder.proj.weight': data_offsets [0, 96] out of range`.
 * @category io
 */
export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  /** The file, or `'<bytes>'` for an anonymous buffer. */
  readonly file: string | undefined;
  /** The tensor key concerned, if any. */
  readonly key: string | undefined;
  constructor(message: string, where: { readonly file?: string; readonly key?: string } = {}) {
    super(message);
    this.file = where.file;
    this.key = where.key;
  }
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const fmtShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Round half to even. */
function rhe(v: number): number {
  const f = Math.floor(v), d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/**
 * Bit pattern of a binary float with `mant` mantissa bits and `expBits` exponent bits closest to
 * `x` (round to nearest, ties to even, overflow to infinity), computed directly from the float64
 * value so there is no double rounding.
 */
function toSmallFloat(x: number, mant: number, expBits: number, nan: number): number {
  if (Number.isNaN(x)) return nan;
  const bias = (1 << (expBits - 1)) - 1, minE = 1 - bias, maxE = bias;
  const sign = x < 0 || Object.is(x, -0) ? 1 << (mant + expBits) : 0;
  const inf = ((1 << expBits) - 1) << mant;
  const a = Math.abs(x);
  if (a === Infinity) return sign | inf;
  if (a < 2 ** minE) return sign | rhe(a * 2 ** (mant - minE)); // subnormal (a rounded-up 2^mant is the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = rhe((a / 2 ** e - 1) * 2 ** mant);
  if (m === 2 ** mant) { m = 0; e++; }
  if (e > maxE) return sign | inf;
  return sign | ((e + bias) << mant) | m;
}
const f32ToF16 = (x: number): number => toSmallFloat(x, 10, 5, 0x7e00);
const f32ToBF16 = (x: number): number => toSmallFloat(x, 7, 8, 0x7fc0);

/** A fresh, aligned copy of `bytes` (so typed-array views on it are legal). */
const aligned = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer;

function decode(dtype: SafeDtype, bytes: Uint8Array): SafeEntry['data'] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / SIZES[dtype];
  switch (dtype) {
    case 'F32': {
      if (littleEndian) return new Float32Array(aligned(bytes));
      const o = new Float32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getFloat32(4 * i, true); return o;
    }
    case 'F64': {
      if (littleEndian) return new Float64Array(aligned(bytes));
      const o = new Float64Array(n); for (let i = 0; i < n; i++) o[i] = dv.getFloat64(8 * i, true); return o;
    }
    case 'F16': { const o = new Float32Array(n); for (let i = 0; i < n; i++) o[i] = f16ToF32(dv.getUint16(2 * i, true)); return o; }
    case 'BF16': {
      const o = new Float32Array(n), u = new Uint32Array(o.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return o;
    }
    case 'I64': { const o = new Float64Array(n); for (let i = 0; i < n; i++) o[i] = Number(dv.getBigInt64(8 * i, true)); return o; }
    case 'I32': {
      if (littleEndian) return new Int32Array(aligned(bytes));
      const o = new Int32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getInt32(4 * i, true); return o;
    }
    case 'I16': { const o = new Int32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getInt16(2 * i, true); return o; }
    case 'I8': { const o = new Int32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getInt8(i); return o; }
    case 'U8': case 'BOOL': return bytes.slice();
    default: return dtype satisfies never;
  }
}

/**
 * Validates a header and returns the layout. `header` is the JSON text's bytes, `dataLen` the
 * length of the data section. Throws {@link SafetensorsError} naming `file` and the key.
 * @category io
 */
export function parseSafetensorsHeader(header: Uint8Array, dataLen: number, file = '<bytes>'): SafeLayout {
  const fail = (msg: string, key?: string): never => {
    throw new SafetensorsError(`${file}: ${key === undefined ? '' : `key '${key}': `}${msg}`, key === undefined ? { file } : { file, key });
  };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header));
  } catch (e) {
    return fail(`corrupt header: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('corrupt header: not a JSON object');
  const entries: SafeLayoutEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`corrupt header: __metadata__ is not an object`);
      for (const [k, s] of Object.entries(v as Record<string, unknown>))
        if (typeof s !== 'string') fail(`corrupt header: __metadata__['${k}'] is not a string (${JSON.stringify(s)})`);
      metadata = v as Record<string, string>;
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('entry is not an object', name);
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isSafeDtype(e.dtype)) return fail(`unknown dtype ${JSON.stringify(e.dtype)} (supported: ${safeDtypes.join(', ')})`, name);
    const dtype = e.dtype;
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return fail(`bad shape ${JSON.stringify(shape)}`, name);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0))
      return fail(`bad data_offsets ${JSON.stringify(off)}`, name);
    const [begin, end] = off as [number, number];
    if (end < begin || end > dataLen)
      fail(`data_offsets [${begin}, ${end}] out of range (data section is ${dataLen} bytes${end > dataLen ? '; file truncated?' : ''})`, name);
    const want = numel(shape as number[]) * SIZES[dtype];
    if (end - begin !== want) fail(`${end - begin} bytes for ${dtype} shape ${fmtShape(shape as number[])} (expected ${want})`, name);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  // Empty tensors occupy no bytes and cannot overlap anything.
  let prev: SafeLayoutEntry | undefined;
  for (const c of entries) {
    if (c.end === c.begin) continue;
    if (prev !== undefined && c.begin < prev.end)
      fail(`data_offsets [${c.begin}, ${c.end}] overlap key '${prev.name}' [${prev.begin}, ${prev.end}]`, c.name);
    prev = c;
  }
  return { entries, metadata, dataStart: 8 + header.byteLength };
}

/**
 * Reads the header length from the first 8 bytes and checks it against the file size.
 * @category io
 */
export function safetensorsHeaderLength(first8: Uint8Array, fileSize: number, file = '<bytes>'): number {
  if (fileSize < 8 || first8.byteLength < 8)
    throw new SafetensorsError(`${file}: truncated: ${fileSize} bytes, need at least 8 for the header length`, { file });
  const hlen = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (hlen > BigInt(fileSize - 8))
    throw new SafetensorsError(`${file}: truncated or corrupt: header length ${hlen} exceeds the ${fileSize - 8} bytes after the length field`, { file });
  return Number(hlen);
}

/**
 * Decodes one entry's raw little-endian bytes (exactly `end − begin` of them).
 * @category io
 */
export const decodeSafeEntry = (e: SafeLayoutEntry, bytes: Uint8Array): SafeEntry => ({ dtype: e.dtype, shape: e.shape, data: decode(e.dtype, bytes) });

/**
 * Parses a safetensors file held in memory. Throws {@link SafetensorsError} naming `file` and the
 * key on a truncated file, a corrupt header, offsets out of range or overlapping, a size/shape
 * mismatch or an unknown dtype. Entries come back in data-offset order.
 *
 * @example
 * const st = readSafetensors(new Uint8Array(readFileSync('sit.safetensors')), 'sit.safetensors')
 * st.entries.get('pos_embed')?.shape   // [1, 256, 768]
 * @see readSafetensorsFile in `io/tensors.ts` for files of any size
 * @category io
 */
export function readSafetensors(bytes: Uint8Array, file = '<bytes>'): SafeFile {
  const hlen = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.byteLength, file);
  const layout = parseSafetensorsHeader(bytes.subarray(8, 8 + hlen), bytes.byteLength - 8 - hlen, file);
  const entries = new Map<string, SafeEntry>();
  for (const e of layout.entries)
    entries.set(e.name, decodeSafeEntry(e, bytes.subarray(layout.dataStart + e.begin, layout.dataStart + e.end)));
  return { entries, metadata: layout.metadata };
}

/** A tensor to write: dtype, shape and values. @category io */
export interface SafeWriteEntry {
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

const INT_RANGE: Partial<Record<SafeDtype, readonly [number, number]>> = {
  I64: [-(2 ** 63), 2 ** 63 - 1], I32: [-(2 ** 31), 2 ** 31 - 1], I16: [-32768, 32767], I8: [-128, 127], U8: [0, 255], BOOL: [0, 1],
};

function encode(name: string, dtype: SafeDtype, data: ArrayLike<number>): Uint8Array {
  const n = data.length;
  if (littleEndian && ((dtype === 'F32' && data instanceof Float32Array) || (dtype === 'F64' && data instanceof Float64Array) || (dtype === 'I32' && data instanceof Int32Array)))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const range = INT_RANGE[dtype];
  if (range !== undefined && !(data instanceof Uint8Array && dtype === 'U8'))
    for (let i = 0; i < n; i++) {
      const x = data[i] as number;
      if (!Number.isInteger(x) || x < range[0] || x >= range[1] + (dtype === 'I64' ? 0 : 1))
        throw new SafetensorsError(`write: key '${name}': value ${x} at flat index ${i} is not representable as ${dtype}`, { key: name });
    }
  const out = new Uint8Array(n * SIZES[dtype]), dv = new DataView(out.buffer);
  switch (dtype) {
    case 'F32': for (let i = 0; i < n; i++) dv.setFloat32(4 * i, data[i] as number, true); break;
    case 'F64': for (let i = 0; i < n; i++) dv.setFloat64(8 * i, data[i] as number, true); break;
    case 'F16': for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToF16(data[i] as number), true); break;
    case 'BF16': for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToBF16(data[i] as number), true); break;
    case 'I64': for (let i = 0; i < n; i++) dv.setBigInt64(8 * i, BigInt(data[i] as number), true); break;
    case 'I32': for (let i = 0; i < n; i++) dv.setInt32(4 * i, data[i] as number, true); break;
    case 'I16': for (let i = 0; i < n; i++) dv.setInt16(2 * i, data[i] as number, true); break;
    case 'I8': for (let i = 0; i < n; i++) dv.setInt8(i, data[i] as number); break;
    case 'U8': case 'BOOL': for (let i = 0; i < n; i++) out[i] = data[i] as number; break;
    default: return dtype satisfies never;
  }
  return out;
}

/** The parts of a safetensors file: the 8-byte length + padded header, then one blob per entry. @category io */
export interface SafetensorsParts {
  /** Length field and JSON header (padded with spaces to a multiple of 8). */
  readonly head: Uint8Array;
  /** Total file size in bytes. */
  readonly size: number;
  /** The data blobs in file order, encoded lazily (one entry in memory at a time). */
  readonly blobs: () => Generator<Uint8Array>;
}

/**
 * Lays out a safetensors file without encoding the data yet (for streaming large checkpoints to
 * disk). Validates every entry's size against its shape and throws {@link SafetensorsError} naming
 * the key otherwise.
 * @category io
 */
export function safetensorsParts(
  entries: ReadonlyMap<string, SafeWriteEntry> | Readonly<Record<string, SafeWriteEntry>>,
  metadata?: Readonly<Record<string, string>>,
): SafetensorsParts {
  const list = entries instanceof Map ? [...(entries as ReadonlyMap<string, SafeWriteEntry>)] : Object.entries(entries as Record<string, SafeWriteEntry>);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = { ...metadata };
  let off = 0;
  for (const [name, e] of list) {
    if (name === '__metadata__') throw new SafetensorsError(`write: '__metadata__' is reserved and cannot be a tensor key`, { key: name });
    if (!isSafeDtype(e.dtype)) throw new SafetensorsError(`write: key '${name}': unknown dtype ${JSON.stringify(e.dtype)}`, { key: name });
    if (!e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(`write: key '${name}': bad shape ${JSON.stringify(e.shape)}`, { key: name });
    const count = numel(e.shape);
    if (count !== e.data.length) throw new SafetensorsError(`write: key '${name}': ${e.data.length} values for shape ${fmtShape(e.shape)} (expected ${count})`, { key: name });
    const bytes = count * SIZES[e.dtype];
    header[name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) { const p = new Uint8Array(padded).fill(0x20); p.set(json); json = p; }
  const head = new Uint8Array(8 + json.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  head.set(json, 8);
  return {
    head,
    size: head.byteLength + off,
    blobs: function* () { for (const [name, e] of list) yield encode(name, e.dtype, e.data); },
  };
}

/**
 * Serialises tensors to safetensors bytes (header padded with spaces to a multiple of 8; data in
 * insertion order, contiguous). Integer and BOOL values must be representable (no silent wrap);
 * F16/BF16 round to nearest even.
 *
 * @example
 * const bytes = writeSafetensors(new Map([['w', { dtype: 'F32', shape: [2], data: [1, 2] }]]), { format: 'pt' })
 * @category io
 */
export function writeSafetensors(
  entries: ReadonlyMap<string, SafeWriteEntry> | Readonly<Record<string, SafeWriteEntry>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const parts = safetensorsParts(entries, metadata);
  const out = new Uint8Array(parts.size);
  out.set(parts.head, 0);
  let p = parts.head.byteLength;
  for (const b of parts.blobs()) { out.set(b, p); p += b.byteLength; }
  return out;
}
