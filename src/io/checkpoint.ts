/**
 * @file Crash-safe training checkpoints: `<run>/checkpoints/<step:07d>/{<section>.safetensors…,
 * state.json, COMPLETE}`, published by renaming a fully written, fsynced `<step>.partial/`
 * directory. Replaces the official single torch pickle `{output_dir}/{exp}/checkpoints/{step:07d}.pt`
 * (spec §5.7) with one safetensors file per section plus JSON (spec gotcha 17).
 */
import * as t from 'io-ts';
import { PathReporter } from 'io-ts/lib/PathReporter.js';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, updateCrc32, writeFileSynced } from './atomic.js';
import { safetensorsParts, type SafeDtype, type SafeFile, type SafeWriteEntry } from './safetensors.js';
import { readSafetensorsFile, withFile } from './tensors.js';

/** A JSON value (what `state.json` may hold: step, RNG key, config, metrics…). @category io */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };
/** A JSON object. @category io */
export type JsonObject = { readonly [k: string]: Json };

/**
 * The tensors of one checkpoint, by section: each section becomes `<section>.safetensors`. The
 * training code chooses the sections (e.g. `sit`, `ema`, `vae`, `disc`, `opt`) and their keys.
 * @category io
 */
export type CheckpointSections = Readonly<Record<string, ReadonlyMap<string, SafeWriteEntry>>>;

/** A complete checkpoint on disk. @category io */
export interface CheckpointInfo {
  readonly step: number;
  /** The checkpoint directory, `<run>/checkpoints/<step:07d>`. */
  readonly path: string;
  /** Section names (files `<section>.safetensors`), sorted. */
  readonly sections: readonly string[];
}

/** A directory under `checkpoints/` that was not taken as a checkpoint, and why. @category io */
export interface SkippedCheckpoint {
  readonly path: string;
  readonly reason: string;
}

/** Progress events of {@link saveCheckpoint}, in order (for logs, and for crash tests). @category io */
export type CheckpointProgress =
  | { readonly stage: 'section'; readonly section: string; readonly bytes: number }
  | { readonly stage: 'state'; readonly bytes: number }
  | { readonly stage: 'marker' }
  | { readonly stage: 'published'; readonly path: string }
  | { readonly stage: 'pruned'; readonly path: string };

/** Options of {@link saveCheckpoint}. @category io */
export interface SaveCheckpointOptions {
  /** Keep only the newest N complete checkpoints (after this one is published). Default: keep all. */
  readonly keepLast?: number;
  /** `__metadata__` written into every section file. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Called after each stage; a throw aborts the save (the partial directory is left for the next save to clear). */
  readonly onProgress?: (e: CheckpointProgress) => void;
}

/** Error about a checkpoint directory (naming the path and what is wrong). @category io */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

const FORMAT = 'repae-checkpoint/1';
const MARKER = 'COMPLETE';
const STATE = 'state.json';
const SECTION_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const STEP_RE = /^\d{7,}$/;

const FileRecord = t.type({ bytes: t.number, crc32: t.number });
const Marker = t.type({ format: t.literal(FORMAT), step: t.number, files: t.record(t.string, FileRecord) });
type Marker = t.TypeOf<typeof Marker>;
const StateFile = t.type({ format: t.literal(FORMAT), step: t.number, sections: t.array(t.string), state: t.UnknownRecord });

/** The directory name of a step: zero-padded to 7 digits, as the official `{step:07d}`. @category io */
export const stepName = (step: number): string => String(step).padStart(7, '0');

/** `<run>/checkpoints`. @category io */
export const checkpointsDir = (runDir: string): string => join(runDir, 'checkpoints');

function decodeOrThrow<A>(codec: t.Decoder<unknown, A>, u: unknown, what: string): A {
  const r = codec.decode(u);
  if (r._tag === 'Left') throw new CheckpointError(`${what}: ${PathReporter.report(r).join('; ')}`);
  return r.right;
}

/** Writes one file inside the partial directory, fsynced; returns its size and CRC-32. */
function writeTracked(path: string, chunks: Iterable<Uint8Array>): { bytes: number; crc32: number } {
  let crc = 0;
  const bytes = writeFileSynced(path, (function* () { for (const c of chunks) { crc = updateCrc32(c, crc); yield c; } })());
  return { bytes, crc32: crc };
}

