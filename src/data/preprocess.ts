/** @file Host-side image preprocessing: PIL-exact BOX/BILINEAR/BICUBIC resampling of uint8 RGB, the ADM centre crop, and x/127.5 − 1. */
import { cast, div, sub } from '../core/ops/elementwise.js';
import { tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import type { RgbImage } from './image.js';

/** PIL resampling filters implemented by {@link resizePil}. @category transforms */
export type PilFilter = 'box' | 'bilinear' | 'bicubic';

const FILTERS: Record<PilFilter, { support: number; f: (x: number) => number }> = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, f: (x) => Math.max(0, 1 - Math.abs(x)) },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const ax = Math.abs(x);
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;

/** PIL `precompute_coeffs` + `normalize_coeffs_8bpc`: per output pixel its first input index and fixed-point weights. */
function coeffs(inSize: number, outSize: number, filter: PilFilter): { bounds: Int32Array; k: Int32Array; ksize: number } {
  const { support: s0, f } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = s0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const k = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = f((x + xmin - center + 0.5) * ss);
      ww += w[x] as number;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? (w[x] as number) / ww : (w[x] as number);
      k[xx * ksize + x] = Math.trunc(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, k, ksize };
}

const clip8 = (ss: number): number => {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/**
 * Resizes a uint8 RGB image exactly as Pillow's `Image.resize((w, h), resample)` does for RGB
 * images (Pillow ≥ 7 `ImagingResample`): separable, horizontal pass first, 22-bit fixed-point
 * weights, each pass rounded and clipped to uint8; the filter support grows with the scale when
 * downsampling (antialiasing). A pass whose size is unchanged is skipped.
 * @example
 * resizePil(img, 128, 128, 'box')   // 2×2 block means, rounded
 * @category transforms
 */
export function resizePil(img: RgbImage, width: number, height: number, filter: PilFilter): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new RangeError(`resizePil: target size must be positive integers, got ${width}x${height}`);
  let cur = img;
  if (width !== cur.width) {
    const { bounds, k, ksize } = coeffs(cur.width, width, filter);
    const out = new Uint8Array(width * cur.height * 3);
    const src = cur.data;
    for (let y = 0; y < cur.height; y++) {
      const row = y * cur.width * 3;
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2] as number, xmax = bounds[xx * 2 + 1] as number;
        for (let c = 0; c < 3; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xmax; x++) ss += (src[row + (x + xmin) * 3 + c] as number) * (k[xx * ksize + x] as number);
          out[(y * width + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    cur = { width, height: cur.height, data: out };
  }
  if (height !== cur.height) {
    const { bounds, k, ksize } = coeffs(cur.height, height, filter);
    const out = new Uint8Array(cur.width * height * 3);
    const src = cur.data;
    const stride = cur.width * 3;
    for (let yy = 0; yy < height; yy++) {
      const ymin = bounds[yy * 2] as number, ymax = bounds[yy * 2 + 1] as number;
      for (let j = 0; j < stride; j++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let y = 0; y < ymax; y++) ss += (src[(y + ymin) * stride + j] as number) * (k[yy * ksize + y] as number);
        out[yy * stride + j] = clip8(ss);
      }
    }
    cur = { width: cur.width, height, data: out };
  }
  return cur === img ? { width: img.width, height: img.height, data: img.data.slice() } : cur;
}

/** Python 3 `round()`: half to even. */
const roundHalfEven = (x: number): number => {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** Crops the `w × h` window at `(left, top)`. @category transforms */
export function crop(img: RgbImage, left: number, top: number, w: number, h: number): RgbImage {
  if (left < 0 || top < 0 || left + w > img.width || top + h > img.height)
    throw new RangeError(`crop: window ${w}x${h} at (${left}, ${top}) is outside the ${img.width}x${img.height} image`);
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((top + y) * img.width + left) * 3, ((top + y) * img.width + left + w) * 3), y * w * 3);
  return { width: w, height: h, data: out };
}

/**
 * The ADM centre crop (official `center_crop_arr`, spec §5.8): while the shorter side is ≥ 2·size,
 * halve the image with PIL's BOX filter (`size // 2` per side); then PIL BICUBIC-resize so the
 * shorter side is `size` (other side `round(side·scale)`, Python rounding); then take the centre
 * `size × size` window at offsets `⌊(side − size)/2⌋`. Bit-exact with Pillow on uint8 RGB.
 * @example
 * const x = centerCrop(decodeImage(bytes, f), 256)   // 256×256 RGB
 * @category transforms
 */
export function centerCrop(img: RgbImage, size: number): RgbImage {
  let cur = img;
  while (Math.min(cur.width, cur.height) >= 2 * size) cur = resizePil(cur, Math.floor(cur.width / 2), Math.floor(cur.height / 2), 'box');
  const scale = size / Math.min(cur.width, cur.height);
  const w = roundHalfEven(cur.width * scale), h = roundHalfEven(cur.height * scale);
  if (w !== cur.width || h !== cur.height) cur = resizePil(cur, w, h, 'bicubic');
  return crop(cur, Math.floor((cur.width - size) / 2), Math.floor((cur.height - size) / 2), size, size);
}

/**
 * The VAE input transform `x/127.5 − 1` (spec §5.5): `images` in 0…255 (int32 or float32, any
 * shape) → float32 in [−1, 1].
 * @example
 * const x = toSignedUnit(batch.images)   // [B, H, W, 3] in [-1, 1]
 * @category transforms
 */
export function toSignedUnit<G extends string>(images: T<G>): T<G> {
  return tidy(() => sub(div(cast(images, 'float32'), 127.5), 1));
}
