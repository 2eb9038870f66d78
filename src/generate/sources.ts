/**
 * @file Image sources for evaluation and encoding, named by one string: an image folder (class
 * sub-folders, or flat), a `.tar`/`.tar.gz` archive (`archive.tar.gz:root` picks a folder inside),
 * an `.npz` of uint8 NHWC images (`arr_0`, the ADM layout), or the built-in synthetic dataset
 * (`builtin:shapes[:N]`). Batches come out as host uint8 NHWC with labels.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { key as rngKey } from '../core/rng.js';
import type { Dataset } from '../data/dataset.js';
import { mapDataset } from '../data/dataset.js';
import { DataError, decodeImage, type RgbImage } from '../data/image.js';
import { imageFolderDataset, openImageFolder, openTarImageFolder } from '../data/image-folder.js';
import { centerCrop } from '../data/preprocess.js';
import { syntheticDataset } from '../data/synthetic.js';
import { readNpz } from '../io/npz.js';

/** A batch of host images: uint8 NHWC pixels, int labels (0 when the source has none). @category io */
export interface ImageBatch {
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  readonly shape: readonly [number, number, number, number];
}

/** A finite source of same-sized RGB images (see {@link openImageSource}). @category io */
export interface ImageSource {
  /** The spec it was opened from. */
  readonly name: string;
  /** Number of images (after `limit`). */
  readonly length: number;
  /** Batches of `batchSize` in order (the last may be smaller). */
  batches(batchSize: number): Generator<ImageBatch>;
}

/** Options of {@link openImageSource}. @category io */
export interface ImageSourceOptions {
  /** Use at most this many images (the first ones). */
  readonly limit?: number;
  /** ADM centre crop (`center_crop_arr`) of every image whose size differs from `resolution²`; npz images must already have it. */
  readonly resolution?: number;
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

function flatFolder(dir: string): Dataset | undefined {
  const files = readdirSync(dir).filter((f) => IMAGE_EXT.test(f)).sort();
  if (files.length === 0) return undefined;
  return imageFolderDataset(
    dir,
    files.map((f) => ({ path: `_/${f}`, source: join(dir, f), read: () => new Uint8Array(readFileSync(join(dir, f))) })),
    { classes: ['_'] },
  );
}

function datasetSource(spec: string, ds: Dataset, opts: ImageSourceOptions): ImageSource {
  const res = opts.resolution;
  const d = res === undefined ? ds : mapDataset(ds, (img: RgbImage) => (img.width === res && img.height === res ? img : centerCrop(img, res)));
  const n = Math.min(d.length, opts.limit ?? Infinity);
  return {
    name: spec,
    length: n,
    *batches(bs) {
      for (let s = 0; s < n; s += bs) {
        const m = Math.min(bs, n - s);
        const first = d.load(s);
        const h = first.height, w = first.width;
        const pixels = new Uint8Array(m * h * w * 3), labels = new Int32Array(m);
        for (let i = 0; i < m; i++) {
          const img = i === 0 ? first : d.load(s + i);
          if (img.width !== w || img.height !== h)
            throw new DataError(d.source(s + i), `image is ${img.width}×${img.height}, the batch is ${w}×${h} (pass a resolution to centre-crop)`);
          pixels.set(img.data, i * h * w * 3);
          labels[i] = d.label(s + i);
        }
        yield { pixels, labels, shape: [m, h, w, 3] };
      }
    },
  };
}

function npzSource(spec: string, opts: ImageSourceOptions): ImageSource {
  const arrays = readNpz(new Uint8Array(readFileSync(spec)), spec);
  const a = arrays.get('arr_0') ?? arrays.get('images');
  if (a === undefined) throw new DataError(spec, `no 'arr_0' array (has: ${[...arrays.keys()].join(', ') || 'none'})`);
  if (a.dtype !== 'uint8' || a.shape.length !== 4 || a.shape[3] !== 3)
    throw new DataError(spec, `'arr_0' must be uint8 [N, H, W, 3] (the ADM sample layout), got ${a.dtype} [${a.shape.join(', ')}]`);
  const [N, h, w] = a.shape as [number, number, number, number];
  if (opts.resolution !== undefined && (h !== opts.resolution || w !== opts.resolution))
    throw new DataError(spec, `images are ${w}×${h}, expected ${opts.resolution}×${opts.resolution}`);
  const lab = arrays.get('labels');
  const n = Math.min(N, opts.limit ?? Infinity);
  const data = a.data as Uint8Array;
  return {
    name: spec,
    length: n,
    *batches(bs) {
      for (let s = 0; s < n; s += bs) {
        const m = Math.min(bs, n - s);
        const labels = new Int32Array(m);
        if (lab !== undefined) for (let i = 0; i < m; i++) labels[i] = Number(lab.data[s + i] ?? 0);
        yield { pixels: data.slice(s * h * w * 3, (s + m) * h * w * 3), labels, shape: [m, h, w, 3] };
      }
    },
  };
}

/**
 * Opens an image source by name:
 * - `builtin:shapes` or `builtin:shapes:N` — the synthetic dataset (N items, default 1000; side
 *   `resolution`, default 32), labels `i mod 10`;
 * - `path.npz` — `arr_0` uint8 `[N, H, W, 3]` (and `labels` when present);
 * - `path.tar`, `path.tar.gz`, `path.tgz` (optionally `:folder` inside) — an image folder archive;
 * - a directory — class sub-folders (sorted names = labels), or a flat folder of images (label 0).
 * Errors name the file.
 *
 * @example
 * const ref = openImageSource('../shared/data/cifar10/test.tar.gz:test', { limit: 1000 })
 * for (const b of ref.batches(64)) ...
 * @category io
 */
export function openImageSource(spec: string, opts: ImageSourceOptions = {}): ImageSource {
  const builtin = /^builtin:shapes(?::(\d+))?$/.exec(spec);
  if (builtin !== null) {
    const n = builtin[1] === undefined ? 1000 : Number(builtin[1]);
    return datasetSource(spec, syntheticDataset({ key: rngKey(0), length: n, imageSize: opts.resolution ?? 32 }), opts);
  }
  if (spec.startsWith('builtin:')) throw new DataError(spec, "unknown built-in dataset (use 'builtin:shapes' or 'builtin:shapes:N')");
  const tar = /^(.*\.(?:tar|tar\.gz|tgz))(?::(.*))?$/.exec(spec);
  if (tar !== null && existsSync(tar[1] as string)) {
    const root = tar[2];
    return datasetSource(spec, openTarImageFolder(tar[1] as string, root === undefined ? {} : { root }), opts);
  }
  if (!existsSync(spec)) throw new DataError(spec, 'no such image folder, archive or .npz');
  if (/\.npz$/i.test(spec)) return npzSource(spec, opts);
  if (statSync(spec).isDirectory()) {
    const hasClassDirs = readdirSync(spec, { withFileTypes: true }).some((e) => e.isDirectory());
    if (hasClassDirs) return datasetSource(spec, openImageFolder(spec), opts);
    const flat = flatFolder(spec);
    if (flat !== undefined) return datasetSource(spec, flat, opts);
    throw new DataError(spec, 'no images (.png, .jpg, .jpeg) in this folder or its class sub-folders');
  }
  if (IMAGE_EXT.test(spec)) {
    const img = decodeImage(new Uint8Array(readFileSync(spec)), spec);
    return datasetSource(spec, { name: spec, length: 1, classes: ['_'], source: () => spec, label: () => 0, load: () => img }, opts);
  }
  throw new DataError(spec, 'not an image folder, .tar/.tar.gz archive, .npz or image file');
}
