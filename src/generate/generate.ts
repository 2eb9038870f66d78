/**
 * @file Sample generation (official `generate.py`, spec §7.3): N samples from the SiT with a chosen
 * sampler and classifier-free guidance, decoded through the latent statistics and the VAE,
 * converted to uint8 by truncation, written batch by batch into a work directory (so an interrupted
 * run resumes where it stopped), then assembled into an ADM-layout `.npz` (`arr_0`, uint8 NHWC)
 * and a PNG grid.
 */
import { toTensor } from '../core/tensor.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fold, key as rngKey, normal, uniformArray, type Key } from '../core/rng.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { writeFileAtomic } from '../io/atomic.js';
import { openNpz, readNpz, writeNpz } from '../io/npz.js';
import { imageGrid, imagesToUint8 } from '../io/png.js';
import type { SitConfig } from '../models/sit/config.js';
import { sitLabelRows } from '../models/sit/config.js';
import type { PathType } from '../models/sit/interpolant.js';
import type { SitParams } from '../models/sit/params.js';
import { vaeDecode } from '../models/vae/index.js';
import { vaeDownsampling, type VaeConfig } from '../models/vae/config.js';
import type { VaeParams } from '../models/vae/params.js';
import { sitVelocityModel, type GuidanceOptions, type SamplerProgress } from '../sample/cfg.js';
import { eulerSampler } from '../sample/euler.js';
import { eulerMaruyamaSampler } from '../sample/sde.js';
import { denormalizeLatents, type LatentStats } from './models.js';

/** The samplers of `generate.py`: Euler or Heun ODE (`--mode ode [--heun]`), Euler–Maruyama SDE (`--mode sde`). @category samplers */
export type SamplerName = 'euler' | 'heun' | 'sde';

/** How labels are chosen: uniformly at random from the key (official), or class-balanced (`j mod numClasses`). @category samplers */
export type LabelMode = 'random' | 'balanced';

/** The models {@link generate} samples with. @category samplers */
export interface GenerateModels {
  /** SiT backbone (normally the EMA weights). */
  readonly sit: SitParams<never>;
  readonly sitCfg: SitConfig;
  readonly vae: VaeParams<never>;
  readonly vaeCfg: VaeConfig;
  /** Decoding statistics (`z/scale + bias`), from the EMA BatchNorm. */
  readonly stats: LatentStats;
}

/** Options of {@link generate}. Defaults follow `generate.py` where it has one. @category samplers */
export interface GenerateOptions {
  /** Number of samples N. */
  readonly numSamples: number;
  /** Samples per batch (default 16). Part of the result: samples depend on it. */
  readonly batchSize?: number;
  /** Seed of the run key (default 0). Batch `b` draws from `fold(key(seed), b)`. */
  readonly seed?: number;
  /** `random` (default, official), `balanced`, or explicit labels (N of them). */
  readonly labels?: LabelMode | ArrayLike<number>;
  /** Sampler (default `euler`). */
  readonly sampler?: SamplerName;
  /** Sampler steps (default 50; the README evaluation uses SDE with 250). */
  readonly numSteps?: number;
  /** CFG scale (default 1 = off), active for `guidanceLow ≤ t ≤ guidanceHigh` (default [0, 1]). */
  readonly cfgScale?: number;
  readonly guidanceLow?: number;
  readonly guidanceHigh?: number;
  /** Interpolant path for the SDE score (default `linear`). */
  readonly pathType?: PathType;
  /** Output directory: `<outDir>/<name>.npz`, `<outDir>/<name>.png`, work dir `<outDir>/<name>.work/`. */
  readonly outDir: string;
  /** Base name (default `samples`). */
  readonly name?: string;
  /** Samples in the PNG grid (default min(N, 64)); 0 writes no grid. */
  readonly gridSize?: number;
  /** Images per grid row (default ⌈√gridSize⌉). */
  readonly gridRow?: number;
  /** Keep the per-batch files after assembling (default false). */
  readonly keepWork?: boolean;
  /**
   * Progress as a callback: called once with the label, the total and the images already on disk,
   * it returns the sink that is told the images done so far (the CLI passes its progress bar;
   * default or false: no progress).
   */
  readonly progress?: false | ((start: { readonly label: string; readonly total: number; readonly initial: number }) => ProgressSink);
  /** Identifies the models in the work-dir manifest (a resume with other models is refused). */
  readonly source?: string;
  /** Called after every batch written (or found) on disk. */
  readonly onBatch?: (e: { readonly batch: number; readonly numBatches: number; readonly reused: boolean }) => void;
}

