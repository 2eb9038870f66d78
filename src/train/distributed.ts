/**
 * @file Data-parallel REPA-E training (as the official accelerate/DDP run), over a {@link Collective}:
 *
 * - **Shards**: rank r trains on rows `[r·B/W, (r+1)·B/W)` of global batch `step` (the global batch
 *   is the single-process one: same epoch order, so deterministic and resumable at any step).
 * - **Gradients**: each group's gradients are mean-reduced over the ranks before that group's
 *   clipping (DDP averages gradients in backward; the official code clips afterwards).
 * - **BatchNorm**: the SiT's latent BN is a SyncBatchNorm (official: `convert_sync_batchnorm` on the
 *   SiT): train-mode statistics over the global batch, running statistics therefore identical on
 *   all ranks. The discriminator's BN is NOT synced (official: plain DDP): each rank normalises with
 *   its own shard's statistics; its running buffers follow rank 0 (DDP `broadcast_buffers`), which
 *   is what rank 0 checkpoints. They never enter a computation (the discriminator stays in train mode).
 * - **Initial state**: rank 0's state (fresh or resumed) is broadcast to every rank before step 1.
 * - **RNG**: `global` (default): the per-sample randomness (posterior ε, t, diffusion noise, label
 *   dropout) of the whole global batch is drawn from the run key and the step exactly as a single
 *   process would, and each rank takes its rows — keyed by global sample index, so the run does not
 *   depend on the number of ranks and equals the single-process run up to float summation order.
 *   `per-rank` (official `seed + rank`): each rank draws its own streams from the run key with its
 *   rank folded in.
 * - **Writes**: rank 0 writes config, metrics (means over the ranks), samples and atomic checkpoints.
 * @category optimizers
 */
import { fold, normalArray, split, uniformArray, type Key } from '../core/rng.js';
import { releaseOld } from '../core/scope.js';
import { tensor } from '../core/ops/create.js';
import type { Collective } from '../collective/index.js';
import type { Dataset } from '../data/dataset.js';
import { sampleTimeArray } from '../models/sit/interpolant.js';
import { batchAt, type RunSetup, type StepBatch } from './run.js';
import type { RepaeInject, RepaeState, RepaeStepConfig, StepParallel } from '../repae/step.js';

/** How ranks draw randomness (see the file comment). @category optimizers */
export type DistRng = 'global' | 'per-rank';

/** What {@link trainLoop} needs to run one rank of a data-parallel job. @category optimizers */
export interface LoopParallel {
  readonly rank: number;
  readonly worldSize: number;
  /** Rank 0: writes config, metrics, samples and checkpoints. */
  readonly writer: boolean;
  /** The step config with the gradient-reduction and SyncBatchNorm hooks. */
  readonly stepConfig: RepaeStepConfig;
  /** The key handed to the step (per-rank mode folds the rank in). */
  readonly stepKey: Key;
  /** Rank 0's state on every rank (disposes the local tensors it replaces). */
  syncState(s: RepaeState): Promise<RepaeState>;
  /** This rank's shard of global batch `step`. */
  batch(data: Dataset, setup: RunSetup, step: number): StepBatch;
  /** Randomness injected into the step (global mode: this rank's rows of the global draws). */
  inject(step: number): RepaeInject;
  /** Metric means over the ranks. */
  reduceMetrics(vals: Record<string, number>): Promise<Record<string, number>>;
}

/** The step hooks over a collective (synchronous c10d calls, bounded by its timeout). @category optimizers */
export function stepParallel(c: Collective): StepParallel {
  return {
    reduceGradients: (grads) => c.allReduceSync([...grads], 'mean'),
    bnSync: { worldSize: c.worldSize, sum: (x) => c.allReduceSync(x, 'sum') },
  };
}

