/** @file PyTorch-exact bicubic resampling (plain and antialiased) as per-axis weight matrices, applied on the host or with ops. */
import { matMul } from '../../core/ops/linalg.js';
import { tensor } from '../../core/ops/create.js';
import { reshape } from '../../core/ops/shape.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';

/** Options of {@link bicubicWeights}. @category transforms */
export interface BicubicOptions {
  /**
   * `false` (default): PyTorch `interpolate(mode='bicubic', align_corners=False)`, cubic
   * coefficient a = −0.75, 4 taps, borders replicated.
   * `true`: PyTorch `interpolate(..., antialias=True)` (and timm `resample_abs_pos_embed`): a = −0.5
   * (PIL's kernel), support widened by the scale when downsampling, weights renormalised at borders.
   */
  readonly antialias?: boolean;
}

const cubic1 = (x: number, a: number): number => ((a + 2) * x - (a + 3)) * x * x + 1;
const cubic2 = (x: number, a: number): number => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
const cubic = (x: number, a: number): number => {
  const ax = Math.abs(x);
  return ax < 1 ? cubic1(ax, a) : ax < 2 ? cubic2(ax, a) : 0;
};

/**
 * The `[outSize, inSize]` matrix `M` of a 1-D bicubic resize (`y = M·x`), with the sizes given
 * (scale = in/out, `align_corners=False`).
 *
 * Plain (PyTorch `upsample_bicubic2d`): source coordinate `s = (i + ½)·in/out − ½`, taps at
 * `⌊s⌋ − 1 … ⌊s⌋ + 2` clamped to the border, weights from Keys' cubic with a = −0.75.
 * Antialiased (PyTorch `_upsample_bicubic2d_aa`): centre `(i + ½)·scale`, support `2·max(scale, 1)`,
 * kernel a = −0.5 evaluated at `(j − centre + ½)/max(scale, 1)`, normalised to sum 1.
 *
 * @example
 * bicubicWeights(4, 2)   // rows [-0.09375, 0.59375, 0.59375, -0.09375]·clamp … → [1.40625, 3.59375] for x = [1, 2, 3, 4]
 * @category transforms
 */
export function bicubicWeights(inSize: number, outSize: number, opts: BicubicOptions = {}): Float64Array {
  if (!(Number.isInteger(inSize) && Number.isInteger(outSize) && inSize > 0 && outSize > 0))
    throw new RangeError(`bicubicWeights: sizes must be positive integers, got ${inSize} -> ${outSize}`);
  const m = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  if (opts.antialias === true) {
    const support = scale >= 1 ? 2 * scale : 2;
    const invscale = scale >= 1 ? 1 / scale : 1;
    for (let i = 0; i < outSize; i++) {
      const center = scale * (i + 0.5);
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xsize = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
      let total = 0;
      const w = new Float64Array(xsize);
      for (let j = 0; j < xsize; j++) {
        w[j] = cubic((j + xmin - center + 0.5) * invscale, -0.5);
        total += w[j] as number;
      }
      for (let j = 0; j < xsize; j++) m[i * inSize + xmin + j] = total !== 0 ? (w[j] as number) / total : 0;
    }
  } else {
    const a = -0.75;
    for (let i = 0; i < outSize; i++) {
      const real = scale * (i + 0.5) - 0.5;
      const x0 = Math.floor(real);
      const t = real - x0;
      const ws = [cubic2(t + 1, a), cubic1(t, a), cubic1(1 - t, a), cubic2(2 - t, a)];
      for (let k = 0; k < 4; k++) {
        const idx = Math.min(Math.max(x0 - 1 + k, 0), inSize - 1);
        m[i * inSize + idx] = (m[i * inSize + idx] as number) + (ws[k] as number);
      }
    }
  }
  return m;
}

/**
 * Separable resize of a host array `data: [H, W, C]` (row-major) to `[outH, outW, C]` with the
 * row matrix `wy: [outH, H]` and column matrix `wx: [outW, W]` (e.g. from {@link bicubicWeights}),
 * in float64. Used at load time (position-embedding tables) and for reference values.
 * @category transforms
 */
export function resizeHost(
  data: ArrayLike<number>,
  shape: readonly [number, number, number],
  wy: Float64Array,
  wx: Float64Array,
): Float64Array {
  const [h, w, c] = shape;
  const oh = wy.length / h, ow = wx.length / w;
  if (!Number.isInteger(oh) || !Number.isInteger(ow)) throw new RangeError(`resizeHost: weight matrices do not fit [${shape.join(', ')}]`);
  const tmp = new Float64Array(oh * w * c);
  for (let i = 0; i < oh; i++)
    for (let y = 0; y < h; y++) {
      const k = wy[i * h + y] as number;
      if (k === 0) continue;
      for (let j = 0; j < w * c; j++) tmp[i * w * c + j] = (tmp[i * w * c + j] as number) + k * (data[y * w * c + j] as number);
    }
  const out = new Float64Array(oh * ow * c);
  for (let i = 0; i < oh; i++)
    for (let j = 0; j < ow; j++)
      for (let x = 0; x < w; x++) {
        const k = wx[j * w + x] as number;
        if (k === 0) continue;
        for (let ch = 0; ch < c; ch++) {
          const o = (i * ow + j) * c + ch;
          out[o] = (out[o] as number) + k * (tmp[(i * w + x) * c + ch] as number);
        }
      }
  return out;
}

/**
 * Bicubic resize of an NHWC tensor `x: [N, H, W, C]` to `[N, outH, outW, C]`, exactly PyTorch's
 * `interpolate(x, size, mode='bicubic', align_corners=False[, antialias])` (output not clamped),
 * computed as two batched matrix products with {@link bicubicWeights}, so it runs on every backend
 * and is differentiable.
 *
 * @example
 * const y = resizeBicubic(x, [224, 224])   // DINOv2 preprocessing, 256 → 224
 * @category transforms
 */
export function resizeBicubic<G extends string>(x: T<G>, size: readonly [number, number], opts: BicubicOptions = {}): T<G> {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [oh, ow] = size;
  if (oh === h && ow === w && opts.antialias !== true) {
    // identity weights; keep a fresh tensor so callers may dispose input and output independently
    return tidy(() => reshape(x, [n, h, w, c]));
  }
  return tidy(() => {
    const wy = tensor(Float32Array.from(bicubicWeights(h, oh, opts)), [1, oh, h]);
    const wx = tensor(Float32Array.from(bicubicWeights(w, ow, opts)), [1, ow, w]);
    // rows: [N, H, W·C] → [N, oh, W·C]
    const r = matMul(wy, reshape(x, [n, h, w * c]));
    // columns: [N·oh, W, C] → [N·oh, ow, C]
    const s = matMul(wx, reshape(r, [n * oh, w, c]));
    return reshape(s, [n, oh, ow, c]);
  });
}
