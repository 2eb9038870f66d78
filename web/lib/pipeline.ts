/** @file What the page computes: a VAE round trip with its latent PCA image, and class-conditional SiT samples. */
import { add, mul, sqrt } from '../../src/core/ops/elementwise.js';
import { read, tensor } from '../../src/core/ops/create.js';
import { fold, key, normal } from '../../src/core/rng.js';
import { dispose, tidy } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { toUint8 } from '../../src/io/png.js';
import { latentPcaImages } from '../../src/metrics/pca-image.js';
import { sitLabelRows } from '../../src/models/sit/config.js';
import { posteriorMode, vaeDecode, vaeDownsampling, vaeEncode } from '../../src/models/vae/index.js';
import { sitVelocityModel, type GuidanceOptions, type SamplerProgress } from '../../src/sample/cfg.js';
import { eulerSampler } from '../../src/sample/euler.js';
import { eulerMaruyamaSampler } from '../../src/sample/sde.js';
import { toModelInput, type RgbImage } from './images.js';
import type { SitModel, VaeModel } from './models.js';

/** The result of {@link reconstruct}: model values (HWC floats) and the images shown. */
export interface Reconstruction {
  /** The VAE input in [−1, 1], `[S, S, 3]`. */
  readonly input: Float32Array;
  /** The posterior mean, `[h, w, E]` with `h = S/f`. */
  readonly latent: Float32Array;
  readonly latentShape: readonly [number, number, number];
  /** The decoder output (unclamped), `[S, S, 3]`. */
  readonly output: Float32Array;
  readonly pca: RgbImage;
  readonly recon: RgbImage;
  readonly encodeMs: number;
  readonly decodeMs: number;
}

/**
 * Encodes `img` (square, side divisible by the VAE's downsampling) to the posterior mean and
 * decodes it again: `x̂ = decode(mode(encode(x)))`. Also returns the latent's PCA image, upsampled
 * to the image size.
 */
export async function reconstruct(vae: VaeModel, img: RgbImage, onStage: (stage: string) => void): Promise<Reconstruction> {
  const f = vaeDownsampling(vae.cfg), s = img.width;
  if (img.height !== s || s % f !== 0) throw new Error(`image must be square with a side divisible by ${f}, got ${img.width}×${img.height}`);
  const input = toModelInput(img);
  const x = tensor(input, [1, s, s, 3]);
  let z: T<never> | undefined, y: T<never> | undefined;
  try {
    onStage('encoding');
    let t0 = performance.now();
    z = tidy(() => posteriorMode(vaeEncode(vae.params, x)));
    const latent = await read(z);
    const encodeMs = performance.now() - t0;
    onStage('decoding');
    t0 = performance.now();
    y = vaeDecode(vae.params, z);
    const output = await read(y);
    const decodeMs = performance.now() - t0;
    const h = s / f, e = vae.cfg.embedDim;
    const [pca] = await latentPcaImages({ data: latent, shape: [1, h, h, e] }, { scale: f });
    if (pca === undefined) throw new Error('latentPcaImages returned no image');
    return { input, latent, latentShape: [h, h, e], output, pca, recon: { width: s, height: s, data: toUint8(output) }, encodeMs, decodeMs };
  } finally {
    dispose([x, z, y]);
  }
}

/** The samplers offered on the page. */
export type SamplerName = 'euler' | 'heun' | 'sde';

/** Options of {@link sampleImages}. */
export interface SampleOptions {
  readonly sampler: SamplerName;
  readonly steps: number;
  /** Classifier-free guidance scale (off when ≤ 1). */
  readonly cfgScale: number;
  readonly classLabel: number;
  readonly count: number;
  readonly seed: number;
  readonly onStep?: (p: SamplerProgress) => void;
  readonly onStage?: (stage: string) => void;
}

/** Why `sit` cannot sample images for `vae` (latent shape or label mismatch), or undefined when it can. */
export function incompatibility(sit: SitModel, vae: VaeModel, o: Pick<SampleOptions, 'cfgScale' | 'classLabel'>): string | undefined {
  if (sit.cfg.inChannels !== vae.cfg.embedDim)
    return `the SiT expects ${sit.cfg.inChannels}-channel latents but the VAE makes ${vae.cfg.embedDim}-channel ones`;
  if (!Number.isInteger(o.classLabel) || o.classLabel < 0 || o.classLabel >= sit.cfg.numClasses)
    return `class must be an integer in 0…${sit.cfg.numClasses - 1}`;
  if (o.cfgScale > 1 && sitLabelRows(sit.cfg) === sit.cfg.numClasses)
    return 'this SiT has no null class (class_dropout_prob = 0), so classifier-free guidance is unavailable: use scale 1';
  return undefined;
}

/**
 * Samples `count` images of class `classLabel`: noise `x_T ~ N(0, I)` from `seed`, the chosen
 * sampler on the SiT's velocity (guided when `cfgScale > 1`), then the official decode
 * `vae.decode(x₀/latents_scale + latents_bias)` with the statistics from the SiT's latent
 * BatchNorm (`latents_scale = running_var^(−1/2)`, `latents_bias = running_mean`).
 */
export async function sampleImages(sit: SitModel, vae: VaeModel, o: SampleOptions): Promise<RgbImage[]> {
  const why = incompatibility(sit, vae, o);
  if (why !== undefined) throw new Error(why);
  const { cfg } = sit;
  const side = cfg.inputSize * vaeDownsampling(vae.cfg);
  const k = key(o.seed);
  const model = sitVelocityModel(sit.weights.sit, cfg);
  const labels = new Array<number>(o.count).fill(o.classLabel);
  const guidance: { guidance?: GuidanceOptions } = o.cfgScale > 1 ? { guidance: { scale: o.cfgScale } } : {};
  const onStep = o.onStep === undefined ? {} : { onStep: o.onStep };
  const xT = normal(fold(k, 0), [o.count, cfg.inputSize, cfg.inputSize, cfg.inChannels]);
  let x0: T<never> | undefined, images: T<never> | undefined;
  try {
    o.onStage?.('sampling');
    x0 = o.sampler === 'sde'
      ? await eulerMaruyamaSampler(model, xT, labels, { numSteps: Math.max(2, o.steps), key: fold(k, 1), ...guidance, ...onStep })
      : await eulerSampler(model, xT, labels, { numSteps: o.steps, heun: o.sampler === 'heun', ...guidance, ...onStep });
    o.onStage?.('decoding');
    const bn = sit.weights.bn, z0 = x0;
    images = tidy(() => vaeDecode(vae.params, add(mul(z0, sqrt(bn.runningVar)), bn.runningMean)));
    const pixels = toUint8(await read(images));
    const n = side * side * 3;
    return Array.from({ length: o.count }, (_, i) => ({ width: side, height: side, data: pixels.slice(i * n, (i + 1) * n) }));
  } finally {
    dispose([xT, x0, images]);
  }
}
