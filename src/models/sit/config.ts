/** @file SiT configurations: the official size table (S/B/L/XL × patch 1/2/4/8) and custom variants. */

/**
 * Constructor arguments of the SiT backbone with REPA projectors and latent BatchNorm
 * (official `models/sit.py` `SiT(...)`; defaults as in `train_repae.py`).
 *
 * There is no `decoderHiddenSize`: the final layer's width is always `hiddenSize`. The official
 * constructor has a separate `decoder_hidden_size` (default 768) that the size constructors never
 * override, so the official SiT-S (`hidden 384`) builds a final layer whose LayerNorm expects 768
 * channels and fails on its first forward (spec §10.16). Our SiT-S uses width 384 throughout,
 * i.e. what `decoder_hidden_size = hidden_size` would give.
 * @category models
 */
export interface SitConfig {
  /** Latent spatial size `H = W` (`input_size`; the trainer passes `resolution // 8` or `// 16`). */
  readonly inputSize: number;
  /** Patch size `p` (`patch_size`). */
  readonly patchSize: number;
  /** Latent channels `C` (`in_channels`; output channels are the same, no learned sigma). */
  readonly inChannels: number;
  /** Transformer width `D` (`hidden_size`). */
  readonly hiddenSize: number;
  /** Number of SiT blocks (`depth`). */
  readonly depth: number;
  /** Attention heads (`num_heads`); `head_dim = D / heads`. */
  readonly numHeads: number;
  /** MLP expansion (`mlp_ratio`, 4.0); MLP width `⌊D · mlpRatio⌋`. */
  readonly mlpRatio: number;
  /** 1-based index of the block whose output feeds the projectors (`encoder_depth`). */
  readonly encoderDepth: number;
  /** Label-dropout probability in train mode (`class_dropout_prob`); > 0 adds a null-class row. */
  readonly classDropoutProb: number;
  /** Number of classes (`num_classes`); the null class is `numClasses`. */
  readonly numClasses: number;
  /** One projector per representation encoder, output width = encoder width (`z_dims`). */
  readonly zDims: readonly number[];
  /** Hidden width of the projectors (`projector_dim`, 2048). */
  readonly projectorDim: number;
  /** Momentum of the latent BatchNorm (`bn_momentum`, 0.1). */
  readonly bnMomentum: number;
  /** LayerNorm on q and k in every attention layer (`qk_norm`). */
  readonly qkNorm: boolean;
}

/** Epsilon of the latent BatchNorm (`BatchNorm2d(C, eps=1e-4, affine=False)`). @category models */
export const SIT_BN_EPS = 1e-4;
/** Epsilon of the block and final-layer LayerNorms (`eps=1e-6`, no affine). @category models */
export const SIT_LN_EPS = 1e-6;
/** Width of the sinusoidal timestep features (`frequency_embedding_size`). @category models */
export const SIT_FREQ_DIM = 256;

/** Name of an official size. @category models */
export type SitSize = 'S' | 'B' | 'L' | 'XL';
/** Name of an official registered constructor (`SiT-XL/2`, …). @category models */
export type SitName = `SiT-${SitSize}/${1 | 2 | 4 | 8}`;

/**
 * The official size table (spec §2.1): depth, width and heads of SiT-S/B/L/XL (head dim 64, 64,
 * 64, 72).
 * @category models
 */
export const SIT_SIZES: { readonly [K in SitSize]: { readonly depth: number; readonly hiddenSize: number; readonly numHeads: number } } = {
  S: { depth: 12, hiddenSize: 384, numHeads: 6 },
  B: { depth: 12, hiddenSize: 768, numHeads: 12 },
  L: { depth: 24, hiddenSize: 1024, numHeads: 16 },
  XL: { depth: 28, hiddenSize: 1152, numHeads: 16 },
};

/** The constructor defaults shared by every size (`train_repae.py` defaults, 256 px, SD-VAE). @category models */
export const SIT_DEFAULTS: Omit<SitConfig, 'depth' | 'hiddenSize' | 'numHeads' | 'patchSize'> = {
  inputSize: 32,
  inChannels: 4,
  mlpRatio: 4,
  encoderDepth: 8,
  classDropoutProb: 0.1,
  numClasses: 1000,
  zDims: [768],
  projectorDim: 2048,
  bnMomentum: 0.1,
  qkNorm: false,
};

