/** @file SiT parameter records (backbone, REPA projectors, latent BatchNorm state) and the official initialisation. */
import { ones, tensor, zeros } from '../../core/ops/create.js';
import { fold, normalArray, type Key } from '../../core/rng.js';
import type { T } from '../../core/tensor.js';
import { initAttention, type AttentionParams } from '../../nn/attention.js';
import type { BatchNormConfig, BatchNormState } from '../../nn/batch-norm.js';
import { initLinear, type LinearParams } from '../../nn/linear.js';
import { initMlp, type MlpParams } from '../../nn/mlp.js';
import { SIT_BN_EPS, SIT_FREQ_DIM, sitLabelRows, sitMlpHidden, validateSitConfig, type SitConfig } from './config.js';
import { sincosPosEmbed } from './embed.js';

/**
 * One adaLN-Zero SiT block: attention, MLP and the modulation `SiLU → Linear(D → 6D)` whose output
 * chunks are `shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp`.
 * @category models
 */
export interface SitBlockParams<G extends string> {
  readonly attn: AttentionParams<G>;
  readonly mlp: MlpParams<G>;
  /** Official `adaLN_modulation.1` (`[6D, D]`). */
  readonly adaLN: LinearParams<G>;
}

/** The timestep MLP `Linear(256 → D) → SiLU → Linear(D → D)` (official `t_embedder.mlp.0/.2`). @category models */
export interface TimestepEmbedderParams<G extends string> {
  readonly fc1: LinearParams<G>;
  readonly fc2: LinearParams<G>;
}

/** The label table `[numClasses + 1, D]` (last row = null class; official `y_embedder.embedding_table`). @category models */
export interface LabelEmbedderParams<G extends string> {
  readonly table: T<G>;
}

/**
 * The final layer: modulation `SiLU → Linear(D → 2D)` (chunks `shift, scale`) and the output
 * projection `Linear(D → p·p·C)`, per token in `(p_row, p_col, c)` order.
 * @category models
 */
export interface FinalLayerParams<G extends string> {
  /** Official `final_layer.adaLN_modulation.1` (`[2D, D]`). */
  readonly adaLN: LinearParams<G>;
  /** Official `final_layer.linear` (`[p·p·C, D]`). */
  readonly linear: LinearParams<G>;
}

/**
 * The SiT backbone's parameters (group `'sit'`), every leaf tagged `G`.
 *
 * - `posEmbed: [1, T, D]` — the fixed 2-D sin-cos table. It is a **parameter leaf** on purpose:
 *   the official model creates it with `requires_grad=False`, but `train_repae.py` calls
 *   `requires_grad(model, True)` before the SiT update, so in REPA-E it gets a gradient, counts in
 *   the grad-norm clipping and is updated by AdamW and the EMA (the golden step does so).
 * - `xEmbedder` — the patch embedding `Conv2d(C → D, kernel = stride = p)` stored as a linear map
 *   over flattened patches: `w: [D, p·p·C]` with columns in `(p_row, p_col, c)` order (channel
 *   fastest, matching NHWC patches; the state-dict map permutes from the conv's `[D, C, p, p]`).
 * @category models
 */
export interface SitParams<G extends string> {
  readonly posEmbed: T<G>;
  readonly xEmbedder: LinearParams<G>;
  readonly tEmbedder: TimestepEmbedderParams<G>;
  readonly yEmbedder: LabelEmbedderParams<G>;
  readonly blocks: readonly SitBlockParams<G>[];
  readonly finalLayer: FinalLayerParams<G>;
}

/**
 * One REPA projector (group `'proj'`): `Linear(D → P) → SiLU → Linear(P → P) → SiLU →
 * Linear(P → z_dim)` (official `projectors.{k}.0/.2/.4`).
 * @category models
 */
export interface ProjParams<G extends string> {
  readonly fc1: LinearParams<G>;
  readonly fc2: LinearParams<G>;
  readonly fc3: LinearParams<G>;
}

/** The projectors of all encoders, in encoder order (the `'proj'` group's record). @category models */
export type Projectors<G extends string> = readonly ProjParams<G>[];

/**
 * Everything an official SiT checkpoint holds, at rest: backbone, projectors and the latent
 * BatchNorm buffers.
 * @category models
 */
export interface SitWeights {
  readonly sit: SitParams<never>;
  readonly proj: Projectors<never>;
  readonly bn: BatchNormState;
}

/** The latent BatchNorm's hyper-parameters for a config (eps 1e-4, `bnMomentum`). @category models */
export const sitBnConfig = (cfg: SitConfig): BatchNormConfig => ({ eps: SIT_BN_EPS, momentum: cfg.bnMomentum });

