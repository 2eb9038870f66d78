/**
 * @file NumPy `.npy` / `.npz` files: the sample archive the ADM evaluation suite reads
 * (`np.load(path)['arr_0']`, uint8 `[N, H, W, 3]`, spec §7.3 / §9.4). The writer streams (50k
 * samples at 256² are 9.8 GB) into an uncompressed zip with ZIP64 records when needed — fflate
 * cannot write ZIP64 — and publishes the file atomically; reading uses fflate.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { unzipSync } from 'fflate';
import { fsyncDir, updateCrc32 } from './atomic.js';
import { ImageError, imagesToUint8, type ImagesInput } from './png.js';

/** Element types supported in `.npy` files. @category io */
export type NpyDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'int64' | 'float16' | 'float32' | 'float64' | 'bool';

/** An array as stored in a `.npy` file (C order). int64 values are read as numbers (exact below 2^53). @category io */
export interface NpyArray {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

/** An array read from a `.npy` file: its values in the matching typed array (int64 and float16 widened). @category io */
export interface DecodedNpy extends NpyArray {
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Error in a `.npy`/`.npz` file, naming the file and the array. @category io */
export class NpzError extends Error {
  override readonly name = 'NpzError';
}

const DESCR: Record<NpyDtype, string> = {
  uint8: '|u1', int8: '|i1', int16: '<i2', int32: '<i4', int64: '<i8', float16: '<f2', float32: '<f4', float64: '<f8', bool: '|b1',
};
const SIZE: Record<NpyDtype, number> = { uint8: 1, int8: 1, int16: 2, int32: 4, int64: 8, float16: 2, float32: 4, float64: 8, bool: 1 };
const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/**
 * The `.npy` v1.0 header for an array (magic, version, little-endian header length, the Python
 * dict literal padded with spaces and a newline to a multiple of 64 bytes, as NumPy writes it).
 * @category io
 */
export function npyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const shp = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shp}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n';
  if (dict.length > 0xffff) throw new NpzError(`npy header too long for version 1.0 (${dict.length} bytes)`);
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, dict.length, true);
  out.set(new TextEncoder().encode(dict), 10);
  return out;
}

function encodeData(a: NpyArray): Uint8Array {
  const n = a.data.length, out = new Uint8Array(n * SIZE[a.dtype]), dv = new DataView(out.buffer);
  switch (a.dtype) {
    case 'uint8': case 'bool': if (a.data instanceof Uint8Array) out.set(a.data); else for (let i = 0; i < n; i++) out[i] = a.data[i] as number; break;
    case 'int8': for (let i = 0; i < n; i++) dv.setInt8(i, a.data[i] as number); break;
    case 'int16': for (let i = 0; i < n; i++) dv.setInt16(2 * i, a.data[i] as number, true); break;
    case 'int32': for (let i = 0; i < n; i++) dv.setInt32(4 * i, a.data[i] as number, true); break;
    case 'int64': for (let i = 0; i < n; i++) dv.setBigInt64(8 * i, BigInt(Math.trunc(a.data[i] as number)), true); break;
    case 'float16': throw new NpzError('writing float16 .npy is not supported (store float32)');
    case 'float32': for (let i = 0; i < n; i++) dv.setFloat32(4 * i, a.data[i] as number, true); break;
    case 'float64': for (let i = 0; i < n; i++) dv.setFloat64(8 * i, a.data[i] as number, true); break;
    default: return a.dtype satisfies never;
  }
  return out;
}

/**
 * Serialises an array as `.npy` bytes.
 * @category io
 */
export function encodeNpy(a: NpyArray): Uint8Array {
  if (numel(a.shape) !== a.data.length) throw new NpzError(`encodeNpy: ${a.data.length} values for shape [${a.shape.join(', ')}]`);
  const h = npyHeader(a.dtype, a.shape), d = encodeData(a), out = new Uint8Array(h.byteLength + d.byteLength);
  out.set(h);
  out.set(d, h.byteLength);
  return out;
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1024 + m) * 2 ** (e - 25);
}

/**
 * Parses `.npy` bytes (versions 1–3, little-endian or byte-size dtypes, C order).
 * @category io
 */