/**
 * Writes checkpoint `step` under `<runDir>/checkpoints/<step:07d>/` so that a crash at any point
 * leaves either the previous complete checkpoint or the new complete one:
 *
 * 1. clear and create `<step:07d>.partial/`;
 * 2. write each `<section>.safetensors` (streamed, fsynced), then `state.json`
 *    (`{ format, step, sections, state }`), then the `COMPLETE` marker (sizes and CRC-32 of every
 *    file), fsync the directory;
 * 3. rename it to `<step:07d>` (a checkpoint already there for that step is moved aside first and
 *    deleted after), fsync `checkpoints/`;
 * 4. with `keepLast`, delete older checkpoints and stale partial directories.
 *
 * Section names must be file-name safe (`[A-Za-z0-9_.-]`). Returns the published checkpoint.
 *
 * @example
 * saveCheckpoint('exps/run1', 4000,
 *   { sit: await toSafeEntries(sitSd), ema: await toSafeEntries(emaSd), vae: await toSafeEntries(vaeSd) },
 *   { key: [...key], config }, { keepLast: 3 })
 * @see latestCheckpoint, loadCheckpoint
 * @category io
 */
export function saveCheckpoint(
  runDir: string,
  step: number,
  sections: CheckpointSections,
  state: JsonObject,
  opts: SaveCheckpointOptions = {},
): CheckpointInfo {
  if (!Number.isSafeInteger(step) || step < 0) throw new CheckpointError(`saveCheckpoint: step must be a non-negative integer, got ${step}`);
  const names = Object.keys(sections).sort();
  for (const s of names)
    if (!SECTION_RE.test(s) || s === 'state') throw new CheckpointError(`saveCheckpoint: section name '${s}' is not allowed (use [A-Za-z0-9_.-], not 'state')`);
  if (opts.keepLast !== undefined && !(Number.isSafeInteger(opts.keepLast) && opts.keepLast >= 1))
    throw new CheckpointError(`saveCheckpoint: keepLast must be a positive integer, got ${opts.keepLast}`);
  // Lay every section out first: a bad shape or size fails before anything touches the disk.
  const parts = names.map((s) => {
    try {
      return [s, safetensorsParts(sections[s] as ReadonlyMap<string, SafeWriteEntry>, opts.metadata)] as const;
    } catch (e) {
      throw withFile(e, `${s}.safetensors`);
    }
  });
  const stateText = JSON.stringify({ format: FORMAT, step, sections: names, state }, null, 2);
  const root = checkpointsDir(runDir);
  mkdirSync(root, { recursive: true });
  const name = stepName(step);
  const partial = join(root, `${name}.partial`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial);

  const files: Record<string, { bytes: number; crc32: number }> = {};
  for (const [s, p] of parts) {
    const file = join(partial, `${s}.safetensors`);
    let rec: { bytes: number; crc32: number };
    try {
      rec = writeTracked(file, (function* () { yield p.head; yield* p.blobs(); })());
    } catch (e) {
      throw withFile(e, file);
    }
    files[`${s}.safetensors`] = rec;
    opts.onProgress?.({ stage: 'section', section: s, bytes: rec.bytes });
  }
  const stateRec = writeTracked(join(partial, STATE), [new TextEncoder().encode(stateText)]);
  files[STATE] = stateRec;
  opts.onProgress?.({ stage: 'state', bytes: stateRec.bytes });
  const marker: Marker = { format: FORMAT, step, files };
  writeTracked(join(partial, MARKER), [new TextEncoder().encode(JSON.stringify(marker, null, 2))]);
  fsyncDir(partial);
  opts.onProgress?.({ stage: 'marker' });

  const final = join(root, name);
  if (existsSync(final)) {
    const aside = join(root, `${name}.old-${process.pid}`);
    renameSync(final, aside);
    renameSync(partial, final);
    fsyncDir(root);
    rmSync(aside, { recursive: true, force: true });
  } else {
    renameSync(partial, final);
  }
  fsyncDir(root);
  opts.onProgress?.({ stage: 'published', path: final });
  if (opts.keepLast !== undefined)
    for (const p of pruneCheckpoints(runDir, opts.keepLast)) opts.onProgress?.({ stage: 'pruned', path: p });
  return { step, path: final, sections: names };
}