/** Fresh latent BatchNorm buffers (mean 0, var 1, no batches seen). @category constructors */
export const initLatentBn = (channels: number): BatchNormState => ({
  runningMean: zeros([channels]),
  runningVar: ones([channels]),
  numBatchesTracked: 0,
});

/**
 * Latent BatchNorm buffers from dataset latent statistics: `running_mean = bias`,
 * `running_var = (1/scale)²` (convention `bias` = mean, `scale` = 1/std; `[C]` each).
 * Official: `SiT.init_bn(latents_scale, latents_bias)`.
 * @category constructors
 */
export function latentBnFromStats(latentsScale: ArrayLike<number>, latentsBias: ArrayLike<number>): BatchNormState {
  if (latentsScale.length !== latentsBias.length)
    throw new RangeError(`latentBnFromStats: scale has ${latentsScale.length} channels, bias ${latentsBias.length}`);
  const v = Float32Array.from(latentsScale, (s) => (1 / s) ** 2);
  return { runningMean: tensor(Float32Array.from(latentsBias), [latentsBias.length]), runningVar: tensor(v, [v.length]), numBatchesTracked: 0 };
}

const normalTensor = (key: Key, shape: readonly number[], std: number): T<never> =>
  tensor(Float32Array.from(normalArray(key, shape.reduce((a, b) => a * b, 1)), (v) => v * std), shape);

/** Fresh projector parameters `D → P → P → z_dim` (Xavier-uniform weights, zero biases). @category constructors */
export function initProjector(key: Key, hidden: number, projectorDim: number, zDim: number): ProjParams<never> {
  return {
    fc1: initLinear(fold(key, 0), hidden, projectorDim),
    fc2: initLinear(fold(key, 2), projectorDim, projectorDim),
    fc3: initLinear(fold(key, 4), projectorDim, zDim),
  };
}

/**
 * A freshly initialised SiT, following the official `initialize_weights` (spec §2.4):
 * every Linear Xavier-uniform with zero bias (blocks, projectors, embedder MLP, final layer), the
 * fixed sin-cos `pos_embed`, the patch embedding Xavier-uniform over `[D, C·p·p]` with zero bias,
 * label table `N(0, 0.02)`, timestep-MLP weights `N(0, 0.02)`, and zero for every block's and the
 * final layer's adaLN modulation and the final linear — so a fresh SiT outputs exactly 0. The latent
 * BatchNorm starts at mean 0 / var 1 (set it with {@link latentBnFromStats}). Every leaf has its
 * own key folded from `key`; PyTorch's random stream is not reproduced.
 *
 * @example
 * const { sit, proj, bn } = initSit(rng.key(0), sitConfig('SiT-B/2'))
 * @category constructors
 */
export function initSit(key: Key, cfg: SitConfig): SitWeights {
  validateSitConfig(cfg);
  const d = cfg.hiddenSize, p = cfg.patchSize, c = cfg.inChannels;
  const grid = cfg.inputSize / p;
  const blocks: SitBlockParams<never>[] = [];
  for (let i = 0; i < cfg.depth; i++) {
    const kb = fold(fold(key, 100), i);
    blocks.push({
      attn: initAttention(fold(kb, 0), { dim: d, numHeads: cfg.numHeads, qkNorm: cfg.qkNorm }),
      mlp: initMlp(fold(kb, 1), d, sitMlpHidden(cfg)),
      adaLN: initLinear(fold(kb, 2), d, 6 * d, 'zeros'),
    });
  }
  const sit: SitParams<never> = {
    posEmbed: sincosPosEmbed(d, grid),
    xEmbedder: initLinear(fold(key, 1), p * p * c, d),
    tEmbedder: {
      fc1: initLinear(fold(key, 2), SIT_FREQ_DIM, d, { normalStd: 0.02 }),
      fc2: initLinear(fold(key, 3), d, d, { normalStd: 0.02 }),
    },
    yEmbedder: { table: normalTensor(fold(key, 4), [sitLabelRows(cfg), d], 0.02) },
    blocks,
    finalLayer: {
      adaLN: initLinear(fold(key, 5), d, 2 * d, 'zeros'),
      linear: initLinear(fold(key, 6), d, p * p * c, 'zeros'),
    },
  };
  const proj = cfg.zDims.map((z, k) => initProjector(fold(fold(key, 200), k), d, cfg.projectorDim, z));
  return { sit, proj, bn: initLatentBn(c) };
}