export function decodeNpy(bytes: Uint8Array, name = '<npy>'): DecodedNpy {
  const fail = (m: string): never => { throw new NpzError(`${name}: ${m}`); };
  if (bytes.byteLength < 10 || bytes[0] !== 0x93 || new TextDecoder().decode(bytes.subarray(1, 6)) !== 'NUMPY') fail('not a .npy file (bad magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6] as number;
  const [hlen, hstart] = major === 1 ? [dv.getUint16(8, true), 10] : [dv.getUint32(8, true), 12];
  if (hstart + hlen > bytes.byteLength) fail('truncated header');
  const header = new TextDecoder().decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return fail(`unparsable header ${JSON.stringify(header)}`);
  if (fortran === 'True') fail('Fortran-order arrays are not supported');
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((k) => DESCR[k] === descr || (DESCR[k].slice(1) === descr.slice(1) && descr[0] === '='));
  if (dtype === undefined) return fail(`unsupported dtype '${descr}'`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const n = numel(shape), start = hstart + hlen;
  if (bytes.byteLength - start !== n * SIZE[dtype]) fail(`${bytes.byteLength - start} data bytes for ${dtype} shape [${shape.join(', ')}] (expected ${n * SIZE[dtype]})`);
  const body = bytes.slice(start);
  const bv = new DataView(body.buffer);
  let data: DecodedNpy['data'];
  switch (dtype) {
    case 'uint8': case 'bool': data = body; break;
    case 'int8': data = new Int8Array(body.buffer); break;
    case 'int16': data = Int16Array.from({ length: n }, (_, i) => bv.getInt16(2 * i, true)); break;
    case 'int32': data = Int32Array.from({ length: n }, (_, i) => bv.getInt32(4 * i, true)); break;
    case 'int64': data = Float64Array.from({ length: n }, (_, i) => Number(bv.getBigInt64(8 * i, true))); break;
    case 'float16': data = Float32Array.from({ length: n }, (_, i) => half(bv.getUint16(2 * i, true))); break;
    case 'float32': data = Float32Array.from({ length: n }, (_, i) => bv.getFloat32(4 * i, true)); break;
    case 'float64': data = Float64Array.from({ length: n }, (_, i) => bv.getFloat64(8 * i, true)); break;
    default: return dtype satisfies never;
  }
  return { dtype, shape, data };
}

/**
 * Reads an `.npz` held in memory (stored or deflated members, ZIP64 included) into arrays by name
 * (`arr_0`, … without the `.npy` suffix). For archives that fit in memory (tests, small exports).
 * @category io
 */
export function readNpz(bytes: Uint8Array, file = '<npz>'): Map<string, DecodedNpy> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new NpzError(`${file}: not a readable zip: ${(e as Error).message}`);
  }
  const out = new Map<string, DecodedNpy>();
  for (const [k, v] of Object.entries(files)) out.set(k.replace(/\.npy$/, ''), decodeNpy(v, `${file}: ${k}`));
  return out;
}

// --- streaming zip writer (stored, ZIP64 when needed) -------------------------------------------

const U32 = 0xffffffff;
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01, for reproducible archives

interface Member { readonly name: Uint8Array; readonly offset: number; readonly size: number; crc: number; readonly zip64: boolean }

/** An open `.npz` being written (see {@link openNpz}). @category io */
export interface NpzWriter {
  /** Starts array `name` (`.npy` suffix added) of the given dtype and shape; its bytes follow through {@link NpzWriter.write}. */
  readonly begin: (name: string, dtype: NpyDtype, shape: readonly number[]) => void;
  /** Appends raw little-endian element bytes of the current array. */
  readonly write: (bytes: Uint8Array) => void;
  /** Finishes the archive (central directory, fsync) and renames it into place. Throws if an array is short. */
  readonly close: () => void;
  /** Abandons the archive: removes the temporary file, leaves `path` untouched. */
  readonly abort: () => void;
}

/**
 * Opens a streaming `.npz` writer at `path` (written to `path.tmp-<pid>` and renamed into place on
 * `close`). Members are stored uncompressed, like `np.savez`; sizes come from the declared shapes,
 * CRCs are patched into the local headers as each array ends; ZIP64 records are emitted when a
 * size or offset needs them (`zip64: 'always'` forces them, as NumPy's `force_zip64=True` does).
 * @category io
 */