/** Where {@link generate} reports its progress (the CLI's progress bar is one). @category utility types */
export interface ProgressSink {
  /** Sets the images done (may be fractional) and a note (e.g. `batch 2/5 step 12/50`). */
  readonly update: (done: number, note?: string) => void;
  /** Ends the progress with a note. */
  readonly finish: (note?: string) => void;
}

/** What {@link generate} did. @category samplers */
export interface GenerateResult {
  readonly npz: string;
  readonly grid: string | undefined;
  readonly workDir: string;
  readonly numSamples: number;
  /** Image shape `[N, H, W, 3]` of `arr_0`. */
  readonly shape: readonly [number, number, number, number];
  readonly labels: Int32Array;
  readonly numBatches: number;
  /** Batches sampled in this call. */
  readonly sampled: number;
  /** Batches found complete in the work dir and reused. */
  readonly reused: number;
  readonly seconds: number;
}

/** Error about generation settings or a work directory, naming the option or file. @category samplers */
export class GenerateError extends Error {
  override readonly name = 'GenerateError';
}

const MANIFEST = 'manifest.json';
const batchFile = (dir: string, b: number): string => join(dir, `batch-${String(b).padStart(6, '0')}.npz`);

/**
 * The labels of batch `b` (`size` samples starting at global index `start`): class-balanced
 * `j mod numClasses`, or uniform `⌊u·numClasses⌋` with `u` from `fold(batchKey, 1)` (official
 * `torch.randint(0, num_classes)`).
 * @category samplers
 */
export function batchLabels(mode: LabelMode, batchKey: Key, start: number, size: number, numClasses: number): Int32Array {
  if (mode === 'balanced') return Int32Array.from({ length: size }, (_, i) => (start + i) % numClasses);
  const u = uniformArray(fold(batchKey, 1), size);
  return Int32Array.from(u, (v) => Math.min(numClasses - 1, Math.floor(v * numClasses)));
}

interface Plan {
  readonly n: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly labels: LabelMode | 'explicit';
  readonly sampler: SamplerName;
  readonly numSteps: number;
  readonly cfgScale: number;
  readonly guidanceLow: number;
  readonly guidanceHigh: number;
  readonly pathType: PathType;
  readonly latent: readonly number[];
  readonly image: readonly number[];
  readonly source: string;
}

function validate(o: GenerateOptions, m: GenerateModels): Plan {
  const bad = (what: string, v: unknown, want: string): never => {
    throw new GenerateError(`generate: ${what} must be ${want}, got ${JSON.stringify(v)}`);
  };
  const n = o.numSamples, bs = o.batchSize ?? 16, steps = o.numSteps ?? 50, sampler = o.sampler ?? 'euler';
  if (!(Number.isInteger(n) && n >= 1)) bad('numSamples', n, 'a positive integer');
  if (!(Number.isInteger(bs) && bs >= 1)) bad('batchSize', bs, 'a positive integer');
  if (!['euler', 'heun', 'sde'].includes(sampler)) bad('sampler', sampler, 'euler, heun or sde');
  if (!(Number.isInteger(steps) && steps >= (sampler === 'sde' ? 2 : 1))) bad('numSteps', steps, sampler === 'sde' ? 'an integer ≥ 2 for the SDE sampler' : 'a positive integer');
  const scale = o.cfgScale ?? 1, low = o.guidanceLow ?? 0, high = o.guidanceHigh ?? 1;
  if (!(scale >= 1)) bad('cfgScale', scale, '≥ 1 (generate.py asserts cfg_scale >= 1)');
  if (!(low >= 0 && high <= 1 && low <= high)) bad('guidance interval', [low, high], '0 ≤ low ≤ high ≤ 1');
  if (scale > 1 && sitLabelRows(m.sitCfg) !== m.sitCfg.numClasses + 1)
    throw new GenerateError('generate: cfgScale > 1 needs a null class, but the SiT was trained without label dropout (cfgProb = 0)');
  const labels = o.labels ?? 'random';
  if (typeof labels === 'string') {
    if (labels !== 'random' && labels !== 'balanced') bad('labels', labels, "'random', 'balanced' or an array");
  } else {
    if (labels.length !== n) bad('labels', `${labels.length} labels`, `${n} labels (one per sample)`);
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i] as number;
      if (!(Number.isInteger(y) && y >= 0 && y < m.sitCfg.numClasses)) bad(`labels[${i}]`, y, `an integer class in [0, ${m.sitCfg.numClasses})`);
    }
  }
  if (m.stats.scale.length !== m.sitCfg.inChannels) throw new GenerateError(`generate: latent stats have ${m.stats.scale.length} channels, the SiT ${m.sitCfg.inChannels}`);
  const f = vaeDownsampling(m.vaeCfg), s = m.sitCfg.inputSize;
  return {
    n, batchSize: bs, seed: o.seed ?? 0, labels: typeof labels === 'string' ? labels : 'explicit', sampler, numSteps: steps,
    cfgScale: scale, guidanceLow: low, guidanceHigh: high, pathType: o.pathType ?? 'linear',
    latent: [s, s, m.sitCfg.inChannels], image: [s * f, s * f, 3], source: o.source ?? '',
  };
}