/** The per-sample randomness of rows `[lo, hi)` of global batch `step`, drawn as `repaeStep` draws it for the whole batch. @category optimizers */
export function globalBatchNoise(setup: RunSetup, step: number, lo: number, hi: number): RepaeInject {
  const n = setup.cfg.batchSize, sit = setup.sit, per = sit.inputSize * sit.inputSize * sit.inChannels;
  const [kPost, kT, kNoise, kDrop] = split(fold(setup.stepKey, step), 4) as [Key, Key, Key, Key];
  const lat = [hi - lo, sit.inputSize, sit.inputSize, sit.inChannels];
  const rows = (a: Float64Array, w: number): Float32Array => Float32Array.from(a.subarray(lo * w, hi * w));
  return {
    posteriorEps: tensor(rows(normalArray(kPost, n * per), per), lat),
    t: tensor(rows(sampleTimeArray(kT, n, setup.step.weighting ?? 'uniform', setup.step.objectives.path), 1), [hi - lo, 1, 1, 1]),
    noise: tensor(rows(normalArray(kNoise, n * per), per), lat),
    // sitObjective hands kDrop to sitLosses, which splits it in three: the third draws the label-dropout uniforms.
    labelDropRand: tensor(rows(uniformArray(split(kDrop, 3)[2] as Key, n), 1), [hi - lo]),
  };
}

/** One rank of a data-parallel run over `c` (throws on a configuration the scheme cannot serve). @category optimizers */
export function loopParallel(c: Collective, setup: RunSetup, rng: DistRng = 'global'): LoopParallel {
  const w = c.worldSize, r = c.rank, bs = setup.cfg.batchSize;
  if (bs % w !== 0) throw new Error(`--batch-size ${bs} is not divisible by the number of ranks ${w} (--nproc / WORLD_SIZE)`);
  if (setup.step.mode === 'naive-e2e') throw new Error('--mode naive-e2e is single-process only: its diffusion loss differentiates the VAE through the latent BatchNorm, which SyncBatchNorm here does not');
  const per = bs / w;
  return {
    rank: r, worldSize: w, writer: r === 0,
    stepConfig: { ...setup.step, parallel: stepParallel(c) },
    stepKey: rng === 'per-rank' ? fold(setup.stepKey, r) : setup.stepKey,
    syncState: async (s) => {
      const [step] = await reduceNumbers(c, [r === 0 ? s.step : 0], 'sum');
      if (step !== s.step) throw new Error(`rank ${r} is at step ${s.step} but rank 0 at step ${step}: every rank must see the same run directory (its checkpoints) — use a filesystem all machines share, or copy rank 0's checkpoints`);
      const { enc, lpips, ...trained } = s.store;
      const part = { store: trained, opt: s.opt, bn: s.bn, discState: s.discState, ema: s.ema };
      const got = await c.broadcast(part, 0);
      releaseOld(part, null);
      return { ...s, ...got, store: { ...got.store, enc, lpips } };
    },
    batch: (data, su, step) => batchAt(data, su, step, { rank: r, worldSize: w }),
    inject: (step) => (rng === 'global' ? globalBatchNoise(setup, step, r * per, (r + 1) * per) : {}),
    reduceMetrics: async (vals) => {
      const keys = Object.keys(vals).sort();
      const out = await reduceNumbers(c, keys.map((k) => vals[k] as number), 'mean');
      return Object.fromEntries(keys.map((k, i) => [k, out[i] as number]));
    },
  };
}

async function reduceNumbers(c: Collective, xs: readonly number[], op: 'sum' | 'mean'): Promise<number[]> {
  const buf = Float32Array.from(xs);
  await c.allReduceBuffers([buf], op);
  return Array.from(buf);
}

/**
 * The collective of a torchrun-style launch (RANK, WORLD_SIZE, … set; `REPAE_DIST_RNG`
 * global|per-rank), or undefined for a single process.
 * @category optimizers
 */
export async function parallelFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Promise<{ readonly collective: Collective; readonly rng: DistRng } | undefined> {
  const { collectiveFromEnv, distEnv } = await import('../collective/index.js');
  if (distEnv(env).worldSize === 1) return undefined;
  const rng = env['REPAE_DIST_RNG'] ?? 'global';
  if (rng !== 'global' && rng !== 'per-rank') throw new Error(`environment variable REPAE_DIST_RNG='${rng}' must be global or per-rank`);
  return { collective: await collectiveFromEnv(env), rng };
}