export function openNpz(path: string, opts: { readonly zip64?: 'auto' | 'always' } = {}): NpzWriter {
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number | undefined = openSync(tmp, 'w');
  let pos = 0;
  const members: Member[] = [];
  let cur: (Member & { written: number; headerPos: number; label: string }) | undefined;
  const put = (b: Uint8Array): void => {
    let o = 0;
    while (o < b.byteLength) o += writeSync(fd as number, b, o, b.byteLength - o, pos + o);
    pos += b.byteLength;
  };
  const ensureOpen = (): number => {
    if (fd === undefined) throw new NpzError(`${path}: writer is closed`);
    return fd;
  };
  const endMember = (): void => {
    if (cur === undefined) return;
    if (cur.written !== cur.size) throw new NpzError(`${path}: array '${cur.label}' got ${cur.written} of ${cur.size} bytes`);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, cur.crc >>> 0, true);
    let o = 0;
    while (o < 4) o += writeSync(ensureOpen(), b, o, 4 - o, cur.headerPos + 14 + o);
    members.push(cur);
    cur = undefined;
  };
  const writer: NpzWriter = {
    begin(name, dtype, shape) {
      ensureOpen();
      endMember();
      const label = name.endsWith('.npy') ? name.slice(0, -4) : name;
      const nameBytes = new TextEncoder().encode(`${label}.npy`);
      const head = npyHeader(dtype, shape);
      const size = head.byteLength + numel(shape) * SIZE[dtype];
      const zip64 = opts.zip64 === 'always' || size >= U32 || pos >= U32;
      const local = new Uint8Array(30 + nameBytes.byteLength + (zip64 ? 20 : 0));
      const dv = new DataView(local.buffer);
      dv.setUint32(0, 0x04034b50, true);
      dv.setUint16(4, zip64 ? 45 : 20, true);
      dv.setUint16(6, 0, true); // flags
      dv.setUint16(8, 0, true); // stored
      dv.setUint16(10, 0, true); // time
      dv.setUint16(12, DOS_DATE, true);
      dv.setUint32(14, 0, true); // crc, patched at the end of the member
      dv.setUint32(18, zip64 ? U32 : size, true);
      dv.setUint32(22, zip64 ? U32 : size, true);
      dv.setUint16(26, nameBytes.byteLength, true);
      dv.setUint16(28, zip64 ? 20 : 0, true);
      local.set(nameBytes, 30);
      if (zip64) {
        const e = 30 + nameBytes.byteLength;
        dv.setUint16(e, 1, true); dv.setUint16(e + 2, 16, true);
        dv.setBigUint64(e + 4, BigInt(size), true); dv.setBigUint64(e + 12, BigInt(size), true);
      }
      const headerPos = pos;
      put(local);
      cur = { name: nameBytes, offset: headerPos, size, crc: 0, zip64, written: 0, headerPos, label };
      cur.crc = updateCrc32(head, 0);
      cur.written = head.byteLength;
      put(head);
    },
    write(bytes) {
      ensureOpen();
      if (cur === undefined) throw new NpzError(`${path}: write() before begin()`);
      if (cur.written + bytes.byteLength > cur.size) throw new NpzError(`${path}: array '${cur.label}' would get ${cur.written + bytes.byteLength} of ${cur.size} bytes`);
      cur.crc = updateCrc32(bytes, cur.crc);
      cur.written += bytes.byteLength;
      put(bytes);
    },
    close() {
      const f = ensureOpen();
      try {
        endMember();
        const cdStart = pos;
        for (const m of members) {
          const needOff = m.offset >= U32 || opts.zip64 === 'always';
          const needSize = m.size >= U32 || opts.zip64 === 'always';
          const extraLen = (needSize ? 16 : 0) + (needOff ? 8 : 0);
          const rec = new Uint8Array(46 + m.name.byteLength + (extraLen > 0 ? 4 + extraLen : 0));
          const dv = new DataView(rec.buffer);
          dv.setUint32(0, 0x02014b50, true);
          dv.setUint16(4, (3 << 8) | 45, true); // made by: unix, 4.5
          dv.setUint16(6, m.zip64 || extraLen > 0 ? 45 : 20, true);
          dv.setUint16(8, 0, true); dv.setUint16(10, 0, true); dv.setUint16(12, 0, true); dv.setUint16(14, DOS_DATE, true);
          dv.setUint32(16, m.crc >>> 0, true);
          dv.setUint32(20, needSize ? U32 : m.size, true);
          dv.setUint32(24, needSize ? U32 : m.size, true);
          dv.setUint16(28, m.name.byteLength, true);
          dv.setUint16(30, extraLen > 0 ? 4 + extraLen : 0, true);
          dv.setUint16(32, 0, true); dv.setUint16(34, 0, true); dv.setUint16(36, 0, true);
          dv.setUint32(38, (0o100644 << 16) >>> 0, true);
          dv.setUint32(42, needOff ? U32 : m.offset, true);
          rec.set(m.name, 46);
          if (extraLen > 0) {
            let e = 46 + m.name.byteLength;
            dv.setUint16(e, 1, true); dv.setUint16(e + 2, extraLen, true); e += 4;
            if (needSize) { dv.setBigUint64(e, BigInt(m.size), true); dv.setBigUint64(e + 8, BigInt(m.size), true); e += 16; }
            if (needOff) dv.setBigUint64(e, BigInt(m.offset), true);
          }
          put(rec);
        }
        const cdSize = pos - cdStart;
        const needEnd64 = opts.zip64 === 'always' || cdStart >= U32 || cdSize >= U32 || members.length >= 0xffff;
        if (needEnd64) {
          const z = new Uint8Array(56 + 20), dv = new DataView(z.buffer);
          const recPos = pos;
          dv.setUint32(0, 0x06064b50, true);
          dv.setBigUint64(4, 44n, true);
          dv.setUint16(12, (3 << 8) | 45, true); dv.setUint16(14, 45, true);
          dv.setUint32(16, 0, true); dv.setUint32(20, 0, true);
          dv.setBigUint64(24, BigInt(members.length), true); dv.setBigUint64(32, BigInt(members.length), true);
          dv.setBigUint64(40, BigInt(cdSize), true); dv.setBigUint64(48, BigInt(cdStart), true);
          dv.setUint32(56, 0x07064b50, true); dv.setUint32(60, 0, true);
          dv.setBigUint64(64, BigInt(recPos), true); dv.setUint32(72, 1, true);
          put(z);
        }
        const end = new Uint8Array(22), dv = new DataView(end.buffer);
        dv.setUint32(0, 0x06054b50, true);
        dv.setUint16(8, Math.min(members.length, 0xffff), true); dv.setUint16(10, Math.min(members.length, 0xffff), true);
        dv.setUint32(12, Math.min(cdSize, U32), true);
        dv.setUint32(16, Math.min(cdStart, U32), true);
        put(end);
        fsyncSync(f);
        closeSync(f);
        fd = undefined;
        renameSync(tmp, path);
        fsyncDir(dirname(path));
      } catch (e) {
        writer.abort();
        throw e;
      }
    },
    abort() {
      if (fd !== undefined) { closeSync(fd); fd = undefined; }
      cur = undefined;
      rmSync(tmp, { force: true });
    },
  };
  return writer;
}

