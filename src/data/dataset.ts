/** @file The Dataset abstraction (indexed, lazily decoded, labelled RGB images) and a deterministic, key-driven batch loader. */
import { tensor } from '../core/ops/create.js';
import { fold, permutation, type Key } from '../core/rng.js';
import type { T } from '../core/tensor.js';
import { DataError, type RgbImage } from './image.js';

/**
 * A finite, indexed, labelled image dataset. Images are decoded on demand by `load(i)` (which
 * throws a {@link DataError} naming the file when it cannot); labels are known without decoding.
 * Official counterpart: `CustomINH5Dataset` (uint8 image, int label), spec §5.8.
 *
 * @example
 * const ds = await openImageFolder('data/train')   // class per sub-folder, sorted
 * ds.classes[ds.label(0)]; ds.load(0).width
 * @category io
 */
export interface Dataset {
  /** A short description for logs, e.g. the folder or archive. */
  readonly name: string;
  /** Number of items. */
  readonly length: number;
  /** Class names; `label(i)` indexes into this list. */
  readonly classes: readonly string[];
  /** Where item `i` comes from (file path, `archive:member`, `strip.png#row`), for messages. */
  source(i: number): string;
  /** Class index of item `i`. */
  label(i: number): number;
  /** Decodes item `i` (throws {@link DataError} naming {@link Dataset.source}). */
  load(i: number): RgbImage;
}

const checkIndex = (ds: { readonly name: string; readonly length: number }, i: number): void => {
  if (!(Number.isInteger(i) && i >= 0 && i < ds.length)) throw new RangeError(`${ds.name}: index ${i} out of range [0, ${ds.length})`);
};

/**
 * A dataset whose images are `f(load(i), i)`, e.g. an ADM centre crop. Errors thrown by `f`
 * are re-thrown as {@link DataError} naming the source.
 * @example
 * const ds256 = mapDataset(ds, (img) => centerCrop(img, 256))
 * @category io
 */
export function mapDataset(ds: Dataset, f: (img: RgbImage, i: number) => RgbImage, name = ds.name): Dataset {
  return {
    name,
    length: ds.length,
    classes: ds.classes,
    source: (i) => ds.source(i),
    label: (i) => ds.label(i),
    load: (i) => {
      const img = ds.load(i);
      try {
        return f(img, i);
      } catch (e) {
        if (e instanceof DataError) throw e;
        throw new DataError(ds.source(i), e instanceof Error ? e.message : String(e));
      }
    },
  };
}

/** The items `indices` of `ds`, in that order. @category io */
export function subsetDataset(ds: Dataset, indices: readonly number[], name = `${ds.name}[subset ${indices.length}]`): Dataset {
  for (const i of indices) checkIndex(ds, i);
  const at = (j: number): number => {
    checkIndex({ name, length: indices.length }, j);
    return indices[j] as number;
  };
  return { name, length: indices.length, classes: ds.classes, source: (j) => ds.source(at(j)), label: (j) => ds.label(at(j)), load: (j) => ds.load(at(j)) };
}

/**
 * A dataset held in memory: `images[i]` with `labels[i]`.
 * @category io
 */
export function arrayDataset(
  name: string,
  images: readonly RgbImage[],
  labels: ArrayLike<number>,
  classes: readonly string[],
): Dataset {
  if (images.length !== labels.length) throw new RangeError(`${name}: ${images.length} images but ${labels.length} labels`);
  const ds: Dataset = {
    name,
    length: images.length,
    classes,
    source: (i) => `${name}#${i}`,
    label: (i) => {
      checkIndex(ds, i);
      return labels[i] as number;
    },
    load: (i) => {
      checkIndex(ds, i);
      return images[i] as RgbImage;
    },
  };
  return ds;
}

/** A batch on the host: `pixels` is `[B, H, W, 3]` uint8 (row-major), `labels` int. @category io */
export interface HostBatch {
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  /** `[B, H, W, 3]`. */
  readonly shape: readonly [number, number, number, number];
  /** Dataset indices of the items, in batch order. */
  readonly indices: readonly number[];
}

/**
 * A batch as tensors: `images: [B, H, W, 3]` int32 holding 0…255 (tfjs has no uint8 dtype; the
 * official loader yields uint8 `[B, 3, H, W]`), `labels: [B]` int32. Dispose after use.
 * @category io
 */
export interface Batch {
  readonly images: T<never>;
  readonly labels: T<never>;
  readonly indices: readonly number[];
}

/** Uploads a host batch as int32 tensors (see {@link Batch}). @category io */
export function toTensors(b: HostBatch): Batch {
  return { images: tensor(Int32Array.from(b.pixels), b.shape, 'int32'), labels: tensor(b.labels, [b.labels.length], 'int32'), indices: b.indices };
}

/** What to do with an item that cannot be decoded (or has the wrong size). @category io */
export type OnError = 'fail' | 'skip';