/** Checks a canonical checkpoint directory; returns the info or the reason it is not complete. */
function inspect(path: string, step: number): CheckpointInfo | string {
  const markerPath = join(path, MARKER);
  if (!existsSync(markerPath)) return `no ${MARKER} marker (interrupted write)`;
  let marker: Marker;
  try {
    marker = decodeOrThrow(Marker, JSON.parse(readFileSync(markerPath, 'utf8')), MARKER);
  } catch (e) {
    return `unreadable ${MARKER} marker: ${(e as Error).message}`;
  }
  if (marker.step !== step) return `${MARKER} marker says step ${marker.step}, directory says ${step}`;
  if (!(STATE in marker.files)) return `${MARKER} marker lists no ${STATE}`;
  for (const [f, rec] of Object.entries(marker.files)) {
    let size: number;
    try { size = statSync(join(path, f)).size; } catch { return `${f} is missing`; }
    if (size !== rec.bytes) return `${f} has ${size} bytes, ${MARKER} says ${rec.bytes}`;
  }
  const sections = Object.keys(marker.files).filter((f) => f.endsWith('.safetensors')).map((f) => f.slice(0, -'.safetensors'.length)).sort();
  return { step, path, sections };
}

/**
 * All complete checkpoints of a run, oldest first, and every directory under `checkpoints/` that
 * was skipped, with the reason (a `.partial` write in progress or interrupted, a missing or
 * unreadable `COMPLETE` marker, a missing or resized file, a leftover `.old-*`/`.deleting-*`).
 * A run without a `checkpoints/` directory has none.
 * @category io
 */
export function listCheckpoints(runDir: string): { readonly complete: readonly CheckpointInfo[]; readonly skipped: readonly SkippedCheckpoint[] } {
  const root = checkpointsDir(runDir);
  if (!existsSync(root)) return { complete: [], skipped: [] };
  const complete: CheckpointInfo[] = [];
  const skipped: SkippedCheckpoint[] = [];
  for (const d of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, d.name);
    if (!/^\d/.test(d.name)) continue; // not ours
    if (!d.isDirectory()) { skipped.push({ path, reason: 'not a directory' }); continue; }
    if (!STEP_RE.test(d.name)) {
      const why = d.name.endsWith('.partial') ? 'partial checkpoint (write in progress or interrupted)'
        : /\.old-\d+$/.test(d.name) ? 'checkpoint being replaced (interrupted overwrite)'
          : /\.deleting-\d+$/.test(d.name) ? 'checkpoint being deleted (interrupted prune)' : 'not a checkpoint name (<step:07d>)';
      skipped.push({ path, reason: why });
      continue;
    }
    const r = inspect(path, Number(d.name));
    if (typeof r === 'string') skipped.push({ path, reason: r });
    else complete.push(r);
  }
  complete.sort((a, b) => a.step - b.step);
  skipped.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { complete, skipped };
}

/**
 * The newest complete checkpoint of a run (`undefined` when there is none), and every directory
 * that was skipped on the way with the reason, so a resume can log e.g. "skipped 0005000.partial:
 * partial checkpoint (write in progress or interrupted)".
 *
 * @example
 * const { latest, skipped } = latestCheckpoint('exps/run1')
 * for (const s of skipped) console.warn(`skipped ${s.path}: ${s.reason}`)
 * if (latest) resumeFrom(loadCheckpoint(latest))
 * @category io
 */
export function latestCheckpoint(runDir: string): { readonly latest: CheckpointInfo | undefined; readonly skipped: readonly SkippedCheckpoint[] } {
  const { complete, skipped } = listCheckpoints(runDir);
  return { latest: complete[complete.length - 1], skipped };
}

/**
 * Deletes all but the newest `keepLast` complete checkpoints, and leftovers (`.partial`, `.old-*`,
 * `.deleting-*`, unmarked step directories) no newer than the newest complete checkpoint. Each
 * directory is first renamed to `.deleting-<pid>` so an interrupted prune never leaves a
 * half-deleted directory under a checkpoint name. Returns the deleted paths.
 * @category io
 */
export function pruneCheckpoints(runDir: string, keepLast: number): string[] {
  const { complete, skipped } = listCheckpoints(runDir);
  const newest = complete[complete.length - 1]?.step ?? -1;
  const doomed = complete.slice(0, Math.max(0, complete.length - keepLast)).map((c) => c.path);
  for (const s of skipped) {
    const m = /^(\d+)/.exec(s.path.slice(checkpointsDir(runDir).length + 1));
    if (m !== null && Number(m[1]) <= newest) doomed.push(s.path);
  }
  const root = checkpointsDir(runDir);
  for (const p of doomed) {
    const gone = p.includes('.deleting-') ? p : `${p}.deleting-${process.pid}`;
    if (gone !== p) renameSync(p, gone);
    rmSync(gone, { recursive: true, force: true });
  }
  if (doomed.length > 0) fsyncDir(root);
  return doomed;
}