/**
 * An official configuration by name, with optional overrides (e.g. the f16d32 latents:
 * `sitConfig('SiT-XL/1', { inChannels: 32, inputSize: 16 })`). Validated by {@link validateSitConfig}.
 *
 * @example
 * const cfg = sitConfig('SiT-XL/2')                       // 28 blocks, D = 1152, 256 tokens
 * @category models
 */
export function sitConfig(name: SitName, over: Partial<SitConfig> = {}): SitConfig {
  const m = /^SiT-(S|B|L|XL)\/(1|2|4|8)$/.exec(name);
  if (m === null) throw new RangeError(`unknown SiT model '${name}' (use SiT-{S,B,L,XL}/{1,2,4,8})`);
  const size = SIT_SIZES[m[1] as SitSize];
  return validateSitConfig({ ...SIT_DEFAULTS, ...size, patchSize: Number(m[2]), ...over });
}

/**
 * A custom configuration: the defaults overridden by `cfg` (sizes must be given), validated.
 *
 * @example
 * const tiny = customSitConfig({ depth: 4, hiddenSize: 64, numHeads: 4, patchSize: 2, inputSize: 8,
 *   encoderDepth: 2, zDims: [32], projectorDim: 128 })
 * @category models
 */
export function customSitConfig(
  cfg: Pick<SitConfig, 'depth' | 'hiddenSize' | 'numHeads' | 'patchSize'> & Partial<SitConfig>,
): SitConfig {
  return validateSitConfig({ ...SIT_DEFAULTS, ...cfg });
}

/** Tokens per image, `(H/p)²`. @category models */
export const sitTokens = (cfg: SitConfig): number => (cfg.inputSize / cfg.patchSize) ** 2;
/** MLP hidden width, `⌊D · mlpRatio⌋` (timm `Mlp(hidden_features=int(D * mlp_ratio))`). @category models */
export const sitMlpHidden = (cfg: SitConfig): number => Math.floor(cfg.hiddenSize * cfg.mlpRatio);
/** Rows of the label table: `numClasses + 1` when label dropout is on, else `numClasses`. @category models */
export const sitLabelRows = (cfg: SitConfig): number => cfg.numClasses + (cfg.classDropoutProb > 0 ? 1 : 0);

/**
 * Checks a configuration and returns it: positive integer sizes, `D` divisible by the heads and by
 * 4 (2-D sin-cos table), input divisible by the patch, `1 ≤ encoderDepth ≤ depth`, at least one
 * projector. Throws a `RangeError` naming the field.
 * @category models
 */
export function validateSitConfig(cfg: SitConfig): SitConfig {
  const posInt = (k: keyof SitConfig): void => {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new RangeError(`SitConfig.${k} must be a positive integer (got ${String(v)})`);
  };
  for (const k of ['inputSize', 'patchSize', 'inChannels', 'hiddenSize', 'depth', 'numHeads', 'encoderDepth', 'numClasses', 'projectorDim'] as const) posInt(k);
  if (cfg.hiddenSize % cfg.numHeads !== 0) throw new RangeError(`SitConfig: hiddenSize ${cfg.hiddenSize} is not divisible by numHeads ${cfg.numHeads}`);
  if (cfg.hiddenSize % 4 !== 0) throw new RangeError(`SitConfig: hiddenSize ${cfg.hiddenSize} must be divisible by 4 (2-D sin-cos positional embedding)`);
  if (cfg.inputSize % cfg.patchSize !== 0) throw new RangeError(`SitConfig: inputSize ${cfg.inputSize} is not divisible by patchSize ${cfg.patchSize}`);
  if (cfg.encoderDepth > cfg.depth) throw new RangeError(`SitConfig: encoderDepth ${cfg.encoderDepth} exceeds depth ${cfg.depth}`);
  if (cfg.zDims.length === 0 || !cfg.zDims.every((z) => Number.isInteger(z) && z > 0)) throw new RangeError(`SitConfig.zDims must be non-empty positive integers (got [${cfg.zDims.join(', ')}])`);
  if (!(cfg.mlpRatio > 0)) throw new RangeError(`SitConfig.mlpRatio must be > 0 (got ${cfg.mlpRatio})`);
  if (!(cfg.classDropoutProb >= 0 && cfg.classDropoutProb < 1)) throw new RangeError(`SitConfig.classDropoutProb must be in [0, 1) (got ${cfg.classDropoutProb})`);
  if (!(cfg.bnMomentum >= 0 && cfg.bnMomentum <= 1)) throw new RangeError(`SitConfig.bnMomentum must be in [0, 1] (got ${cfg.bnMomentum})`);
  return cfg;
}
