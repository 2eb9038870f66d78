/**
 * @file A REPA-E run from a {@link RunConfig}: models, data, frozen encoder, latent statistics, and
 * the checkpoint sections (official state-dict names) a run saves and resumes from.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cifarPngDataset } from '../data/cifar-png.js';
import { fold, key as mkKey, split, type Key } from '../core/rng.js';
import { releaseOld, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { defineRegistry } from '../core/grad.js';
import type { Registry } from '../core/groups.js';
import { softmaxCrossEntropy } from '../losses/classification.js';
import { adamw, updateParams } from '../optim/optim.js';
import { argMax, cast, concat, div, equal, full, intTensor, mean, moments, read, readScalar, sub, tensor as mkTensor } from '../core/ops/index.js';
import { dispose } from '../core/scope.js';
import { flatten, isTensor, leafTree, unflatten } from '../core/tree.js';
import { epochOrder, type Dataset } from '../data/dataset.js';
import { DataError } from '../data/image.js';
import { openImageFolder, openTarImageFolder } from '../data/image-folder.js';
import { syntheticDataset } from '../data/synthetic.js';
import { CheckpointError, loadCheckpoint, latestCheckpoint, requireDtypes, saveCheckpoint, type CheckpointSections, type Json, type JsonObject } from '../io/checkpoint.js';
import type { SafeEntry, SafeFile, SafeWriteEntry } from '../io/safetensors.js';
import { discriminatorFromStateDict, discriminatorToStateDict } from '../io/statedict/discriminator.js';
import { sitFromStateDict, sitToStateDict } from '../io/statedict/sit.js';
import { vaeFromStateDict, vaeToStateDict } from '../io/statedict/vae.js';
import { L1_LPIPS_KL_GAN, type VaeLossConfig } from '../losses/vae.js';
import { initDiscriminator, initDiscriminatorState, type DiscriminatorConfig } from '../models/discriminator.js';
import { checkTokenMatch, type EncoderSpec } from '../models/encoders/encoder.js';
import { mobilenetFeatures, mobilenetSpec, type MobilenetLayer } from '../models/encoders/mobilenet.js';
import { loadMobilenet } from '../io/statedict/mobilenet.js';
import { initTinyCnn, tinyCnnFeatures, tinyCnnSpec, type TinyCnnParams } from '../models/encoders/tiny-cnn.js';
import { initLpipsScaling, type LpipsParams } from '../models/lpips.js';
import { proceduralVgg16 } from '../models/lpips-procedural.js';
import { customSitConfig, sitTokens, type SitConfig } from '../models/sit/config.js';
import { initSit, latentBnFromStats, type SitWeights } from '../models/sit/params.js';
import { vaeConfig, vaeDownsampling, type VaeConfig } from '../models/vae/config.js';
import { initVae, type VaeParams } from '../models/vae/params.js';
import { posteriorSample, vaeEncode } from '../models/vae/index.js';
import { emaInit } from '../optim/ema.js';
import { ConfigError, type RunConfig } from './config.js';
import type { EncoderWeights, RepaeFamilies } from '../repae/registry.js';
import type { Coefficients } from '../repae/routing.js';
import { initRepaeOpt, REPAE_LABELS, type StepMode, type RepaeParams, type RepaeState, type RepaeStepConfig, type RepaeTrainable } from '../repae/step.js';

/** The widths of the built-in tiny CNN (the REPA encoder, and the judge). */
const TINY_CNN_WIDTHS = [32, 64, 64, 96] as const;

/** A frozen representation encoder as the loop uses it. @category models */
export interface RunEncoder {
  readonly spec: EncoderSpec;
  /** Targets `[N, T, D]` from uint8-valued pixels `[N, H, W, 3]` (float) and the same images in [−1, 1]. */
  readonly features: (pixels: T<never>, x: T<never>) => T<never>;
  /** Its weights as a tree (stored in the `enc` group and in checkpoints when trained here). */
  readonly weights: EncoderWeights<never>;
  /** How it came to be (printed in the report). */
  readonly origin: string;
}

/** The static parts of a run derived from its config. @category models */
export interface RunSetup {
  readonly cfg: RunConfig;
  readonly sit: SitConfig;
  readonly vae: VaeConfig;
  readonly disc: DiscriminatorConfig;
  readonly loss: VaeLossConfig;
  readonly step: RepaeStepConfig;
  readonly dataKey: Key;
  readonly stepKey: Key;
}