/**
 * Writes arrays to an `.npz` atomically (`np.savez` layout: one stored `<name>.npy` per array).
 *
 * @example
 * writeNpz('samples.npz', { arr_0: { dtype: 'uint8', shape: [n, 256, 256, 3], data } })
 * @category io
 */
export function writeNpz(path: string, arrays: Readonly<Record<string, NpyArray>>, opts: { readonly zip64?: 'auto' | 'always' } = {}): void {
  const w = openNpz(path, opts);
  try {
    for (const [name, a] of Object.entries(arrays)) {
      if (numel(a.shape) !== a.data.length) throw new NpzError(`${path}: array '${name}': ${a.data.length} values for shape [${a.shape.join(', ')}]`);
      w.begin(name, a.dtype, a.shape);
      w.write(encodeData(a));
    }
  } catch (e) {
    w.abort();
    throw e;
  }
  w.close();
}

/** A streaming writer of generated samples into an ADM-style `.npz` (see {@link openSamplesNpz}). @category io */
export interface SamplesNpzWriter {
  /** Appends a batch (NHWC floats in [-1, 1], converted by truncation like `generate.py`, or uint8). */
  readonly add: (images: ImagesInput) => Promise<void>;
  /** Images written so far. */
  readonly count: () => number;
  /** Finishes and publishes the file; throws unless exactly `n` images were added. */
  readonly close: () => void;
  /** Abandons the file. */
  readonly abort: () => void;
}

/**
 * Opens `path` for `n` samples of `height × width × channels` as the single uint8 array `arr_0`
 * `[n, H, W, C]` that guided-diffusion's `evaluations/evaluator.py` reads (official
 * `generate.py` → `create_npz_from_sample_folder`). Batches stream straight to disk.
 *
 * @example
 * const out = openSamplesNpz('samples/sit_0400000_cfg1.5-0.0-1.0.npz', { n: 50000, height: 256, width: 256 })
 * for (...) await out.add(decodedBatch)   // [b, 256, 256, 3] in [-1, 1]
 * out.close()
 * @category io
 */
export function openSamplesNpz(path: string, shape: { readonly n: number; readonly height: number; readonly width: number; readonly channels?: number }): SamplesNpzWriter {
  const c = shape.channels ?? 3;
  const w = openNpz(path);
  w.begin('arr_0', 'uint8', [shape.n, shape.height, shape.width, c]);
  let count = 0;
  return {
    async add(images) {
      const { data, shape: [b, h, wd, ch] } = await imagesToUint8(images);
      if (h !== shape.height || wd !== shape.width || ch !== c) {
        w.abort();
        throw new ImageError(`${path}: batch of [${b}, ${h}, ${wd}, ${ch}] images, file holds [${shape.n}, ${shape.height}, ${shape.width}, ${c}]`);
      }
      if (count + b > shape.n) {
        w.abort();
        throw new ImageError(`${path}: ${count + b} images exceed the declared ${shape.n}`);
      }
      w.write(data);
      count += b;
    },
    count: () => count,
    close() {
      if (count !== shape.n) {
        w.abort();
        throw new ImageError(`${path}: closed after ${count} of ${shape.n} images`);
      }
      w.close();
    },
    abort: () => w.abort(),
  };
}