/** Options of {@link loader}. @category io */
export interface LoaderOptions {
  /** Items per batch. */
  readonly batchSize: number;
  /** Shuffling key: epoch `e` visits `permutation(fold(key, e), n)`. Omit for dataset order. */
  readonly key?: Key;
  /** Drop the last incomplete batch (default true, as the official loader). */
  readonly dropLast?: boolean;
  /**
   * `'fail'` (default): throw the {@link DataError} naming the file.
   * `'skip'`: leave the item out, fill the batch with the next items of the epoch order, and
   * report it through `onSkip` and {@link Loader.skipped}.
   */
  readonly onError?: OnError;
  /** Called once per skipped item (default: nothing; read {@link Loader.skipped}). */
  readonly onSkip?: (e: DataError) => void;
}

/** A deterministic batch loader over a {@link Dataset}. @category io */
export interface Loader {
  /** Batches per epoch when no item is skipped. */
  readonly batchesPerEpoch: number;
  /** The item order of epoch `e` (a pure function of the key and `e`). */
  order(epoch: number): readonly number[];
  /** Host batches of epoch `e`, in order. */
  hostBatches(epoch: number): Generator<HostBatch>;
  /** Tensor batches of epoch `e` (each must be disposed by the caller). */
  batches(epoch: number): Generator<Batch>;
  /** Every item skipped so far (`onError: 'skip'`), first occurrence only. */
  readonly skipped: readonly DataError[];
}

/**
 * Deterministic epoch order: `permutation(fold(key, epoch), n)`, or `0…n−1` without a key.
 * @category io
 */
export function epochOrder(n: number, key: Key | undefined, epoch: number): number[] {
  return key === undefined ? Array.from({ length: n }, (_, i) => i) : permutation(fold(key, epoch), n);
}

/**
 * Makes a batch loader: shuffles deterministically from a key per epoch, stacks images into
 * `[B, H, W, 3]` batches (all images of a batch must have the size of its first image; use
 * {@link mapDataset} with `centerCrop` for mixed sizes), drops the last incomplete batch by default,
 * and fails or skips-and-reports unreadable files.
 *
 * @example
 * const dl = loader(ds, { batchSize: 64, key: rng.key(0) })
 * for (const b of dl.batches(0)) { step(b); dispose(b) }
 * @category io
 */
export function loader(ds: Dataset, opts: LoaderOptions): Loader {
  const bs = opts.batchSize;
  if (!(Number.isInteger(bs) && bs > 0)) throw new RangeError(`loader: batchSize must be a positive integer, got ${bs}`);
  const dropLast = opts.dropLast ?? true;
  const onError = opts.onError ?? 'fail';
  const skipped: DataError[] = [];
  const bad = new Set<number>();
  const order = (e: number): number[] => epochOrder(ds.length, opts.key, e);

  function* hostBatches(epoch: number): Generator<HostBatch> {
    const ord = order(epoch);
    let pos = 0;
    for (;;) {
      const imgs: RgbImage[] = [];
      const idx: number[] = [];
      while (imgs.length < bs && pos < ord.length) {
        const i = ord[pos++] as number;
        if (bad.has(i)) continue;
        try {
          const img = ds.load(i);
          const first = imgs[0];
          if (img.data.length !== img.width * img.height * 3)
            throw new DataError(ds.source(i), `image data has ${img.data.length} bytes, expected ${img.width}x${img.height}x3`);
          if (first !== undefined && (img.width !== first.width || img.height !== first.height))
            throw new DataError(
              ds.source(i),
              `image is ${img.width}x${img.height} but this batch is ${first.width}x${first.height} (${ds.source(idx[0] as number)}); crop or resize first (mapDataset + centerCrop)`,
            );
          imgs.push(img);
          idx.push(i);
        } catch (e) {
          const err = e instanceof DataError ? e : new DataError(ds.source(i), e instanceof Error ? e.message : String(e));
          if (onError === 'fail') throw err;
          bad.add(i);
          skipped.push(err);
          opts.onSkip?.(err);
        }
      }
      if (imgs.length === 0 || (imgs.length < bs && dropLast)) return;
      const first = imgs[0] as RgbImage;
      const per = first.width * first.height * 3;
      const pixels = new Uint8Array(per * imgs.length);
      imgs.forEach((im, k) => pixels.set(im.data, k * per));
      yield {
        pixels,
        labels: Int32Array.from(idx, (i) => ds.label(i)),
        shape: [imgs.length, first.height, first.width, 3],
        indices: idx,
      };
      if (pos >= ord.length) return;
    }
  }

  return {
    batchesPerEpoch: dropLast ? Math.floor(ds.length / bs) : Math.ceil(ds.length / bs),
    order,
    hostBatches,
    *batches(epoch: number): Generator<Batch> {
      for (const b of hostBatches(epoch)) yield toTensors(b);
    },
    skipped,
  };
}
