/** @file The embedded default dataset: 10 classes of procedurally drawn colour images, a pure function of a key (no downloads). */
import { fold, uniformArray, type Key } from '../core/rng.js';
import type { Dataset } from './dataset.js';
import type { RgbImage } from './image.js';

/**
 * Class names of the synthetic dataset, in label order: five shapes (filled disk, square,
 * triangle, ring, plus sign), three textures (horizontal stripes, vertical stripes, checkerboard),
 * a two-colour diagonal split and a scatter of dots.
 * @category io
 */
export const syntheticClasses: readonly string[] = [
  'disk',
  'square',
  'triangle',
  'ring',
  'plus',
  'hstripes',
  'vstripes',
  'checker',
  'split',
  'dots',
];

/** Options of {@link syntheticDataset}. @category io */
export interface SyntheticOptions {
  /** Every image is a pure function of `fold(key, index)`. */
  readonly key: Key;
  /** Number of items (labels cycle `0, 1, …, 9, 0, …`, so classes are balanced). */
  readonly length: number;
  /** Image side in pixels (default 32). */
  readonly imageSize?: number;
}

const hsv = (h: number, s: number, v: number): [number, number, number] => {
  const i = Math.floor(h * 6) % 6, f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  const rgb: [number, number, number][] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]];
  return rgb[i] as [number, number, number];
};

/**
 * Draws one synthetic image of class `label` (see {@link syntheticClasses}) from `key`: random
 * position, size, rotation, stripe period and colours (foreground and background hues differ by at
 * least 90°, brightness contrast ≥ 0.3), a soft background gradient, 4×4 supersampled edges and a
 * little pixel noise. Deterministic: the same key and label give the same bytes everywhere.
 * @example
 * const img = drawSynthetic(rng.key(3), 2, 32)   // a 32×32 triangle
 * @category io
 */
export function drawSynthetic(key: Key, label: number, imageSize = 32): RgbImage {
  if (!(Number.isInteger(label) && label >= 0 && label < syntheticClasses.length))
    throw new RangeError(`drawSynthetic: label ${label} is not in 0..${syntheticClasses.length - 1}`);
  const S = imageSize;
  const u = uniformArray(key, 32);
  let k = 0;
  const r = (): number => u[k++] as number;
  // colours: background hue, foreground hue ≥ 90° away; one bright and one dark
  const hb = r(), hf = (hb + 0.25 + 0.5 * r()) % 1;
  const darkBg = r() < 0.5;
  const vb = darkBg ? 0.15 + 0.3 * r() : 0.7 + 0.3 * r();
  const vf = darkBg ? 0.75 + 0.25 * r() : 0.1 + 0.3 * r();
  const bg0 = hsv(hb, 0.3 + 0.5 * r(), vb), bg1 = hsv(hb, 0.3 + 0.5 * r(), Math.min(1, Math.max(0, vb + (r() - 0.5) * 0.2)));
  const fg = hsv(hf, 0.5 + 0.5 * r(), vf);
  const cx = S * (0.3 + 0.4 * r()), cy = S * (0.3 + 0.4 * r());
  const rad = S * (0.18 + 0.14 * r());
  const ang = (r() - 0.5) * (Math.PI / 4);
  const period = Math.max(3, S * (0.12 + 0.12 * r()));
  const phase = r() * period;
  const gradAng = r() * 2 * Math.PI;
  const splitAng = Math.PI / 4 + (r() - 0.5) * (Math.PI / 3) + (r() < 0.5 ? Math.PI : 0);
  const dots = Array.from({ length: 3 + Math.floor(r() * 3) }, () => [S * (0.15 + 0.7 * r()), S * (0.15 + 0.7 * r()), S * (0.06 + 0.05 * r())] as const);
  const ca = Math.cos(ang), sa = Math.sin(ang);
  const inside = (x: number, y: number): boolean => {
    const dx = x - cx, dy = y - cy;
    const rx = ca * dx + sa * dy, ry = -sa * dx + ca * dy; // rotated frame
    switch (label) {
      case 0: return dx * dx + dy * dy < rad * rad;
      case 1: return Math.abs(rx) < rad * 0.85 && Math.abs(ry) < rad * 0.85;
      case 2: {
        // upward triangle of circumradius rad in the rotated frame
        const h = ry + rad * 0.5; // 0 at the base, 1.5·rad at the apex
        return h > 0 && h < 1.5 * rad && Math.abs(rx) < (1.5 * rad - h) / Math.sqrt(3);
      }
      case 3: { const d2 = dx * dx + dy * dy; return d2 < rad * rad && d2 > (0.55 * rad) ** 2; }
      case 4: { const w = rad * 0.3; return (Math.abs(rx) < w && Math.abs(ry) < rad) || (Math.abs(ry) < w && Math.abs(rx) < rad); }
      case 5: return ((y + phase) % period) < period / 2;
      case 6: return ((x + phase) % period) < period / 2;
      case 7: return ((Math.floor((x + phase) / period) + Math.floor((y + phase) / period)) & 1) === 0;
      case 8: return (x - S / 2) * Math.cos(splitAng) + (y - S / 2) * Math.sin(splitAng) > 0;
      case 9: return dots.some(([px, py, pr]) => (x - px) ** 2 + (y - py) ** 2 < pr * pr);
      default: return false;
    }
  };
  const noise = uniformArray(fold(key, 0x6e6f), S * S * 3);
  const data = new Uint8Array(S * S * 3);
  const gx = Math.cos(gradAng), gy = Math.sin(gradAng);
  const SS = 4;
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      let cov = 0;
      for (let sy = 0; sy < SS; sy++) for (let sx = 0; sx < SS; sx++) if (inside(x + (sx + 0.5) / SS, y + (sy + 0.5) / SS)) cov++;
      const a = cov / (SS * SS);
      const t = 0.5 + (((x + 0.5) / S - 0.5) * gx + ((y + 0.5) / S - 0.5) * gy) * 0.7;
      for (let c = 0; c < 3; c++) {
        const bg = (bg0[c] as number) * (1 - t) + (bg1[c] as number) * t;
        const v = (fg[c] as number) * a + bg * (1 - a);
        const n = ((noise[(y * S + x) * 3 + c] as number) - 0.5) * 12;
        data[(y * S + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(v * 255 + n)));
      }
    }
  return { width: S, height: S, data };
}

/**
 * The embedded default dataset: `length` procedurally drawn `imageSize²` RGB images in 10
 * balanced classes ({@link syntheticClasses}); item `i` has label `i mod 10` and is drawn from
 * `fold(key, i)`, lazily. Lets the default job and the tests train offline on a fresh clone.
 * @example
 * const ds = syntheticDataset({ key: rng.key(0), length: 10_000 })
 * @category io
 */
export function syntheticDataset(opts: SyntheticOptions): Dataset {
  const n = opts.length, size = opts.imageSize ?? 32;
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`syntheticDataset: length must be a non-negative integer, got ${n}`);
  if (!(Number.isInteger(size) && size >= 4)) throw new RangeError(`syntheticDataset: imageSize must be an integer ≥ 4, got ${size}`);
  const check = (i: number): void => {
    if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new RangeError(`synthetic: index ${i} out of range [0, ${n})`);
  };
  return {
    name: `synthetic-${size}px`,
    length: n,
    classes: syntheticClasses,
    source: (i) => `synthetic#${i}`,
    label: (i) => {
      check(i);
      return i % syntheticClasses.length;
    },
    load: (i) => {
      check(i);
      return drawSynthetic(fold(opts.key, i), i % syntheticClasses.length, size);
    },
  };
}