/** Opens the dataset named by `cfg.dataDir`: `builtin:shapes[:N]`, an image folder, or a `.tar.gz` of one. @category io */
export function openDataset(cfg: RunConfig): Dataset {
  const d = cfg.dataDir;
  if (d.startsWith('cifar-png:')) {
    // cifar-png:<dir>:<k0,k1,...> — ConvNetJS-style CIFAR strips cifar10_batch_<k>.png + cifar10_labels.js
    const [, dir, ks] = d.split(':');
    const files = (ks ?? '0,1,2,3').split(',').map((k) => join(dir as string, `cifar10_batch_${k}.png`));
    return cifarPngDataset({ files, labels: join(dir as string, 'cifar10_labels.js') });
  }
  if (d.startsWith('builtin:shapes')) {
    const n = Number(d.split(':')[2] ?? 4000);
    if (!(d === 'builtin:shapes' || /^builtin:shapes:\d+$/.test(d)) || !Number.isSafeInteger(n) || n < 1) throw new ConfigError(`--data-dir: '${d}' is not builtin:shapes or builtin:shapes:N (N a positive number of images)`);
    return syntheticDataset({ key: mkKey(cfg.seed + 7919), length: n, imageSize: cfg.resolution });
  }
  if (!existsSync(d)) throw new ConfigError(`--data-dir: '${d}' does not exist (use builtin:shapes, an image folder with one subfolder per class, or a .tar.gz of one)`);
  if (statSync(d).isDirectory()) return openImageFolder(d);
  if (/\.(tar\.gz|tgz|tar)$/.test(d)) return openTarImageFolder(d);
  throw new ConfigError(`--data-dir: '${d}' is neither a folder nor a .tar/.tar.gz archive`);
}

/**
 * Checks a run config against its dataset before any work starts, each error naming the flag and
 * the rule: `--batch-size` not larger than the dataset, the dataset's classes within
 * `--num-classes`, the first image readable and `--resolution` square, and (for the built-in
 * encoder, whose grid is known before it is trained) the encoder's token grid equal to the SiT's
 * `(resolution / VAE factor / patch)²` tokens.
 * @category models
 */
export function preflightRun(cfg: RunConfig, ds: Dataset): void {
  if (ds.length < cfg.batchSize) throw new ConfigError(`--batch-size ${cfg.batchSize}: the dataset ${ds.name} has only ${ds.length} images (a batch must not be larger than the dataset)`);
  if (ds.classes.length > cfg.numClasses) throw new ConfigError(`--num-classes ${cfg.numClasses}: the dataset ${ds.name} has ${ds.classes.length} classes (labels must be below --num-classes)`);
  const img = ds.load(0);
  if (img.width !== cfg.resolution || img.height !== cfg.resolution) throw new DataError(ds.source(0), `image is ${img.width}×${img.height}, the run expects ${cfg.resolution}×${cfg.resolution} (--resolution)`);
  if (cfg.encType === 'builtin') {
    const [h, w] = tinyCnnSpec({ widths: TINY_CNN_WIDTHS, numClasses: cfg.numClasses }).grid(cfg.resolution);
    const f = 2 ** (cfg.vaeChMult.length - 1), side = cfg.resolution / f / cfg.patchSize;
    if (h * w !== side * side)
      throw new ConfigError(`--enc-type builtin gives ${h}×${w} = ${h * w} tokens at --resolution ${cfg.resolution} (stride 8), but the SiT has (${cfg.resolution} / ${f} / --patch-size ${cfg.patchSize})² = ${side * side}: choose --vae-ch-mult and --patch-size so that VAE factor × patch = 8`);
  }
}

/** The step mode of a run: `vanilla` trains like `ldm` (frozen VAE), with the REPA coefficients at 0 ({@link runCoefficients}). @category optimizers */
export const runStepMode = (cfg: RunConfig): StepMode => (cfg.mode === 'repae-e' ? 'repae-e' : cfg.mode === 'naive-e2e' ? 'naive-e2e' : 'ldm');

/** The routing-table coefficients of a run from its flags (`--proj-coeff`, `--vae-align-proj-coeff`; both 0 in `vanilla` mode). @category losses */
export const runCoefficients = (cfg: RunConfig): Coefficients =>
  cfg.mode === 'vanilla' ? { projCoeff: 0, vaeAlignProjCoeff: 0 } : { projCoeff: cfg.projCoeff, vaeAlignProjCoeff: cfg.vaeAlignProjCoeff };

