/** @file CIFAR-style PNG strips (one small image per PNG row, as in the ConvNetJS CIFAR-10 demo) plus a `labels.js` file. */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { Dataset } from './dataset.js';
import { DataError, decodeImage, type RgbImage } from './image.js';

/** The CIFAR-10 class names in label order (0 = airplane … 9 = truck). @category io */
export const cifar10Classes: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/**
 * Parses a JavaScript labels file such as `var labels=[6, 9, 9, …];` (any identifier, any
 * whitespace) into integers. Throws a {@link DataError} naming `file` if there is no array of
 * integers in it.
 * @category io
 */
export function parseLabelsJs(text: string, file = 'labels.js'): number[] {
  const m = /\[([\s\d,]*)\]/.exec(text);
  if (m === null) throw new DataError(file, 'no array literal of integers found (expected e.g. "var labels=[6, 9, …]")');
  const body = (m[1] as string).trim();
  if (body === '') return [];
  return body.split(',').map((s, k) => {
    const t = s.trim();
    if (!/^\d+$/.test(t)) throw new DataError(file, `entry ${k} is not a non-negative integer: '${t}'`);
    return Number(t);
  });
}

/**
 * Splits a decoded strip into its images: the strip is `width = side²` pixels wide and one image
 * per row, each row holding a `side × side` image in row-major order (`side` defaults to √width).
 * @example
 * const imgs = splitStrip(decodeImage(bytes, f), f)   // 1000 images of 32×32 from a 1024×1000 strip
 * @category io
 */
export function splitStrip(strip: RgbImage, file: string, side = Math.round(Math.sqrt(strip.width))): RgbImage[] {
  if (side * side !== strip.width)
    throw new DataError(file, `strip is ${strip.width} pixels wide, which is not ${side}x${side} (one image per row expected)`);
  const per = strip.width * 3;
  return Array.from({ length: strip.height }, (_, r) => ({ width: side, height: side, data: strip.data.slice(r * per, (r + 1) * per) }));
}

/** Options of {@link cifarPngDataset}. @category io */
export interface CifarPngOptions {
  /** PNG strip files, in order. */
  readonly files: readonly string[];
  /** Labels: an array, or the path of a `labels.js` file. */
  readonly labels: ArrayLike<number> | string;
  /**
   * Index into `labels` of each file's first row. Default: from the file name
   * `…_batch_<k>.png` → `k · rows` (the ConvNetJS layout: batches 0–49 train, 50 test).
   */
  readonly labelOffsets?: readonly number[];
  /** Class names (default {@link cifar10Classes}). */
  readonly classes?: readonly string[];
}

/**
 * A {@link Dataset} over CIFAR-style PNG strips. Strips are decoded once, lazily, on first access.
 * @example
 * const test = cifarPngDataset({ files: ['cifar10_batch_50.png'], labels: 'cifar10_labels.js' })
 * @category io
 */
export function cifarPngDataset(opts: CifarPngOptions): Dataset {
  const labels = typeof opts.labels === 'string' ? parseLabelsJs(readFileSync(opts.labels, 'utf8'), opts.labels) : opts.labels;
  const classes = opts.classes ?? cifar10Classes;
  // Row counts need the PNG header only: IHDR height at bytes 20–23.
  const rows = opts.files.map((f) => {
    const head = new Uint8Array(24);
    try {
      const fd = openSync(f, 'r');
      try {
        readSync(fd, head, 0, 24, 0);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw new DataError(f, `cannot read (${(e as Error).message})`);
    }
    if (head[0] !== 0x89 || head[1] !== 0x50 || head[2] !== 0x4e || head[3] !== 0x47) throw new DataError(f, 'not a PNG file');
    return new DataView(head.buffer, head.byteOffset, 24).getUint32(20);
  });
  const offsets = opts.files.map((f, k) => {
    const given = opts.labelOffsets?.[k];
    if (given !== undefined) return given;
    const m = /batch_(\d+)\.png$/i.exec(basename(f));
    if (m === null) throw new DataError(f, 'cannot infer the label offset from the file name (pass labelOffsets)');
    return Number(m[1]) * (rows[k] as number);
  });
  const starts: number[] = [];
  let total = 0;
  for (const r of rows) {
    starts.push(total);
    total += r;
  }
  opts.files.forEach((f, k) => {
    const end = (offsets[k] as number) + (rows[k] as number);
    if (end > labels.length) throw new DataError(f, `needs labels up to index ${end - 1}, but only ${labels.length} labels were given`);
  });
  const cache = new Map<number, RgbImage[]>();
  const locate = (i: number): [number, number] => {
    if (!(Number.isInteger(i) && i >= 0 && i < total)) throw new RangeError(`cifar png: index ${i} out of range [0, ${total})`);
    let k = 0;
    while (k + 1 < starts.length && (starts[k + 1] as number) <= i) k++;
    return [k, i - (starts[k] as number)];
  };
  return {
    name: opts.files.map((f) => basename(f)).join('+'),
    length: total,
    classes,
    source: (i) => {
      const [k, r] = locate(i);
      return `${opts.files[k]}#row${r}`;
    },
    label: (i) => {
      const [k, r] = locate(i);
      return labels[(offsets[k] as number) + r] as number;
    },
    load: (i) => {
      const [k, r] = locate(i);
      let imgs = cache.get(k);
      if (imgs === undefined) {
        const f = opts.files[k] as string;
        imgs = splitStrip(decodeImage(new Uint8Array(readFileSync(f)), f), f);
        cache.set(k, imgs);
      }
      return imgs[r] as RgbImage;
    },
  };
}
