/**
 * @file Procedural VGG16 weights for LPIPS (golden README, "Procedural VGG16 weights"): a
 * bit-exactly reproducible integer hash stands in for the 59 MB pretrained trunk in tests and demos.
 */
import { tensor } from '../core/ops/create.js';
import { transpose } from '../core/ops/shape.js';
import { tidy } from '../core/scope.js';
import { VGG16_CONVS, type Vgg16FeaturesParams } from './lpips.js';

/**
 * The golden fixtures' 32-bit integer hash of a 1-based flat index `j` and a seed (a murmur3-style
 * finaliser). Bit-exact with the Python generator.
 * @category constructors
 */
export function hashU32(j: number, seed: number): number {
  let x = (Math.imul(j, 0x9e3779b1) + Math.imul(seed, 0x85ebca77)) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Seed, bound and PyTorch shape of one procedural tensor. @category constructors */
export interface ProceduralSpec {
  readonly seed: number;
  readonly bound: number;
  readonly shape: readonly number[];
}

/**
 * The procedural tensor for `spec`: `w[i] = fround((2·((hash(i+1, seed) >>> 8)/2^24) − 1)·bound)`
 * over the row-major PyTorch shape (`[out, in, 3, 3]` or `[out]`).
 * @category constructors
 */
export function proceduralValues(spec: ProceduralSpec): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround((2 * ((hashU32(i + 1, spec.seed) >>> 8) / 16777216) - 1) * spec.bound);
  return out;
}

/**
 * The hash spec of every VGG16 trunk tensor, keyed `slice{s}.{index}.{weight|bias}` as in
 * `losses.json → config.lpips.vgg_hash_spec`: `seed = 2·index + (bias ? 1 : 0)`,
 * `bound = bias ? 0.1 : √(6/(in·3·3))`.
 * @category constructors
 */
export function vgg16HashSpec(): Record<string, ProceduralSpec> {
  const out: Record<string, ProceduralSpec> = {};
  for (const c of VGG16_CONVS) {
    out[`slice${c.slice}.${c.index}.weight`] = { seed: 2 * c.index, bound: Math.sqrt(6 / (c.inCh * 9)), shape: [c.outCh, c.inCh, 3, 3] };
    out[`slice${c.slice}.${c.index}.bias`] = { seed: 2 * c.index + 1, bound: 0.1, shape: [c.outCh] };
  }
  return out;
}

/**
 * The procedural VGG16 trunk (14.7 M parameters) as LPIPS `net` parameters, kernels transposed to
 * `[3, 3, in, out]`. `spec` defaults to {@link vgg16HashSpec}; pass a fixture's `vgg_hash_spec` to
 * follow it exactly.
 *
 * @example
 * const lp = { net: proceduralVgg16(), lin, ...initLpipsScaling() }
 * @category constructors
 */
export function proceduralVgg16(spec: Readonly<Record<string, ProceduralSpec>> = vgg16HashSpec()): Vgg16FeaturesParams<never> {
  const get = (k: string): ProceduralSpec => {
    const s = spec[k];
    if (s === undefined) throw new Error(`proceduralVgg16: spec has no entry '${k}'`);
    return s;
  };
  const slices = [1, 2, 3, 4, 5].map((s) =>
    VGG16_CONVS.filter((c) => c.slice === s).map((c) => {
      const ws = get(`slice${s}.${c.index}.weight`);
      const bs = get(`slice${s}.${c.index}.bias`);
      const w = tidy(() => transpose(tensor(proceduralValues(ws), ws.shape), [2, 3, 1, 0]));
      return { w, b: tensor(proceduralValues(bs), bs.shape) };
    }),
  );
  return { slices };
}
