/** @file AutoencoderKL parameter records (mirroring the official module tree) and their fresh initialisation. */
import { fold, type Key } from '../../core/rng.js';
import { initConv2d, type Conv2dParams } from '../../nn/conv.js';
import { initGroupNorm, type GroupNormParams } from '../../nn/group-norm.js';
import { decoderLevelHasAttn, encoderLevelHasAttn, type VaeConfig } from './config.js';

/**
 * A `ResnetBlock(in, out)`: GroupNorm → swish → 3×3 conv, twice, plus a 1×1 `ninShortcut` when
 * `in ≠ out` (official `nin_shortcut`).
 * @category models
 */
export interface ResnetBlockParams<G extends string> {
  readonly norm1: GroupNormParams<G>;
  readonly conv1: Conv2dParams<G>;
  readonly norm2: GroupNormParams<G>;
  readonly conv2: Conv2dParams<G>;
  readonly ninShortcut?: Conv2dParams<G>;
}

/** A single-head spatial self-attention `AttnBlock(c)`: GroupNorm, 1×1 convs `q, k, v, projOut`. @category models */
export interface AttnBlockParams<G extends string> {
  readonly norm: GroupNormParams<G>;
  readonly q: Conv2dParams<G>;
  readonly k: Conv2dParams<G>;
  readonly v: Conv2dParams<G>;
  readonly projOut: Conv2dParams<G>;
}

/** A `Downsample` / `Upsample` module: its 3×3 conv (official `…sample.conv`). @category models */
export interface ResampleParams<G extends string> {
  readonly conv: Conv2dParams<G>;
}

/** The mid block: `block1` → `attn1` → `block2` (official `mid.block_1`, `mid.attn_1`, `mid.block_2`). @category models */
export interface MidParams<G extends string> {
  readonly block1: ResnetBlockParams<G>;
  readonly attn1: AttnBlockParams<G>;
  readonly block2: ResnetBlockParams<G>;
}

/** One encoder level (official `encoder.down.{l}`): res blocks, optional attention per block, optional downsample. @category models */
export interface EncoderLevelParams<G extends string> {
  readonly block: readonly ResnetBlockParams<G>[];
  readonly attn: readonly AttnBlockParams<G>[];
  readonly downsample?: ResampleParams<G>;
}

/** One decoder level (official `decoder.up.{l}`, indexed by level; applied from `L−1` down to 0). @category models */
export interface DecoderLevelParams<G extends string> {
  readonly block: readonly ResnetBlockParams<G>[];
  readonly attn: readonly AttnBlockParams<G>[];
  readonly upsample?: ResampleParams<G>;
}

/** The encoder (official `Encoder`): `convIn`, levels `down`, `mid`, `normOut`, `convOut` (→ `2E` channels). @category models */
export interface EncoderParams<G extends string> {
  readonly convIn: Conv2dParams<G>;
  readonly down: readonly EncoderLevelParams<G>[];
  readonly mid: MidParams<G>;
  readonly normOut: GroupNormParams<G>;
  readonly convOut: Conv2dParams<G>;
}

/** The decoder (official `Decoder`): `convIn` (E → top width), `mid`, levels `up` (by level index), `normOut`, `convOut` (→ 3). @category models */
export interface DecoderParams<G extends string> {
  readonly convIn: Conv2dParams<G>;
  readonly mid: MidParams<G>;
  readonly up: readonly DecoderLevelParams<G>[];
  readonly normOut: GroupNormParams<G>;
  readonly convOut: Conv2dParams<G>;
}

/**
 * All parameters of an `AutoencoderKL`: encoder, decoder, `quantConv` (1×1, `2E → 2E`) and
 * `postQuantConv` (1×1, `E → E`). Generic in the group tag, so `VaeParams<'vae'>` is the live view
 * and `VaeParams<never>` the stored one.
 * @category models
 */
export interface VaeParams<G extends string> {
  readonly encoder: EncoderParams<G>;
  readonly decoder: DecoderParams<G>;
  readonly quantConv: Conv2dParams<G>;
  readonly postQuantConv: Conv2dParams<G>;
}

/** Deterministic per-module keys: `next()` folds a running counter into the root key. */
function keyStream(key: Key): () => Key {
  let i = 0;
  return () => fold(key, i++);
}

