/** @file Evaluates a run's state: samples, reconstructions, latent structure, alignment and Fréchet distance. */
import { fold, normal, type Key } from '../core/rng.js';
import { releaseOld, tidy } from '../core/scope.js';
import { toTensor, type T } from '../core/tensor.js';
import { add, clip, concat, full, head, mean as meanOp, mul, read, reshape } from '../core/ops/index.js';
import type { Dataset } from '../data/dataset.js';
import { imageGrid } from '../io/png.js';
import { cknna } from '../metrics/cknna.js';
import { fid } from '../metrics/fid.js';
import { spatialVariance, totalVariation } from '../metrics/latent.js';
import { latentPcaPng } from '../io/pca-png.js';
import { reconstructionMetrics } from '../metrics/recon.js';
import { sitTrunk } from '../models/sit/forward.js';
import { batchNorm } from '../nn/batch-norm.js';
import { sitBnConfig } from '../models/sit/params.js';
import { vaeDecode, vaeEncode } from '../models/vae/index.js';
import { eulerSampler, sitVelocityModel } from '../sample/index.js';
import { decodeLatents } from './loop.js';
import { batchAt, type RunEncoder, type RunSetup } from './run.js';
import type { RepaeState } from '../repae/step.js';
import { judgeAccuracy, judgeLabels, type Judge } from './judge.js';

/** Numbers of an evaluation (see {@link evaluateRun}). @category metrics */
export interface RunEvaluation {
  /** Latent spatial variance of posterior means, normalised with the latent BN (paper Table 10). */
  readonly spatialVariance: number;
  /** Latent total variation, same latents. */
  readonly totalVariation: number;
  readonly psnr: number;
  readonly ssim: number;
  /** CKNNA between SiT hidden states (block encoder_depth, t = 0.5) and encoder features. */
  readonly cknna: number;
  /** Fréchet distance between encoder features (token-averaged) of generated and real images. */
  readonly fd: number;
  readonly samplesPng: Uint8Array;
  readonly reconPng: Uint8Array;
  readonly pcaPng: Uint8Array;
  /** With a judge ({@link evaluateRun}'s `judge`): the fraction of images it assigns to their intended class. */
  readonly judged?: JudgedAccuracy;
}

/** What the judge says about a run (fractions in [0, 1]). @category metrics */
export interface JudgedAccuracy {
  /** On the EMA samples: the class each was generated for. */
  readonly samples: number;
  /** Per class, on the samples. */
  readonly samplesPerClass: readonly number[];
  /** On the VAE reconstructions of the held-out images: their true class. */
  readonly reconstructions: number;
  /** On the same held-out images themselves (the judge's ceiling on this data). */
  readonly real: number;
  readonly nSamples: number;
  readonly nReconstructions: number;
}

/** Options of {@link evaluateRun}. @category metrics */
export interface EvaluateOptions {
  /** Held-out batches for reconstructions, latent statistics and CKNNA (default 4). */
  readonly nBatches?: number;
  /** Class-balanced EMA samples (default 4 per class). */
  readonly nSamples?: number;
  /** Euler steps (default 50) and CFG scale (default 4, on all of [0, 1]). */
  readonly steps?: number;
  readonly cfgScale?: number;
  readonly key?: Key;
  /** `false`: no samples and no Fréchet distance (`fd` is NaN). */
  readonly samples?: boolean;
  readonly judge?: Judge;
  /** Real images the Fréchet distance compares with: at least the held-out batches, up to `fdReal` of the data set (default 0: the held-out batches only). */
  readonly fdReal?: number;
}

/** Samples drawn (and decoded, featurised, judged) per chunk. */
const SAMPLE_CHUNK = 250;

/** Token-averaged encoder features of `n` real images (held-out order), reusing `first`'s rows (the held-out batches' features) and adding batches of the data set up to `n`. */
async function realFeatures(data: Dataset, heldSetup: RunSetup, enc: RunEncoder, first: T<never>, n: number): Promise<T<never>> {
  const have = first.shape[0] as number;
  const parts: T<never>[] = [tidy(() => meanOp(first, 1))];
  const bs = heldSetup.cfg.batchSize, nb = Math.min(Math.ceil(n / bs), Math.floor(data.length / bs));
  for (let b = Math.ceil(have / bs); b < nb; b++) {
    const batch = batchAt(data, heldSetup, b);
    parts.push(tidy(() => meanOp(enc.features(batch.pixels, batch.x), 1)));
    releaseOld(batch, null);
  }
  const out = concat(parts);
  releaseOld(parts, null);
  return out;
}

/**
 * Evaluates `s` on `nBatches` held-out batches (data order from a separate key) and `nSamples`
 * EMA samples (Euler, `steps`, CFG `cfgScale` on [0, 1], class-balanced); `samples: false` skips
 * sampling and the Fréchet distance (then `fd` is NaN).
 * @category metrics
 */