/** Checks (or creates) the work directory's manifest; a different plan is an error naming the field. */
function openWorkDir(dir: string, plan: Plan): void {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, MANIFEST);
  if (existsSync(p)) {
    const old = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(plan)) {
      if (JSON.stringify(old[k]) !== JSON.stringify(v))
        throw new GenerateError(
          `${p}: this work directory was started with ${k} = ${JSON.stringify(old[k])}, now ${JSON.stringify(v)}; delete ${dir} or choose another --name/--out to start over`,
        );
    }
    return;
  }
  writeFileAtomic(p, new TextEncoder().encode(`${JSON.stringify({ format: 'repae-samples-work/1', ...plan }, null, 1)}\n`));
}

/** Reads a finished batch file, or undefined when it is missing or unreadable (then it is redone). */
function readBatch(file: string, size: number, image: readonly number[]): { images: Uint8Array; labels: Int32Array } | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const a = readNpz(new Uint8Array(readFileSync(file)), file);
    const im = a.get('images'), lb = a.get('labels');
    if (im === undefined || lb === undefined) return undefined;
    if (im.shape.join() !== [size, ...image].join() || lb.data.length !== size) return undefined;
    return { images: im.data as Uint8Array, labels: Int32Array.from(lb.data as ArrayLike<number>) };
  } catch {
    return undefined;
  }
}

/**
 * Samples one batch: `xT ~ N(0, I)` from `fold(batchKey, 0)`, the sampler, then
 * `vae.decode(x0/scale + bias)` → uint8 NHWC (truncation, as `generate.py`).
 */
async function sampleBatch(
  m: GenerateModels,
  plan: Plan,
  batchKey: Key,
  labels: Int32Array,
  onStep: (p: SamplerProgress) => void,
): Promise<Uint8Array> {
  const [h, w, c] = plan.latent as [number, number, number];
  const model = sitVelocityModel(m.sit, m.sitCfg);
  const guidance: GuidanceOptions = { scale: plan.cfgScale, low: plan.guidanceLow, high: plan.guidanceHigh };
  const xT = normal(fold(batchKey, 0), [labels.length, h, w, c]);
  let x0: T<never> | undefined, img: T<never> | undefined;
  try {
    if (plan.sampler === 'sde')
      x0 = await eulerMaruyamaSampler(model, xT, labels, { numSteps: plan.numSteps, guidance, path: plan.pathType, key: fold(batchKey, 2), onStep });
    else x0 = await eulerSampler(model, xT, labels, { numSteps: plan.numSteps, heun: plan.sampler === 'heun', guidance, onStep });
    const z = x0;
    img = tidy(() => vaeDecode(m.vae, denormalizeLatents(z, m.stats)));
    return (await imagesToUint8(toTensor(img))).data;
  } finally {
    dispose([xT, x0, img]);
  }
}

/**
 * Generates `numSamples` images (official `generate.py`): for each batch `b`, noise and labels
 * from `fold(key(seed), b)`, the chosen sampler (Euler/Heun ODE or Euler–Maruyama SDE, with CFG on
 * `[guidanceLow, guidanceHigh]`), decoding `vae.decode(x0/latents_scale + latents_bias)` and the
 * truncating uint8 conversion. Each batch is written to `<outDir>/<name>.work/batch-NNNNNN.npz`
 * (atomically) before the next starts; a rerun with the same settings reuses the finished batches.
 * At the end the batches are assembled into `<outDir>/<name>.npz` (`arr_0`: uint8 `[N, H, W, 3]`,
 * plus `labels`: int32 `[N]`) and a PNG grid `<outDir>/<name>.png`, and the work dir is removed
 * unless `keepWork`. Leaves the live tensor count unchanged.
 *
 * @example
 * const r = await generate(models, { numSamples: 64, sampler: 'sde', numSteps: 250, cfgScale: 1.8, guidanceHigh: 0.7, outDir: 'samples' })
 * r.npz   // samples/samples.npz
 * @category samplers
 */
