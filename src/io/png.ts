/**
 * @file PNG encode/decode (pngjs), the official float → uint8 conversion, image grids and atomic
 * PNG writes. Images are HWC uint8 on the host; batches are NHWC.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { writeFileAtomic } from './atomic.js';

/** A host image: `height × width × channels` uint8 values, row-major HWC. @category io */
export interface Image {
  readonly width: number;
  readonly height: number;
  /** 1 (gray), 3 (RGB) or 4 (RGBA). */
  readonly channels: 1 | 3 | 4;
  readonly data: Uint8Array;
}

/**
 * A batch of images on the host, NHWC. A `Uint8Array`/`Uint8ClampedArray` holds uint8 pixels;
 * any other array holds floats in [-1, 1].
 * @category io
 */
export interface HostImages {
  readonly data: ArrayLike<number>;
  readonly shape: readonly [number, number, number, number];
}

/**
 * Images as accepted by {@link imageGrid} and the npz sample writer: a tfjs tensor `[N, H, W, C]`
 * (`float32` in [-1, 1], or `int32` already in 0..255), or {@link HostImages}.
 * @category io
 */
export type ImagesInput = tf.Tensor | HostImages;

/** Error for malformed image inputs or PNG files. @category io */
export class ImageError extends Error {
  override readonly name = 'ImageError';
}

const f = Math.fround;

/**
 * Converts model outputs in [-1, 1] to uint8 exactly as the official export does (spec §7.3,
 * gotcha 14): `(x + 1) / 2` → `clamp(255·x, 0, 255)` → cast to uint8, which **truncates**; each
 * step rounded to float32 as in PyTorch. NaN becomes 0.
 *
 * @example
 * toUint8([-1, 0, 1, 0.999])   // Uint8Array [0, 127, 255, 254]
 * @category io
 */
export function toUint8(x: ArrayLike<number>): Uint8Array {
  const n = x.length, out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = f(255 * f(f((x[i] as number) + 1) / 2));
    out[i] = v > 0 ? (v < 255 ? Math.trunc(v) : 255) : 0; // NaN → 0
  }
  return out;
}

/**
 * Reads an {@link ImagesInput} to host uint8 NHWC (floats converted with {@link toUint8};
 * int32 tensors clamped to 0..255). Creates no lasting tensors.
 * @category io
 */
export async function imagesToUint8(images: ImagesInput): Promise<{ readonly data: Uint8Array; readonly shape: readonly [number, number, number, number] }> {
  const shape = images.shape;
  if (shape.length !== 4) throw new ImageError(`images must be NHWC (rank 4), got shape [${shape.join(', ')}]`);
  const s = shape as unknown as readonly [number, number, number, number];
  if (images instanceof tf.Tensor) {
    if (images.dtype === 'float32') return { data: toUint8((await images.data()) as Float32Array), shape: s };
    if (images.dtype === 'int32') return { data: Uint8Array.from((await images.data()) as Int32Array, (v) => Math.min(255, Math.max(0, v))), shape: s };
    throw new ImageError(`images tensor must be float32 in [-1, 1] or int32 in 0..255, got ${images.dtype}`);
  }
  const n = s[0] * s[1] * s[2] * s[3];
  if (images.data.length !== n) throw new ImageError(`images: ${images.data.length} values for shape [${s.join(', ')}]`);
  if (images.data instanceof Uint8Array) return { data: images.data, shape: s };
  if (images.data instanceof Uint8ClampedArray) return { data: new Uint8Array(images.data.buffer, images.data.byteOffset, images.data.length), shape: s };
  return { data: toUint8(images.data), shape: s };
}

const colorType = { 1: 0, 3: 2, 4: 6 } as const;

/**
 * Encodes an 8-bit gray/RGB/RGBA image as PNG bytes.
 * @category io
 */
