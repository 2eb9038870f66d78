/**
 * @file Crash-safe file writes: write `path.tmp-<pid>`, fsync it, rename it over `path`, fsync the
 * directory. A reader (or a process restarted after a crash) sees either the old file or the new
 * one, never a torn one.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';

/** Writes all of `bytes` to `fd` (looping over short writes). */
function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
}

/**
 * Flushes a directory's entries (new names, renames) to disk. A no-op where directories cannot be
 * opened for fsync (Windows).
 * @category io
 */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes chunks to a new file and fsyncs it (not atomic by itself: used for files inside a
 * directory that is itself published atomically).
 * @category io
 */
export function writeFileSynced(path: string, chunks: Uint8Array | Iterable<Uint8Array>): number {
  const fd = openSync(path, 'w');
  let n = 0;
  try {
    for (const c of chunks instanceof Uint8Array ? [chunks] : chunks) { writeAll(fd, c); n += c.byteLength; }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return n;
}

/**
 * Atomically replaces `path` with the given bytes: writes `path.tmp-<pid>`, fsyncs it, renames it
 * to `path` and fsyncs the directory. On any error the temporary file is removed and `path` is
 * left as it was. Returns the number of bytes written.
 *
 * @example
 * writeFileAtomic('samples/grid.png', encodePng(img))
 * @category io
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | Iterable<Uint8Array>): number {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const n = writeFileSynced(tmp, chunks);
    renameSync(tmp, path);
    fsyncDir(dirname(path));
    return n;
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Running CRC-32 (zip/PNG polynomial). Wraps `zlib.crc32`, which returns 0 instead of `crc` for an
 * empty array backed by a zero-length buffer (Node 20.19), so empty chunks are skipped.
 * @category io
 */
export const updateCrc32 = (bytes: Uint8Array, crc = 0): number => (bytes.byteLength === 0 ? crc : crc32(bytes, crc));