export async function generate(m: GenerateModels, opts: GenerateOptions): Promise<GenerateResult> {
  const t0 = performance.now();
  const plan = validate(opts, m);
  const name = opts.name ?? 'samples';
  mkdirSync(opts.outDir, { recursive: true });
  const npz = join(opts.outDir, `${name}.npz`);
  const workDir = join(opts.outDir, `${name}.work`);
  openWorkDir(workDir, plan);
  const nb = Math.ceil(plan.n / plan.batchSize);
  const root = rngKey(plan.seed);
  const numClasses = m.sitCfg.numClasses;
  const explicit = typeof opts.labels === 'object' ? Int32Array.from(opts.labels) : undefined;
  const sizeOf = (b: number): number => Math.min(plan.batchSize, plan.n - b * plan.batchSize);
  const done = new Set<number>();
  for (let b = 0; b < nb; b++) if (readBatch(batchFile(workDir, b), sizeOf(b), plan.image) !== undefined) done.add(b);
  const reusedSamples = [...done].reduce((s, b) => s + sizeOf(b), 0);
  const bar = opts.progress === false || opts.progress === undefined ? undefined : opts.progress({ label: `sample ${name}`, total: plan.n, initial: reusedSamples });
  let finished = reusedSamples, sampled = 0;
  for (let b = 0; b < nb; b++) {
    if (done.has(b)) {
      opts.onBatch?.({ batch: b, numBatches: nb, reused: true });
      continue;
    }
    const size = sizeOf(b), start = b * plan.batchSize, bk = fold(root, b);
    const labels = explicit !== undefined ? explicit.subarray(start, start + size) : batchLabels(plan.labels as LabelMode, bk, start, size, numClasses);
    const images = await sampleBatch(m, plan, bk, labels, (p) => bar?.update(finished + (size * p.step) / p.numSteps, `batch ${b + 1}/${nb} step ${p.step}/${p.numSteps}`));
    writeNpz(batchFile(workDir, b), {
      images: { dtype: 'uint8', shape: [size, ...plan.image], data: images },
      labels: { dtype: 'int32', shape: [size], data: Int32Array.from(labels) },
    });
    finished += size;
    sampled++;
    bar?.update(finished, `batch ${b + 1}/${nb}`);
    opts.onBatch?.({ batch: b, numBatches: nb, reused: false });
  }
  bar?.finish(`${sampled} batch(es) sampled, ${done.size} reused`);

  // Assemble: arr_0 (uint8 NHWC, the ADM layout, first member as np.savez writes it), then the labels.
  const [H, W] = plan.image as [number, number, number];
  const allLabels = new Int32Array(plan.n);
  const gridSize = Math.min(plan.n, opts.gridSize ?? 64);
  const gridData = new Uint8Array(gridSize * H * W * 3);
  const writer = openNpz(npz);
  try {
    writer.begin('arr_0', 'uint8', [plan.n, H, W, 3]);
    for (let b = 0; b < nb; b++) {
      const r = readBatch(batchFile(workDir, b), sizeOf(b), plan.image);
      if (r === undefined) throw new GenerateError(`${batchFile(workDir, b)}: batch file vanished or is damaged during assembly; rerun to redo it`);
      writer.write(r.images);
      const off = b * plan.batchSize;
      allLabels.set(r.labels, off);
      if (off < gridSize) gridData.set(r.images.subarray(0, Math.min(r.images.length, (gridSize - off) * H * W * 3)), off * H * W * 3);
    }
    writer.begin('labels', 'int32', [plan.n]);
    const lb = new Uint8Array(4 * plan.n), dv = new DataView(lb.buffer);
    allLabels.forEach((y, i) => dv.setInt32(4 * i, y, true));
    writer.write(lb);
  } catch (e) {
    writer.abort();
    throw e;
  }
  writer.close();
  let grid: string | undefined;
  if (gridSize > 0) {
    grid = join(opts.outDir, `${name}.png`);
    const nrow = opts.gridRow ?? Math.ceil(Math.sqrt(gridSize));
    writeFileAtomic(grid, await imageGrid({ data: gridData, shape: [gridSize, H, W, 3] }, { nrow }));
  }
  if (opts.keepWork !== true) rmSync(workDir, { recursive: true, force: true });
  return {
    npz, grid, workDir, numSamples: plan.n, shape: [plan.n, H, W, 3], labels: allLabels, numBatches: nb, sampled, reused: done.size,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Lists the finished batch files of a work directory (for tools and tests). @category samplers */
export const finishedBatches = (workDir: string): string[] =>
  existsSync(workDir) ? readdirSync(workDir).filter((f) => /^batch-\d{6}\.npz$/.test(f)).sort() : [];