export function encodePng(img: Image): Uint8Array {
  const { width, height, channels, data } = img;
  if (!(channels === 1 || channels === 3 || channels === 4)) throw new ImageError(`encodePng: channels must be 1, 3 or 4, got ${String(channels)}`);
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new ImageError(`encodePng: bad size ${width}×${height}`);
  if (data.length !== width * height * channels) throw new ImageError(`encodePng: ${data.length} bytes for ${width}×${height}×${channels}`);
  const png = new PNG({ width, height });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const ct = colorType[channels];
  return new Uint8Array(PNG.sync.write(png, { colorType: ct, inputColorType: ct, inputHasAlpha: channels === 4, bitDepth: 8 }));
}

/**
 * Decodes PNG bytes (any colour type / bit depth pngjs reads; 16-bit is scaled to 8-bit) to an
 * {@link Image}. `channels` defaults to what the file holds: 1 for gray, 3 for colour, 4 with alpha.
 * @category io
 */
export function decodePng(bytes: Uint8Array, opts: { readonly channels?: 1 | 3 | 4; readonly file?: string } = {}): Image {
  let png;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new ImageError(`${opts.file ?? '<bytes>'}: not a readable PNG: ${(e as Error).message}`);
  }
  const { width, height } = png;
  const channels = opts.channels ?? (png.alpha ? 4 : png.color ? 3 : 1);
  const rgba = png.data, n = width * height, out = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++)
    if (channels === 1) out[i] = rgba[4 * i] as number;
    else for (let c = 0; c < channels; c++) out[channels * i + c] = rgba[4 * i + c] as number;
  return { width, height, channels, data: out };
}

/**
 * Writes an image as a PNG file atomically (`path.tmp-<pid>`, fsync, rename).
 * @category io
 */
export function writePng(path: string, img: Image): void {
  writeFileAtomic(path, encodePng(img));
}

/** Options of {@link imageGrid}: images per row (default 8), padding in pixels (default 2) and its uint8 value (default 0). @category io */
export interface GridOptions {
  readonly nrow?: number;
  readonly pad?: number;
  readonly padValue?: number;
}

/**
 * Tiles uint8 NHWC images into one image, `nrow` per row, with `pad` pixels around and between
 * them (torchvision `make_grid` layout): size `(rows·(H+pad)+pad) × (cols·(W+pad)+pad)`.
 * @category io
 */
export function gridImage(images: { readonly data: Uint8Array; readonly shape: readonly [number, number, number, number] }, opts: GridOptions = {}): Image {
  const [n, h, w, c] = images.shape;
  const nrow = opts.nrow ?? 8, pad = opts.pad ?? 2, padValue = opts.padValue ?? 0;
  if (!(c === 1 || c === 3 || c === 4)) throw new ImageError(`gridImage: channels must be 1, 3 or 4, got ${c}`);
  if (n < 1) throw new ImageError('gridImage: no images');
  if (!(Number.isInteger(nrow) && nrow >= 1 && Number.isInteger(pad) && pad >= 0)) throw new ImageError(`gridImage: bad nrow ${nrow} / pad ${pad}`);
  const cols = Math.min(nrow, n), rows = Math.ceil(n / cols);
  const W = cols * (w + pad) + pad, H = rows * (h + pad) + pad;
  const out = new Uint8Array(W * H * c).fill(padValue);
  for (let k = 0; k < n; k++) {
    const y0 = pad + Math.floor(k / cols) * (h + pad), x0 = pad + (k % cols) * (w + pad);
    for (let y = 0; y < h; y++) {
      const src = (k * h + y) * w * c;
      out.set(images.data.subarray(src, src + w * c), ((y0 + y) * W + x0) * c);
    }
  }
  return { width: W, height: H, channels: c, data: out };
}

/**
 * A PNG of a batch of images laid out as a grid: NHWC floats in [-1, 1] (converted like the
 * official export, truncating) or uint8 (`int32` tensors / `Uint8Array`s), `nrow` images per row.
 *
 * @example
 * writeFileSync('samples.png', await imageGrid(decoded, { nrow: 4 }))
 * @category io
 */
export async function imageGrid(images: ImagesInput, opts: GridOptions = {}): Promise<Uint8Array> {
  return encodePng(gridImage(await imagesToUint8(images), opts));
}
