/** @file A small tar reader (ustar, GNU long names, pax paths) and `.tar.gz` via fflate, with errors naming the archive and offset. */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'fflate';
import { DataError } from './image.js';

/** One member of a tar archive; `data` is a view into the archive bytes. @category io */
export interface TarEntry {
  /** Path inside the archive, without a leading `./`, directories without trailing `/`. */
  readonly path: string;
  readonly type: 'file' | 'directory' | 'other';
  readonly size: number;
  readonly data: Uint8Array;
}

const dec = new TextDecoder();
const str = (b: Uint8Array, off: number, len: number): string => {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return dec.decode(z < 0 ? s : s.subarray(0, z));
};

function octal(b: Uint8Array, off: number, len: number, what: string, fail: (m: string) => never): number {
  if (((b[off] as number) & 0x80) !== 0) {
    // GNU base-256 (large sizes)
    let v = (b[off] as number) & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + (b[off + i] as number);
    return v;
  }
  const s = str(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) fail(`corrupt header field ${what}: '${s}'`);
  return parseInt(s, 8);
}

/**
 * Parses an uncompressed tar archive (POSIX ustar and GNU: long names `L`, pax `x` headers with
 * `path`/`size`). Verifies each header checksum; a truncated or corrupt archive throws a
 * {@link DataError} naming `archive` and the byte offset.
 * @example
 * parseTar(bytes, 'images.tar').filter((e) => e.type === 'file').map((e) => e.path)
 * @category io
 */
export function parseTar(bytes: Uint8Array, archive = '<tar>'): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  while (off + 512 <= bytes.length) {
    const fail = (m: string): never => {
      throw new DataError(archive, `${m} (header at byte ${off})`);
    };
    const h = bytes.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break; // end-of-archive marker
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] as number);
    const stored = octal(h, 148, 8, 'chksum', fail);
    if (stored !== sum) fail(`bad header checksum ${stored} (computed ${sum}); the archive is corrupt or not a tar file`);
    const type = String.fromCharCode(h[156] as number);
    let size = octal(h, 124, 12, 'size', fail);
    if (paxSize !== undefined) size = paxSize;
    const magic = str(h, 257, 6);
    const prefix = magic.startsWith('ustar') ? str(h, 345, 155) : '';
    let path = longName ?? paxPath ?? (prefix !== '' ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    const start = off + 512;
    if (start + size > bytes.length) fail(`member '${path}' needs ${size} bytes but the archive ends after ${bytes.length - start}; truncated`);
    const data = bytes.subarray(start, start + size);
    off = start + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = str(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      const rec = dec.decode(data);
      for (const line of rec.split('\n')) {
        const m = /^\d+ ([^=]+)=(.*)$/.exec(line);
        if (m?.[1] === 'path') paxPath = m[2];
        if (m?.[1] === 'size') paxSize = Number(m[2]);
      }
      continue;
    }
    longName = undefined;
    paxPath = undefined;
    paxSize = undefined;
    if (type === 'g') continue;
    path = path.replace(/^\.\//, '').replace(/\/+$/, '');
    if (path === '' || path === '.') continue;
    const kind = type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'directory' : 'other';
    out.push({ path, type: kind, size, data });
  }
  return out;
}

/**
 * Reads a `.tar`, `.tar.gz` or `.tgz` file (gzip detected from the magic bytes) and returns its
 * members. The whole archive is held in memory.
 * @example
 * const files = readTar('cifar10/test.tar.gz').filter((e) => e.type === 'file')
 * @category io
 */
export function readTar(path: string): TarEntry[] {
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new DataError(path, `cannot read (${(e as Error).message})`);
  }
  let tar = raw;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      tar = gunzipSync(raw);
    } catch (e) {
      throw new DataError(path, `corrupt gzip stream (${(e as Error).message})`);
    }
  }
  return parseTar(tar, path);
}