/** Derives the model configs and the step config from a run config. @category models */
export function setupRun(cfg: RunConfig, encoderDim: number): RunSetup {
  const vae = vaeConfig({ embedDim: cfg.vaeEmbedDim, ch: cfg.vaeCh, chMult: cfg.vaeChMult, resolution: cfg.resolution, attnResolutions: [] });
  const sit = customSitConfig({
    depth: cfg.sitDepth, hiddenSize: cfg.sitHidden, numHeads: cfg.sitHeads, patchSize: cfg.patchSize,
    inputSize: cfg.resolution / vaeDownsampling(vae), inChannels: cfg.vaeEmbedDim, encoderDepth: cfg.encoderDepth,
    zDims: [encoderDim], projectorDim: cfg.projectorDim, numClasses: cfg.numClasses, classDropoutProb: cfg.cfgProb,
    bnMomentum: cfg.bnMomentum, qkNorm: cfg.qkNorm,
  });
  const loss: VaeLossConfig = { ...L1_LPIPS_KL_GAN, klWeight: cfg.klWeight, perceptualWeight: cfg.perceptualWeight, discriminatorWeight: cfg.discWeight, discriminatorStart: cfg.discriminatorStart };
  const adam = (lr: number) => ({ lr, beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEpsilon, weightDecay: cfg.adamWeightDecay });
  const step: RepaeStepConfig = {
    objectives: { sit, loss, coeffs: runCoefficients(cfg), path: cfg.pathType },
    adam: { sit: adam(cfg.learningRate), vae: adam(cfg.vaeLearningRate), disc: adam(cfg.discLearningRate) },
    maxGradNorm: cfg.maxGradNorm,
    emaDecay: cfg.emaDecay,
    mode: runStepMode(cfg),
    weighting: cfg.weighting,
  };
  const [dataKey, stepKey] = split(mkKey(cfg.seed), 2) as [Key, Key];
  return { cfg, sit, vae, disc: { inputNc: 3, ndf: cfg.discNdf, nLayers: cfg.discLayers }, loss, step, dataKey, stepKey };
}

/** Host pixels and tensors of the batch a given global step trains on (a pure function of the data key and the step). @category io */
export interface StepBatch {
  /** Images in [−1, 1], `[N, H, W, 3]`. */
  readonly x: T<never>;
  /** Pixel values 0..255 as float32, `[N, H, W, 3]`. */
  readonly pixels: T<never>;
  readonly y: T<never>;
  /** Dataset indices of the items. */
  readonly indices: readonly number[];
}

/**
 * The batch of global step `step`: epoch order from the data key, drop-last. With `shard`, only
 * rows `[rank·bs/W, (rank+1)·bs/W)` of that global batch (data-parallel training).
 * @category io
 */
export function batchAt(ds: Dataset, setup: RunSetup, step: number, shard?: { readonly rank: number; readonly worldSize: number }): StepBatch {
  const global = setup.cfg.batchSize;
  const perEpoch = Math.floor(ds.length / global);
  if (perEpoch < 1) throw new ConfigError(`--batch-size ${global}: the dataset ${ds.name} has only ${ds.length} images (a batch must not be larger than the dataset)`);
  const epoch = Math.floor(step / perEpoch), b = step % perEpoch;
  const bs = shard === undefined ? global : global / shard.worldSize;
  const lo = b * global + (shard === undefined ? 0 : shard.rank * bs);
  const idx = epochOrder(ds.length, setup.dataKey, epoch).slice(lo, lo + bs);
  const r = setup.cfg.resolution;
  const px = new Float32Array(bs * r * r * 3);
  const labels = new Int32Array(bs);
  idx.forEach((i, j) => {
    const img = ds.load(i);
    if (img.width !== r || img.height !== r) throw new DataError(ds.source(i), `image is ${img.width}×${img.height}, the run expects ${r}×${r} (--resolution)`);
    px.set(img.data, j * r * r * 3);
    labels[j] = ds.label(i);
  });
  const pixels = mkTensor(px, [bs, r, r, 3]);
  return { pixels, x: tidy(() => sub(div(pixels, 127.5), 1)), y: intTensor(labels, [bs]), indices: idx };
}

/** The registry of the built-in encoder's pre-training: one trainable group. */
interface TinyEncoderFamilies extends Registry {
  readonly Frozen: never;
  readonly enc: TinyCnnParams<this['G']>;
}
const tinyEncoder = defineRegistry<TinyEncoderFamilies>({ groups: ['enc'], frozen: [] });
const tinyEncoderLoss = tinyEncoder.loss('ce', 'enc', (v, b: { readonly x: T<never>; readonly y: T<never> }) => [softmaxCrossEntropy(tinyCnnLogits(v.enc, b.x), b.y), {}] as const);

/**
 * Trains the built-in tiny CNN as a classifier on the run's data (Adam, cross-entropy) with the
 * library's own `valueAndGrad` and optimizer, then freezes it: the REPA target when no pretrained
 * encoder is available offline.
 */
