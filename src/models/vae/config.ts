/** @file AutoencoderKL configurations: the official presets (f8d4, f16d32) and custom (narrow) variants. */

/**
 * Constructor arguments of the LDM-style KL autoencoder (official `models/autoencoder.py`:
 * `AutoencoderKL(embed_dim, ch_mult)` with the `Encoder`/`Decoder` defaults below).
 *
 * Attention blocks sit inside level `l` when `resolution / 2^l` is in `attnResolutions`; the
 * `resolution` is the *nominal* size (256), not the size of the images actually fed in, exactly as
 * in the official code.
 * @category models
 */
export interface VaeConfig {
  /** Latent channels `E` (`embed_dim`, also the encoder/decoder `z_channels`). */
  readonly embedDim: number;
  /** Base width (official default 128). */
  readonly ch: number;
  /** Width multiplier per level; the number of levels is its length (downsampling `2^(L−1)`). */
  readonly chMult: readonly number[];
  /** Res blocks per encoder level (the decoder has one more). Official default 2. */
  readonly numResBlocks: number;
  /** Nominal resolutions at which levels carry attention blocks. Official default `[16]`. */
  readonly attnResolutions: readonly number[];
  /** Nominal input resolution (official default 256). */
  readonly resolution: number;
  /** Image channels in (3). */
  readonly inChannels: number;
  /** Image channels out (3). */
  readonly outCh: number;
}

const defaults = { ch: 128, numResBlocks: 2, attnResolutions: [16], resolution: 256, inChannels: 3, outCh: 3 } as const;

/**
 * The SD-VAE structure (`f8d4`): `E = 4`, `ch_mult = [1, 2, 4, 4]`, 8× downsampling, no attention
 * inside the levels; 83,653,863 parameters, 248 state-dict entries.
 * @category models
 */
export const F8D4: VaeConfig = { ...defaults, embedDim: 4, chMult: [1, 2, 4, 4] };

/**
 * The IN-VAE / VA-VAE structure (`f16d32`): `E = 32`, `ch_mult = [1, 1, 2, 2, 4]`, 16×
 * downsampling, attention after every res block of the 16×16 level; 69,836,067 parameters.
 * @category models
 */
export const F16D32: VaeConfig = { ...defaults, embedDim: 32, chMult: [1, 1, 2, 2, 4] };

/** The official presets by name. @category models */
export const vaePresets = { f8d4: F8D4, f16d32: F16D32 } as const;

/** Name of an official preset. @category models */
export type VaePreset = keyof typeof vaePresets;

/**
 * A custom configuration: the official defaults overridden by `over` (e.g. the narrow golden
 * fixture `{ embedDim: 4, ch: 32, chMult: [1, 1, 1, 2] }`).
 *
 * @example
 * const cfg = vaeConfig({ embedDim: 4, ch: 32, chMult: [1, 1, 1, 2] })
 * @category models
 */
export function vaeConfig(over: Partial<VaeConfig> & Pick<VaeConfig, 'embedDim' | 'chMult'>): VaeConfig {
  const cfg: VaeConfig = { ...defaults, ...over };
  if (cfg.chMult.length < 1) throw new Error('vaeConfig: chMult must have at least one level');
  for (const m of cfg.chMult) if ((cfg.ch * m) % 32 !== 0) throw new Error(`vaeConfig: width ${cfg.ch * m} is not divisible into 32 GroupNorm groups`);
  return cfg;
}

/** Number of levels `L` (`len(ch_mult)`). @category models */
export const vaeLevels = (cfg: VaeConfig): number => cfg.chMult.length;

/** Spatial downsampling factor `2^(L−1)`. @category models */
export const vaeDownsampling = (cfg: VaeConfig): number => 2 ** (cfg.chMult.length - 1);

/** Whether encoder level `l` carries attention blocks (nominal resolution `resolution / 2^l`). @category models */
export const encoderLevelHasAttn = (cfg: VaeConfig, level: number): boolean =>
  cfg.attnResolutions.includes(Math.floor(cfg.resolution / 2 ** level));

/**
 * Whether decoder level `l` carries attention blocks. The decoder starts at
 * `resolution / 2^(L−1)` at level `L−1` and doubles per level, so level `l` has the same nominal
 * resolution `resolution / 2^(L−1) · 2^(L−1−l)` as the encoder's level `l`.
 * @category models
 */
export const decoderLevelHasAttn = (cfg: VaeConfig, level: number): boolean =>
  cfg.attnResolutions.includes(Math.floor(cfg.resolution / 2 ** (cfg.chMult.length - 1)) * 2 ** (cfg.chMult.length - 1 - level));