/** CRC-32 of a file of any size, read in 16 MiB chunks. */
function crcFile(path: string): number {
  const fd = openSync(path, 'r'), buf = new Uint8Array(16 << 20);
  let crc = 0, pos = 0, n: number;
  try {
    while ((n = readSync(fd, buf, 0, buf.byteLength, pos)) > 0) { crc = updateCrc32(buf.subarray(0, n), crc); pos += n; }
  } finally {
    closeSync(fd);
  }
  return crc;
}

/** A loaded checkpoint: step, the user state from `state.json`, and the requested sections. @category io */
export interface LoadedCheckpoint {
  readonly step: number;
  readonly path: string;
  readonly state: JsonObject;
  readonly sections: Readonly<Record<string, SafeFile>>;
}

/**
 * Loads a checkpoint (a {@link CheckpointInfo}, or a checkpoint directory path): `state.json` and
 * the requested sections (default: all). Every file read is checked against the CRC-32 in the
 * `COMPLETE` marker (`verify: false` skips that, for tools that inspect damaged checkpoints).
 * Throws {@link CheckpointError} naming the path when the checkpoint is incomplete, a file fails
 * its CRC, or a requested section does not exist.
 *
 * @example
 * const ck = loadCheckpoint(latest, { sections: ['ema', 'vae'] })
 * const key = ck.state['key']
 * @category io
 */
export function loadCheckpoint(
  ck: CheckpointInfo | string,
  opts: { readonly sections?: readonly string[]; readonly verify?: boolean } = {},
): LoadedCheckpoint {
  const path = typeof ck === 'string' ? ck : ck.path;
  const base = path.replace(/[/\\]+$/, '').split(/[/\\]/).pop() ?? '';
  if (!STEP_RE.test(base)) throw new CheckpointError(`${path}: not a checkpoint directory name (<step:07d>)`);
  const info = inspect(path, Number(base));
  if (typeof info === 'string') throw new CheckpointError(`${path}: incomplete checkpoint: ${info}`);
  const want = opts.sections ?? info.sections;
  for (const s of want)
    if (!info.sections.includes(s)) throw new CheckpointError(`${path}: no section '${s}' (has: ${info.sections.join(', ') || 'none'})`);
  const marker = decodeOrThrow(Marker, JSON.parse(readFileSync(join(path, MARKER), 'utf8')), `${path}/${MARKER}`);
  const check = (f: string): void => {
    if (opts.verify === false) return;
    const got = crcFile(join(path, f));
    const rec = marker.files[f];
    if (rec === undefined || got !== rec.crc32) throw new CheckpointError(`${path}: ${f} fails its CRC-32 check (${got} vs ${rec?.crc32} in ${MARKER}): the file is damaged; use an older checkpoint`);
  };
  check(STATE);
  const st = decodeOrThrow(StateFile, JSON.parse(readFileSync(join(path, STATE), 'utf8')), `${path}/${STATE}`);
  const sections: Record<string, SafeFile> = {};
  for (const s of want) {
    check(`${s}.safetensors`);
    sections[s] = readSafetensorsFile(join(path, `${s}.safetensors`));
  }
  return { step: st.step, path, state: st.state as JsonObject, sections };
}

/** The float dtypes a model tensor may be stored in. @category io */
export const FLOAT_DTYPES: readonly SafeDtype[] = ['F32', 'F16', 'BF16', 'F64'];

/**
 * Checks the dtype of every tensor of a loaded section (or state-dict file) against what a model
 * consumer expects: floats ({@link FLOAT_DTYPES}) for parameters and buffers, integers for
 * BatchNorm `num_batches_tracked` counters (or `expect(key)` when given). Throws
 * {@link CheckpointError} naming the file, the tensor, its dtype and the expected ones: a
 * relabelled dtype would otherwise be read as garbage values.
 * @category io
 */
export function requireDtypes(f: SafeFile, file: string, expect?: (key: string) => readonly SafeDtype[]): void {
  const want = expect ?? ((k: string): readonly SafeDtype[] => (k.endsWith('num_batches_tracked') ? ['I64', 'I32'] : FLOAT_DTYPES));
  for (const [k, e] of f.entries) {
    const ok = want(k);
    if (!ok.includes(e.dtype)) throw new CheckpointError(`${file}: tensor '${k}' has dtype ${e.dtype}, expected ${ok.join(' or ')}`);
  }
}