export async function trainTinyEncoder(ds: Dataset, setup: RunSetup, steps: number, log: (s: string) => void): Promise<TinyCnnParams<never>> {
  let p = initTinyCnn(fold(setup.stepKey, 4242), { widths: TINY_CNN_WIDTHS, numClasses: Math.max(setup.cfg.numClasses, ds.classes.length) });
  const opt = adamw<TinyCnnParams<never>>({ lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-7, weightDecay: 0 });
  let state = opt.init(p);
  const grad = tinyEncoder.valueAndGrad(tinyEncoderLoss, 'enc');
  for (let s = 0; s < steps; s++) {
    const b = batchAt(ds, { ...setup, dataKey: fold(setup.dataKey, 17) }, s);
    const [loss, g] = grad({ enc: p }, { x: b.x, y: b.y });
    const [enc, next] = updateParams(opt, p, g.enc, state);
    if (s % 50 === 0 || s === steps - 1) {
      const accT = tidy(() => mean(cast(equal(argMax(tinyCnnLogits(p, b.x), -1), b.y), 'float32')));
      const acc = await readScalar(accT);
      dispose(accT);
      log(`  encoder step ${s + 1}/${steps}: loss ${(await readScalar(loss)).toFixed(3)}, batch accuracy ${(100 * acc).toFixed(0)}%`);
    }
    releaseOld([p, state, g, loss, b], [enc, next]);
    p = enc;
    state = next;
  }
  releaseOld(state, p);
  return p;
}
import { tinyCnnLogits } from '../models/encoders/tiny-cnn.js';