export async function evaluateRun(s: RepaeState, setup: RunSetup, data: Dataset, enc: RunEncoder, o: EvaluateOptions = {}): Promise<RunEvaluation> {
  const key = o.key ?? fold(setup.stepKey, 99991);
  const heldSetup = { ...setup, dataKey: fold(setup.dataKey, 4711) };
  const nb = o.nBatches ?? 4;
  const labels: number[] = [];
  const xs: T<never>[] = [], xhats: T<never>[] = [], means: T<never>[] = [], hidden: T<never>[] = [], feats: T<never>[] = [];
  for (let b = 0; b < nb; b++) {
    const batch = batchAt(data, heldSetup, b);
    const [mean, xHat, h, f] = tidy(() => {
      const post = vaeEncode(s.store.vae, batch.x);
      const xn = batchNorm(s.bn, post.mean, 'eval', sitBnConfig(setup.sit));
      const n = batch.x.shape[0] as number;
      const noise = normal(fold(key, b), xn.shape);
      const t = full([n, 1, 1, 1], 0.5);
      const xt = add(mul(xn, 0.5), mul(noise, 0.5));
      return [xn, clip(vaeDecode(s.store.vae, post.mean), -1, 1), sitTrunk(s.store.sit, xt, reshape(t, [n]), batch.y, setup.sit), enc.features(batch.pixels, batch.x)];
    });
    labels.push(...await read(batch.y));
    xs.push(batch.x); xhats.push(xHat); means.push(mean); hidden.push(h); feats.push(f);
    releaseOld([batch.pixels, batch.y], null);
  }
  const cat = (ts: T<never>[]): T<never> => concat(ts);
  const [X, XH, M, H, F] = [cat(xs), cat(xhats), cat(means), cat(hidden), cat(feats)];
  const sv = (await spatialVariance(M)).mean, tv = (await totalVariation(M)).mean;
  const rec = await reconstructionMetrics(X, XH);
  const align = await cknna(H, F, { topk: Math.min(10, (X.shape[0] as number) - 2) });
  const nShow = Math.min(16, X.shape[0] as number);
  const pair = tidy(() => concat([head(X, nShow), head(XH, nShow)]));
  const reconPng = await imageGrid(toTensor(pair), { nrow: nShow });
  const mShow = head(M, nShow);
  const pcaPng = await latentPcaPng(mShow, { nrow: nShow });
  releaseOld(mShow, null);
  if (o.samples === false) {
    releaseOld([xs, xhats, means, hidden, feats, X, XH, M, H, F, pair], null);
    return { spatialVariance: sv, totalVariation: tv, psnr: rec.psnr.mean, ssim: rec.ssim.mean, cknna: align, fd: NaN, samplesPng: new Uint8Array(), reconPng, pcaPng };
  }
  // Samples from the EMA model, decoded through the EMA BN statistics (official generate.py), in
  // chunks of SAMPLE_CHUNK (memory stays bounded for thousands of samples).
  const nc = setup.sit.numClasses, ns = o.nSamples ?? 4 * nc;
  const y = Array.from({ length: ns }, (_, i) => i % nc);
  const nGrid = Math.min(ns, 8 * nc);
  const gen: T<never>[] = [], shown: T<never>[] = [];
  const pred: number[] = [];
  for (let lo = 0; lo < ns; lo += SAMPLE_CHUNK) {
    const n = Math.min(SAMPLE_CHUNK, ns - lo);
    const xT = normal(fold(fold(key, 7), lo), [n, setup.sit.inputSize, setup.sit.inputSize, setup.sit.inChannels]);
    const x0 = await eulerSampler(sitVelocityModel(s.ema.sit, setup.sit), xT, y.slice(lo, lo + n), { numSteps: o.steps ?? 50, guidance: { scale: o.cfgScale ?? 4, low: 0, high: 1 } });
    const imgs = decodeLatents(x0, s.ema.bn, s.store.vae);
    if (lo < nGrid) shown.push(head(imgs, Math.min(n, nGrid - lo)));
    gen.push(tidy(() => meanOp(enc.features(mul(add(imgs, 1), 127.5), imgs), 1)));
    if (o.judge !== undefined) pred.push(...await judgeLabels(o.judge, imgs));
    releaseOld([xT, x0, imgs], null);
  }
  const grid = concat(shown);
  const samplesPng = await imageGrid(toTensor(grid), { nrow: nc });
  const genFeats = concat(gen);
  const realFeats = await realFeatures(data, heldSetup, enc, F, o.fdReal ?? 0);
  const fd = await fid(genFeats, realFeats);
  let judged: JudgedAccuracy | undefined;
  if (o.judge !== undefined) {
    const perClass = Array.from({ length: nc }, (_, c) => {
      const idx = y.flatMap((yc, i) => (yc === c ? [i] : []));
      return idx.length === 0 ? NaN : idx.filter((i) => pred[i] === c).length / idx.length;
    });
    judged = {
      samples: y.filter((c, i) => pred[i] === c).length / ns, samplesPerClass: perClass,
      reconstructions: await judgeAccuracy(o.judge, XH, labels), real: await judgeAccuracy(o.judge, X, labels),
      nSamples: ns, nReconstructions: labels.length,
    };
  }
  releaseOld([xs, xhats, means, hidden, feats, X, XH, M, H, F, pair, shown, grid, gen, genFeats, realFeats], null);
  return { spatialVariance: sv, totalVariation: tv, psnr: rec.psnr.mean, ssim: rec.ssim.mean, cknna: align, fd, samplesPng, reconPng, pcaPng, ...(judged === undefined ? {} : { judged }) };
}