function initResnet(next: () => Key, inCh: number, outCh: number): ResnetBlockParams<never> {
  const base = {
    norm1: initGroupNorm(inCh),
    conv1: initConv2d(next(), { inCh, outCh, kernel: 3 }),
    norm2: initGroupNorm(outCh),
    conv2: initConv2d(next(), { inCh: outCh, outCh, kernel: 3 }),
  };
  return inCh === outCh ? base : { ...base, ninShortcut: initConv2d(next(), { inCh, outCh, kernel: 1 }) };
}

function initAttn(next: () => Key, c: number): AttnBlockParams<never> {
  const conv1x1 = (): Conv2dParams<never> => initConv2d(next(), { inCh: c, outCh: c, kernel: 1 });
  return { norm: initGroupNorm(c), q: conv1x1(), k: conv1x1(), v: conv1x1(), projOut: conv1x1() };
}

const initMid = (next: () => Key, c: number): MidParams<never> => ({
  block1: initResnet(next, c, c),
  attn1: initAttn(next, c),
  block2: initResnet(next, c, c),
});

/**
 * Fresh VAE parameters with PyTorch's default initialisation (convs `U(±1/√fan_in)`, GroupNorm
 * `w = 1, b = 0`), structured as the official module tree for `cfg`. Official:
 * `AutoencoderKL(embed_dim, ch_mult)` (no custom init).
 *
 * @example
 * const p = initVae(rng.key(0), F8D4)   // 83,653,863 parameters
 * @category constructors
 */
export function initVae(key: Key, cfg: VaeConfig): VaeParams<never> {
  const next = keyStream(key);
  const L = cfg.chMult.length;
  const width = (l: number): number => cfg.ch * (cfg.chMult[l] as number);

  // Encoder (registration order: conv_in, down, mid, norm_out, conv_out).
  const encConvIn = initConv2d(next(), { inCh: cfg.inChannels, outCh: cfg.ch, kernel: 3 });
  const down: EncoderLevelParams<never>[] = [];
  let blockIn = cfg.ch;
  for (let l = 0; l < L; l++) {
    const block: ResnetBlockParams<never>[] = [];
    const attn: AttnBlockParams<never>[] = [];
    for (let i = 0; i < cfg.numResBlocks; i++) {
      block.push(initResnet(next, blockIn, width(l)));
      blockIn = width(l);
      if (encoderLevelHasAttn(cfg, l)) attn.push(initAttn(next, blockIn));
    }
    down.push(
      l === L - 1
        ? { block, attn }
        : { block, attn, downsample: { conv: initConv2d(next(), { inCh: blockIn, outCh: blockIn, kernel: 3 }) } },
    );
  }
  const encoder: EncoderParams<never> = {
    convIn: encConvIn,
    down,
    mid: initMid(next, blockIn),
    normOut: initGroupNorm(blockIn),
    convOut: initConv2d(next(), { inCh: blockIn, outCh: 2 * cfg.embedDim, kernel: 3 }),
  };

  // Decoder (registration order: conv_in, mid, up, norm_out, conv_out; up built from L−1 down to 0).
  blockIn = width(L - 1);
  const decConvIn = initConv2d(next(), { inCh: cfg.embedDim, outCh: blockIn, kernel: 3 });
  const decMid = initMid(next, blockIn);
  const up: DecoderLevelParams<never>[] = new Array<DecoderLevelParams<never>>(L);
  for (let l = L - 1; l >= 0; l--) {
    const block: ResnetBlockParams<never>[] = [];
    const attn: AttnBlockParams<never>[] = [];
    for (let i = 0; i < cfg.numResBlocks + 1; i++) {
      block.push(initResnet(next, blockIn, width(l)));
      blockIn = width(l);
      if (decoderLevelHasAttn(cfg, l)) attn.push(initAttn(next, blockIn));
    }
    up[l] =
      l === 0
        ? { block, attn }
        : { block, attn, upsample: { conv: initConv2d(next(), { inCh: blockIn, outCh: blockIn, kernel: 3 }) } };
  }
  const decoder: DecoderParams<never> = {
    convIn: decConvIn,
    mid: decMid,
    up,
    normOut: initGroupNorm(blockIn),
    convOut: initConv2d(next(), { inCh: blockIn, outCh: cfg.outCh, kernel: 3 }),
  };

  return {
    encoder,
    decoder,
    quantConv: initConv2d(next(), { inCh: 2 * cfg.embedDim, outCh: 2 * cfg.embedDim, kernel: 1 }),
    postQuantConv: initConv2d(next(), { inCh: cfg.embedDim, outCh: cfg.embedDim, kernel: 1 }),
  };
}