/** A built-in tiny CNN (the encoder's widths 32, 64, 64, 96) restored from checkpoint section `section` (F32 tensors by tree path); errors name the section and tensor. @category io */
export function tinyCnnFromSafe(file: SafeFile, numClasses: number, section: string): TinyCnnParams<never> {
  const like = initTinyCnn(mkKey(0), { widths: TINY_CNN_WIDTHS, numClasses });
  const shapes = flatten(like).map((l) => ({ path: l.path, shape: l.leaf?.shape ?? [] }));
  try {
    for (const { path, shape } of shapes) {
      const e = file.entries.get(path);
      if (e === undefined) throw new CheckpointError(`checkpoint section '${section}' has no tensor '${path}'`);
      if (e.dtype !== 'F32') throw new CheckpointError(`checkpoint section '${section}': tensor '${path}' is ${e.dtype}, expected F32`);
      if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) throw new CheckpointError(`checkpoint section '${section}': tensor '${path}' has shape [${e.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return unflatten(like, shapes.map(({ path }) => { const e = file.entries.get(path) as SafeEntry; return mkTensor(Float32Array.from(e.data), [...e.shape]); })) as TinyCnnParams<never>;
  } finally {
    releaseOld(like, null);
  }
}

/** The entries of a tree of float32 tensors by path (a checkpoint section: the built-in encoder, the judge). @category io */
export async function treeSection(tree: unknown): Promise<Map<string, SafeWriteEntry>> {
  const out = new Map<string, SafeWriteEntry>();
  await treeEntries(tree, '', out);
  return out;
}

/** Builds the encoder named by `cfg.encType`: `builtin` (trained here, or restored from `enc`), or `mobilenet:<dir>[:layer[:size]]`. @category models */
export async function buildEncoder(cfg: RunConfig, ds: Dataset, restored: SafeFile | undefined, log: (s: string) => void, encoderSteps = 300): Promise<RunEncoder> {
  if (cfg.encType === 'builtin') {
    const spec = tinyCnnSpec({ widths: TINY_CNN_WIDTHS, numClasses: cfg.numClasses });
    let params: TinyCnnParams<never>;
    let origin: string;
    if (restored !== undefined) {
      params = tinyCnnFromSafe(restored, Math.max(cfg.numClasses, ds.classes.length), 'enc');
      origin = 'built-in tiny CNN, restored from the checkpoint';
    } else {
      log('No pretrained representation encoder is available offline: training a small CNN classifier on the data first, then freezing it as the REPA target.');
      const setup = setupRun(cfg, spec.dim);
      params = await trainTinyEncoder(ds, setup, encoderSteps, log);
      origin = `built-in tiny CNN trained here for ${encoderSteps} steps as a ${ds.classes.length}-class classifier, then frozen`;
    }
    return { spec, features: (_px, x) => tinyCnnFeatures(params, x), weights: params as unknown as EncoderWeights<never>, origin };
  }
  if (cfg.encType.startsWith('mobilenet:')) {
    const [, dir, layer, size] = cfg.encType.split(':');
    const { params } = await loadMobilenet(dir as string);
    const opts = { layer: (layer ?? 'conv_pw_11_relu') as MobilenetLayer, ...(size === undefined ? {} : { size: Number(size) }) };
    const spec = mobilenetSpec(params, opts);
    return { spec, features: (px) => mobilenetFeatures(params, px, opts), weights: {}, origin: `MobileNet v1 (ImageNet weights from ${dir}), ${opts.layer} at ${size ?? 'default'} px, frozen` };
  }
  throw new ConfigError(`--enc-type '${cfg.encType}' is not supported here (use builtin or mobilenet:<dir>[:layer[:size]]; DINOv2 needs weights that are loaded via src/io/statedict/dinov2.ts)`);
}

/** Per-channel mean and 1/std of the initial VAE's latents over a few batches (official `init_bn(latents_scale, latents_bias)` convention). @category models */
export async function latentStats(vae: VaeParams<never>, ds: Dataset, setup: RunSetup, batches = 4): Promise<{ scale: Float32Array; bias: Float32Array }> {
  const zs: T<never>[] = [];
  for (let b = 0; b < batches; b++) {
    const batch = batchAt(ds, { ...setup, dataKey: fold(setup.dataKey, 31) }, b);
    zs.push(tidy(() => posteriorSample(vaeEncode(vae, batch.x), { key: fold(setup.stepKey, 1000 + b) })));
    dispose([batch.x, batch.pixels, batch.y]);
  }
  const [m, v] = tidy(() => {
    const mom = moments(concat(zs), [0, 1, 2]);
    return [mom.mean, mom.variance];
  });
  const mean = await read(m), variance = await read(v);
  dispose([m, v, ...zs]);
  return { bias: mean, scale: variance.map((x) => 1 / Math.sqrt(Math.max(x, 1e-12))) };
}

/** An empty LPIPS (used when the perceptual weight is 0: the loss never calls it). */
const noLpips = (): LpipsParams<never> => ({ net: { slices: [] }, lin: [], ...initLpipsScaling() });

/** Fresh run state: random-init SiT, VAE and discriminator, latent BN from the VAE's statistics, EMA = copy. @category models */
export async function initRunState(setup: RunSetup, ds: Dataset, enc: RunEncoder, log: (s: string) => void): Promise<RepaeState> {
  const [kSit, kVae, kDisc] = split(fold(setup.stepKey, 1), 3) as [Key, Key, Key];
  const w = initSit(kSit, setup.sit);
  let vae = initVae(kVae, setup.vae);
  let disc = initDiscriminator(kDisc, setup.disc);
  let discState = initDiscriminatorState(setup.disc);
  if (setup.cfg.initFrom !== '') {
    const { latest } = latestCheckpoint(setup.cfg.initFrom);
    if (latest === undefined) throw new ConfigError(`--init-from: no complete checkpoint in '${setup.cfg.initFrom}'`);
    const ck = loadCheckpoint(latest, { sections: ['vae', 'disc'] });
    for (const n of ['vae', 'disc']) requireDtypes(ck.sections[n] as SafeFile, `${latest.path}/${n}.safetensors`);
    releaseOld([vae, disc, discState], null);
    vae = vaeFromStateDict((ck.sections['vae'] as SafeFile).entries, setup.vae);
    const d = discriminatorFromStateDict((ck.sections['disc'] as SafeFile).entries, setup.disc);
    disc = d.params;
    discState = d.state;
    log(`VAE and discriminator initialised from ${latest.path}`);
  }
  const stats = await latentStats(vae, ds, setup);
  log(`latent statistics of the initial VAE: mean [${Array.from(stats.bias, (x) => x.toFixed(3)).join(', ')}], 1/std [${Array.from(stats.scale, (x) => x.toFixed(3)).join(', ')}]`);
  releaseOld(w.bn, null);
  const bn = latentBnFromStats(stats.scale, stats.bias);
  const lpips = setup.loss.perceptualWeight > 0 ? { net: proceduralVgg16(), lin: [64, 128, 256, 512, 512].map((c) => full([1, 1, c, 1], 1 / c)), ...initLpipsScaling() } : noLpips();
  if (setup.loss.perceptualWeight > 0) log('LPIPS: VGG16 backbone with procedural weights (the real VGG16 weights cannot be shipped); treat the perceptual term as a random-feature loss');
  const store = { sit: w.sit, proj: w.proj, vae, disc, lpips, enc: enc.weights };
  return { store, opt: initRepaeOpt(setup.step, store), bn, discState, ema: emaInit({ sit: w.sit, proj: w.proj, bn }), step: 0 };
}

const toWrite = (m: ReadonlyMap<string, { readonly dtype?: string; readonly shape: readonly number[]; readonly data: ArrayLike<number> }>): Map<string, SafeWriteEntry> =>
  new Map([...m].map(([k, e]) => [k, { dtype: (e.dtype ?? 'F32') as SafeWriteEntry['dtype'], shape: e.shape, data: e.data }]));

async function treeEntries(tree: unknown, prefix: string, out: Map<string, SafeWriteEntry>): Promise<void> {
  for (const l of flatten(tree)) if (l.leaf !== null) out.set(`${prefix}${l.path}`, { dtype: 'F32', shape: l.leaf.shape, data: await read(l.leaf) });
}

/**
 * Encodes any state tree (records, arrays, numbers, strings, booleans, null, float32 tensors) for a
 * checkpoint: each tensor becomes the entry `prefix + path` and `{ "$tensor": path }` in the JSON
 * skeleton that is returned, so optimizer state of any shape serialises without knowing it.
 * @category io
 */
export async function encodeState(x: unknown, path: string, out: Map<string, SafeWriteEntry>): Promise<Json> {
  const at = (k: string | number): string => (path === '' ? String(k) : `${path}.${k}`);
  if (x === null || typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean') return x;
  if (isTensor(x)) {
    if (x.dtype !== 'float32') throw new CheckpointError(`encodeState: tensor at '${path}' is ${x.dtype}, only float32 state is saved`);
    out.set(path, { dtype: 'F32', shape: x.shape, data: await read(x) });
    return { $tensor: path };
  }
  if (Array.isArray(x)) return Promise.all(x.map((v, i) => encodeState(v, at(i), out)));
  if (typeof x === 'object') {
    const o: Record<string, Json> = {};
    for (const [k, v] of Object.entries(x)) o[k] = await encodeState(v, at(k), out);
    return o;
  }
  throw new CheckpointError(`encodeState: unsupported ${typeof x} at '${path}'`);
}

/** The state tree encoded by {@link encodeState}, its tensors read from `file` (named `source` in errors). @category io */
export function decodeState(j: Json | undefined, file: SafeFile, source: string): unknown {
  if (j === undefined) throw new CheckpointError(`${source}: missing state`);
  if (j === null || typeof j !== 'object') return j;
  if (Array.isArray(j)) return j.map((v) => decodeState(v, file, source));
  const o = j as { readonly [k: string]: Json };
  const ref = o['$tensor'];
  if (typeof ref === 'string') {
    const e = file.entries.get(ref);
    if (e === undefined) throw new CheckpointError(`${source}: no tensor '${ref}' (the optimizer state refers to it)`);
    return mkTensor(Float32Array.from(e.data), [...e.shape]);
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decodeState(v, file, source)]));
}

/**
 * {@link decodeState} checked against `like`, a fresh state of the expected type (e.g.
 * `opt.init(params)`, which holds no tensors yet): the saved tree must have the same records (same
 * keys), arrays (same lengths) and scalar types; a tensor of `like` must be saved with its shape; a
 * `null` of `like` (a moment created lazily) may be saved as `null` or as a tensor. Each mismatch is
 * a {@link CheckpointError} naming the path and `source`.
 * @category io
 */
export function decodeStateLike<S>(like: S, j: Json | undefined, file: SafeFile, source: string): S {
  const isRef = (x: Json | undefined): x is { readonly $tensor: string } => typeof x === 'object' && x !== null && !Array.isArray(x) && typeof (x as { readonly [k: string]: Json })['$tensor'] === 'string';
  const fail = (path: string, what: string): never => {
    throw new CheckpointError(`${source}: optimizer state at '${path === '' ? '(root)' : path}': ${what}`);
  };
  const at = (path: string, k: string | number): string => (path === '' ? String(k) : `${path}.${k}`);
  const go = (l: unknown, x: Json | undefined, path: string): unknown => {
    if (x === undefined) return fail(path, 'missing');
    if (isTensor(l) || (l === null && isRef(x))) {
      if (!isRef(x)) return fail(path, `expected a tensor, found ${JSON.stringify(x).slice(0, 40)}`);
      const t = decodeState(x, file, source);
      if (isTensor(l) && isTensor(t) && t.shape.join() !== l.shape.join()) {
        dispose(t);
        return fail(path, `shape [${isTensor(t) ? t.shape : ''}], expected [${l.shape}]`);
      }
      return t;
    }
    if (l === null || typeof l === 'number' || typeof l === 'string' || typeof l === 'boolean') {
      if (x === null ? l !== null : typeof x !== typeof l) return fail(path, `expected ${l === null ? 'null' : typeof l}, found ${JSON.stringify(x).slice(0, 40)}`);
      return x;
    }
    if (Array.isArray(l)) {
      if (!Array.isArray(x) || x.length !== l.length) return fail(path, `expected an array of ${l.length}, found ${Array.isArray(x) ? `one of ${x.length}` : JSON.stringify(x).slice(0, 40)}`);
      return l.map((c: unknown, i) => go(c, x[i], at(path, i)));
    }
    if (typeof l === 'object') {
      if (x === null || typeof x !== 'object' || Array.isArray(x) || isRef(x)) return fail(path, `expected a record, found ${JSON.stringify(x).slice(0, 40)}`);
      const o = x as { readonly [k: string]: Json };
      const extra = Object.keys(o).filter((k) => !(k in l));
      if (extra.length > 0) return fail(path, `unexpected key(s) ${extra.join(', ')}`);
      return Object.fromEntries(Object.entries(l).map(([k, c]) => [k, go(c, o[k], at(path, k))]));
    }
    return fail(path, `unsupported ${typeof l} in the expected state`);
  };
  return go(like, j, '') as S;
}

/** The checkpoint format this version writes; {@link loadRunCheckpoint} also reads {@link RUN_FORMAT_V2}. @category io */
export const RUN_FORMAT = 'repae-run-3';
/** The previous format: the same sections, but each optimizer label's AdamW state a list in flatten order (`inner.<label>.2.<i>`) beside the leaf labels. @category io */
export const RUN_FORMAT_V2 = 'repae-run-2';

/**
 * The optimizer state of a {@link RUN_FORMAT_V2} checkpoint (`{labels, inner: {label: [null, clip, AdamLeafState[]]}}`)
 * in the {@link RUN_FORMAT} layout (`{label: [null, clip, AdamW state by parameter path]}`); the tensors
 * keep their saved names.
 */
function optStateFromV2(j: Json | undefined, params: RepaeParams, source: string): Json {
  const obj = (x: Json | undefined): x is { readonly [k: string]: Json } => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!obj(j) || !obj(j['inner'])) throw new CheckpointError(`${source}: a ${RUN_FORMAT_V2} optimizer state needs 'inner'`);
  const inner = j['inner'];
  const out: Record<string, Json> = {};
  for (const l of new Set(Object.values(REPAE_LABELS))) {
    const groups = (Object.keys(REPAE_LABELS) as RepaeTrainable[]).filter((g) => REPAE_LABELS[g] === l);
    const sub: Partial<Record<RepaeTrainable, unknown>> = Object.fromEntries(groups.map((g) => [g, params[g]]));
    const old = inner[l];
    if (!Array.isArray(old) || old.length !== 3 || !Array.isArray(old[2])) throw new CheckpointError(`${source}: ${RUN_FORMAT_V2} optimizer state 'inner.${l}' is not [mean, clip, adam[]]`);
    const adam: readonly Json[] = old[2];
    const n = flatten(sub).length;
    if (adam.length !== n) throw new CheckpointError(`${source}: ${RUN_FORMAT_V2} optimizer state 'inner.${l}' has AdamW state for ${adam.length} parameters, the model's ${groups.join(' + ')} have ${n}`);
    out[l] = [old[0] ?? null, old[1] ?? null, leafTree(sub, adam) as Json];
  }
  return out;
}

/** The `vae` and `disc` checkpoint sections of a run state (official state-dict names; what `--init-from` reads). @category io */
export const vaeDiscSections = async (s: Pick<RepaeState, 'store' | 'discState'>): Promise<{ vae: Map<string, SafeWriteEntry>; disc: Map<string, SafeWriteEntry> }> =>
  ({ vae: toWrite(await vaeToStateDict(s.store.vae)), disc: toWrite(await discriminatorToStateDict(s.store.disc, s.discState)) });

/** Writes a complete, atomic checkpoint of the run (official names for sit/ema/vae/disc). @category io */
export async function saveRunCheckpoint(runDir: string, s: RepaeState, setup: RunSetup, enc: RunEncoder, extra: JsonObject = {}): Promise<string> {
  const opt = new Map<string, SafeWriteEntry>();
  const optState = await encodeState(s.opt, '', opt);
  const sections: Record<string, Map<string, SafeWriteEntry>> = {
    sit: await sitToStateDict({ sit: s.store.sit, proj: s.store.proj, bn: s.bn }, setup.sit),
    ema: await sitToStateDict(s.ema, setup.sit),
    ...(await vaeDiscSections(s)),
    opt,
  };
  if (setup.cfg.encType === 'builtin') sections['enc'] = await treeSection(enc.weights);
  const info = saveCheckpoint(runDir, s.step, sections as CheckpointSections, { format: RUN_FORMAT, config: setup.cfg as unknown as JsonObject, optState, encoder: enc.origin, ...extra }, { keepLast: setup.cfg.keepCheckpoints });
  return info.path;
}

/** The latest complete checkpoint of a run directory, loaded into a run state (or undefined). @category io */
export function loadRunCheckpoint(runDir: string, setup: RunSetup, enc: RunEncoder, log: (s: string) => void): { state: RepaeState; json: JsonObject } | undefined {
  const { latest, skipped } = latestCheckpoint(runDir);
  for (const k of skipped) log(`skipping incomplete checkpoint ${k.path}: ${k.reason}`);
  if (latest === undefined) return undefined;
  const ck = loadCheckpoint(latest, { verify: true });
  const sec = (n: string): SafeFile => {
    const f = ck.sections[n];
    if (f === undefined) throw new CheckpointError(`checkpoint ${latest.path} has no section '${n}'`);
    requireDtypes(f, `${latest.path}/${n}.safetensors`);
    return f;
  };
  const w: SitWeights = sitFromStateDict(sec('sit').entries, setup.sit, { source: `${latest.path}/sit.safetensors` });
  const ema: SitWeights = sitFromStateDict(sec('ema').entries, setup.sit, { source: `${latest.path}/ema.safetensors` });
  const vae = vaeFromStateDict(sec('vae').entries, setup.vae);
  const disc = discriminatorFromStateDict(sec('disc').entries, setup.disc);
  const lpips = setup.loss.perceptualWeight > 0 ? { net: proceduralVgg16(), lin: [64, 128, 256, 512, 512].map((c) => full([1, 1, c, 1], 1 / c)), ...initLpipsScaling() } : noLpips();
  const store = { sit: w.sit, proj: w.proj, vae, disc: disc.params, lpips, enc: enc.weights };
  if (ck.state['optState'] === undefined)
    throw new CheckpointError(`checkpoint ${latest.path} (format ${String(ck.state['format'])}) has no 'optState': it was written by an older repae with per-group optimizer state; start a new run (or --force)`);
  const source = `${latest.path}/opt.safetensors`;
  const params = { sit: store.sit, proj: store.proj, vae: store.vae, disc: store.disc };
  const format = ck.state['format'];
  if (format !== RUN_FORMAT && format !== RUN_FORMAT_V2) throw new CheckpointError(`checkpoint ${latest.path} has format ${JSON.stringify(format)}; this repae reads ${RUN_FORMAT} and ${RUN_FORMAT_V2}`);
  const saved = format === RUN_FORMAT_V2 ? optStateFromV2(ck.state['optState'], params, source) : ck.state['optState'];
  const opt = decodeStateLike(initRepaeOpt(setup.step, store), saved, sec('opt'), source);
  return { state: { store, opt, bn: w.bn, discState: disc.state, ema, step: ck.step }, json: ck.state };
}

/** Checks the encoder's token grid against the SiT before training starts. @category models */
export const checkEncoderTokens = (enc: RunEncoder, setup: RunSetup): void => checkTokenMatch(enc.spec, setup.cfg.resolution, sitTokens(setup.sit));

/**
 * Per-item cache of values computed from a batch by a frozen function (rows of `[N, ...]` tensors,
 * kept in memory as Float32Arrays): each dataset item is stored on first use (a batch with any new
 * item is computed whole), and batches of cached items are assembled from the cache. Valid because
 * the data path has no augmentation.
 * @category models
 */
export class ItemCache {
  private readonly entries = new Map<number, readonly Float32Array[]>();
  private shapes: readonly (readonly number[])[] = [];
  /** `compute(b)`: the values of batch `b`, one tensor per output, each with the batch as its first axis. */
  constructor(private readonly compute: (b: StepBatch) => readonly T<never>[]) {}
  /** Number of cached items. */
  get size(): number { return this.entries.size; }
  /** The outputs for a batch (computes the items not cached yet). */
  async batch(b: StepBatch): Promise<T<never>[]> {
    const missing = b.indices.map((i, j) => [i, j] as const).filter(([i]) => !this.entries.has(i));
    if (missing.length > 0) {
      const outs = tidy(() => [...this.compute(b)]);
      const vals = await Promise.all(outs.map((o) => read(o)));
      this.shapes = outs.map((o) => o.shape.slice(1));
      dispose(outs);
      const per = vals.map((v) => v.length / b.indices.length);
      for (const [i, j] of missing) this.entries.set(i, vals.map((v, k) => Float32Array.from(v.subarray(j * (per[k] as number), (j + 1) * (per[k] as number)))));
    }
    const n = b.indices.length;
    return this.shapes.map((shape, k) => {
      const per = shape.reduce((a, c) => a * c, 1), out = new Float32Array(n * per);
      b.indices.forEach((i, j) => out.set((this.entries.get(i) as readonly Float32Array[])[k] as Float32Array, j * per));
      return mkTensor(out, [n, ...shape]);
    });
  }
}

/**
 * Latent cache of a frozen VAE (official `cache_latents.py`, kept in memory): the posterior mean and
 * std of each dataset item, computed once on first use; a step then samples `z = mean + std·ε`.
 * @category models
 */
export class LatentCache {
  private readonly cache: ItemCache;
  constructor(vae: VaeParams<never>) {
    this.cache = new ItemCache((b) => {
      const p = vaeEncode(vae, b.x);
      return [p.mean, p.std];
    });
  }
  /** Number of cached items. */
  get size(): number { return this.cache.size; }
  /** Mean and std tensors `[N, h, w, E]` for a batch (encodes the items not cached yet). */
  async batch(b: StepBatch): Promise<{ readonly mean: T<never>; readonly std: T<never> }> {
    const [mean, std] = await this.cache.batch(b);
    if (mean === undefined || std === undefined) throw new Error('LatentCache: the VAE encoder returned no mean/std');
    return { mean, std };
  }
}
