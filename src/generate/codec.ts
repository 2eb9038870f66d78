/** @file Batched VAE encoding of host uint8 images and decoding of latents back to host uint8 images (NHWC). */
import { toTensor } from '../core/tensor.js';
import { tensor } from '../core/ops/index.js';
import type { Key } from '../core/rng.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { toSignedUnit } from '../data/preprocess.js';
import { imagesToUint8 } from '../io/png.js';
import { posteriorMode, posteriorSample, vaeDecode, vaeEncode } from '../models/vae/index.js';
import type { VaeParams } from '../models/vae/params.js';
import { denormalizeLatents, normalizeLatents, type LatentStats } from './models.js';

/** Host uint8 images `[N, H, W, 3]` as an int32 tensor holding 0…255 (tfjs has no uint8). @category io */
export const uint8Tensor = (pixels: Uint8Array, shape: readonly [number, number, number, number]): T<never> =>
  tensor(Int32Array.from(pixels), shape, 'int32');

/** Options of {@link encodeImages}. @category io */
export interface EncodeOptions {
  /** `mean` (default: the posterior mode, for analysis) or `sample` (`mean + std·ε`, as training does; needs `key`). */
  readonly mode?: 'mean' | 'sample';
  readonly key?: Key;
  /** Normalise with these statistics: `(z − bias)·scale` (what the SiT sees). */
  readonly normalize?: LatentStats;
}

/**
 * Encodes uint8 images `[N, H, W, 3]` (host) to latents `[N, H/f, W/f, E]`: `x/127.5 − 1` →
 * `AutoencoderKL.encode` → posterior mean (or a sample) → optionally normalised. Returns a tensor;
 * nothing else survives.
 * @category io
 */
export function encodeImages(vae: VaeParams<never>, pixels: Uint8Array, shape: readonly [number, number, number, number], opts: EncodeOptions = {}): T<never> {
  const img = uint8Tensor(pixels, shape);
  try {
    return tidy(() => {
      const post = vaeEncode(vae, toSignedUnit(img));
      let z: T<never>;
      if (opts.mode === 'sample') {
        if (opts.key === undefined) throw new Error('encodeImages: mode sample needs a key');
        z = posteriorSample(post, { key: opts.key });
      } else z = posteriorMode(post);
      return opts.normalize === undefined ? z : normalizeLatents(z, opts.normalize);
    });
  } finally {
    dispose(img);
  }
}

/**
 * Decodes latents `z: [N, h, w, E]` (normalised ones when `denormalize` is given: `z/scale + bias`
 * first) to host uint8 images `[N, h·f, w·f, 3]`, converted by truncation like `generate.py`.
 * @category io
 */
export async function decodeToUint8(vae: VaeParams<never>, z: T<never>, denormalize?: LatentStats): Promise<{ readonly data: Uint8Array; readonly shape: readonly [number, number, number, number] }> {
  const img = tidy(() => vaeDecode(vae, denormalize === undefined ? z : denormalizeLatents(z, denormalize)));
  try {
    return await imagesToUint8(toTensor(img));
  } finally {
    dispose(img);
  }
}

/** Decodes latents to float images `[N, H, W, 3]` in ≈[−1, 1] (not clamped), as a tensor. @category io */
export const decodeImages = (vae: VaeParams<never>, z: T<never>, denormalize?: LatentStats): T<never> =>
  tidy(() => vaeDecode(vae, denormalize === undefined ? z : denormalizeLatents(z, denormalize)));
